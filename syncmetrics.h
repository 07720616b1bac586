/* syncmetrics.h: roamsync's figures, written for node_exporter's textfile
 * collector (roamsync -p). */
/* SPDX-License-Identifier: ISC */
#ifndef SYNCMETRICS_H
#define SYNCMETRICS_H

#include <stdint.h>

#include "promfile.h"

/* Written at least this often, and at most once a second. */
#define SYNCMETRICS_EVERY_MS 60000
#define SYNCMETRICS_MIN_MS 1000

struct syncmetrics {
	int on; /* -p given */
	struct promfile pf;
	int connected, behind;
	uint64_t push_ms, pull_ms; /* since the epoch; 0: not yet */
	uint64_t lag_ms;
	uint64_t resyncs;
	int changed, failing;
	uint64_t written_at; /* monotonic ms; 0: never */
};

void syncmetrics_note(struct syncmetrics *m, uint64_t *field, uint64_t v);
void syncmetrics_flag(struct syncmetrics *m, int *field, int v);
uint64_t syncmetrics_due(const struct syncmetrics *m);
void syncmetrics_write(struct syncmetrics *m, int dirfd, uint64_t now);

#endif

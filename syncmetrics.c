/* syncmetrics.c: roamsync's figures, written for node_exporter's textfile
 * collector (roamsync -p). */
/* SPDX-License-Identifier: ISC */
#include <stddef.h>

#include "log.h"
#include "promfmt.h"
#include "roamdir.h"
#include "stats.h"
#include "syncmetrics.h"

#define P "checkpw_roam_roamsync_"

/* A figure set; a change is written within a second. */
void
syncmetrics_note(struct syncmetrics *m, uint64_t *field, uint64_t v)
{
	if (*field != v)
		m->changed = 1;
	*field = v;
}

void
syncmetrics_flag(struct syncmetrics *m, int *field, int v)
{
	if (*field != v)
		m->changed = 1;
	*field = v;
}

/* When the file is due next (monotonic ms); UINT64_MAX without -p. */
uint64_t
syncmetrics_due(const struct syncmetrics *m)
{
	if (!m->on)
		return UINT64_MAX;
	if (!m->written_at)
		return 0;
	return m->written_at +
	       (m->changed ? SYNCMETRICS_MIN_MS : SYNCMETRICS_EVERY_MS);
}

static void
gauge(struct promfmt *p, const char *name, const char *help, uint64_t v)
{
	promfmt_head(p, name, "gauge", help);
	promfmt_value(p, name, v);
}

static void
format(const struct syncmetrics *m, int dirfd, struct promfmt *p)
{
	struct stats_file sf;
	size_t out = 0, sending = 0;

	gauge(p, P "connected", "1 while connected to the database.",
	      (uint64_t)m->connected);
	gauge(p, P "behind", "1 while a merge of pulled rows is retried.",
	      (uint64_t)m->behind);
	promfmt_head(p, P "last_push_timestamp_seconds", "gauge",
		     "Last push of this host's changes, since the epoch; 0: "
		     "none yet.");
	promfmt_ms(p, P "last_push_timestamp_seconds", m->push_ms);
	promfmt_head(p, P "last_pull_timestamp_seconds", "gauge",
		     "Last pull of the database's changes, since the epoch; 0: "
		     "none yet.");
	promfmt_ms(p, P "last_pull_timestamp_seconds", m->pull_ms);
	promfmt_head(p, P "lag_seconds", "gauge",
		     "Age of the newest row of the last pull that brought "
		     "rows, when it was read.");
	promfmt_ms(p, P "lag_seconds", m->lag_ms);
	promfmt_head(p, P "resyncs_total", "counter",
		     "Connections made, each with a resync.");
	promfmt_value(p, P "resyncs_total", m->resyncs);
	/* A file that cannot be read counts as empty here: the push reports
	 * it. */
	(void)stats_lines(dirfd, ROAM_OUTBOX, &sf, &out);
	(void)stats_lines(dirfd, ROAM_SENDING, &sf, &sending);
	promfmt_head(p, P "outbox_lines", "gauge",
		     "Lines of this host waiting to be pushed.");
	promfmt_labeled(p, P "outbox_lines", "file", ROAM_OUTBOX,
			sizeof ROAM_OUTBOX - 1, out);
	promfmt_labeled(p, P "outbox_lines", "file", ROAM_SENDING,
			sizeof ROAM_SENDING - 1, sending);
}

/* The file replaced, not synced (it is written again within a minute):
 * nothing here waits on a lock or the network. A failure is logged once,
 * until a write succeeds. */
void
syncmetrics_write(struct syncmetrics *m, int dirfd, uint64_t now)
{
	struct promfmt p = {0};
	struct fail f;
	int r;

	format(m, dirfd, &p);
	if (p.nomem) {
		FAIL(&f, 111, "unable to write ", m->pf.path,
		     ": out of memory");
		r = -1;
	} else {
		r = promfile_write(&m->pf, p.buf, p.len, 0, &f);
	}
	promfmt_free(&p);
	m->written_at = now ? now : 1;
	m->changed = 0;
	if (r == -1 && !m->failing)
		log_warn(f.msg, "; trying again in a minute");
	m->failing = r == -1;
}

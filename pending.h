/* pending.h: the addresses a pass adds (the journal's and a login's), found
 * by address. */
#ifndef PENDING_H
#define PENDING_H

#include <stddef.h>

#include "openlist.h"

enum pending_state {
	PENDING_WAITING, /* not seen in the list yet */
	PENDING_MERGED,	 /* its line in the list was refreshed */
	PENDING_ADDED	 /* appended to the list */
};

struct waiting {
	struct openentry e;
	enum pending_state state;
	size_t hash; /* of e.ip */
};

struct pending {
	struct waiting *v;
	size_t n, cap;
	size_t *slot; /* index + 1, by address hash; nslot a power of 2 */
	size_t nslot;
};

int pending_add(struct pending *p, const struct openentry *e);
struct waiting *pending_find(const struct pending *p, const char *ip);
void pending_free(struct pending *p);

#endif

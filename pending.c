/* pending.c: the addresses a pass adds (the journal's and a login's), found
 * by address. */
#include <stdlib.h>
#include <string.h>

#include "pending.h"

static size_t
hash(const char *s)
{
	size_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* The slot of ip (of hash h): its entry's, or the empty one where it
 * would go. */
static size_t *
slot_of(const struct pending *p, const char *ip, size_t h)
{
	h &= p->nslot - 1;
	while (p->slot[h] && strcmp(p->v[p->slot[h] - 1].e.ip, ip) != 0)
		h = (h + 1) & (p->nslot - 1);
	return &p->slot[h];
}

/* The empty slot for an entry of hash h that is not in the table. */
static size_t *
free_slot(const struct pending *p, size_t h)
{
	h &= p->nslot - 1;
	while (p->slot[h])
		h = (h + 1) & (p->nslot - 1);
	return &p->slot[h];
}

struct waiting *
pending_find(const struct pending *p, const char *ip)
{
	size_t *s;

	if (!p->n)
		return 0;
	s = slot_of(p, ip, hash(ip));
	return *s ? &p->v[*s - 1] : 0;
}

/* Keeps the table at most half full. */
static int
grow(struct pending *p)
{
	size_t cap = p->cap ? 2 * p->cap : 16;
	size_t *slot = calloc(2 * cap, sizeof *slot);
	struct waiting *v = slot ? realloc(p->v, cap * sizeof *v) : 0;

	/* Nothing changes unless both succeed: the table stays half full. */
	if (!v) {
		free(slot);
		return -1;
	}
	p->v = v;
	p->cap = cap;
	free(p->slot);
	p->slot = slot;
	p->nslot = 2 * cap;
	/* realloc kept the n entries, which the analyzer cannot see. */
	for (size_t i = 0; i < p->n; i++)
		*free_slot(p, p->v[i].hash) = i + 1; // NOLINT(clang-analyzer-*)
	return 0;
}

/* Adds e, or keeps the newer timestamp of an address there already. */
int
pending_add(struct pending *p, const struct openentry *e)
{
	struct waiting *w = pending_find(p, e->ip);

	if (w) {
		if (e->ts > w->e.ts)
			w->e.ts = e->ts;
		return 0;
	}
	if ((p->n == p->cap || !p->v) && grow(p) == -1)
		return -1;
	p->v[p->n] = (struct waiting){
	    .e = *e, .state = PENDING_WAITING, .hash = hash(e->ip)};
	p->n++;
	*free_slot(p, p->v[p->n - 1].hash) = p->n;
	return 0;
}

void
pending_free(struct pending *p)
{
	free(p->v);
	free(p->slot);
	*p = (struct pending){0};
}

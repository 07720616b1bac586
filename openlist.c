/* openlist.c: the open-smtp list: "IP:rule<TAB>epoch" lines, vpopmail's format.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "openlist.h"
#include "roamdir.h"
#include "rules.h"

static int
no_emit(void *ctx, const char *k, size_t kl, const char *d, size_t dl)
{
	(void)ctx, (void)k, (void)kl, (void)d, (void)dl;
	return 0;
}

/*
 * One line without its newline. Returns 1 for an entry, 0 for an empty
 * line, -1 for anything else: no TAB, a timestamp that is not 1 to 19
 * digits, a control byte, an address that is not one IP, or a rule
 * tcprules rejects.
 */
int
openlist_parse_line(const char *line, size_t len, struct openentry *e)
{
	const char *tab;
	size_t cut, colon, i;
	uint64_t ts = 0;

	memset(e, 0, sizeof *e);
	if (len == 0)
		return 0;
	e->raw = line;
	e->rawlen = len;
	if (!(tab = memchr(line, '\t', len)))
		return -1;
	cut = (size_t)(tab - line);
	if (len - cut - 1 == 0 || len - cut - 1 > 19)
		return -1;
	for (i = cut + 1; i < len; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -1;
		ts = ts * 10 + (uint64_t)(line[i] - '0');
	}
	/* vpopmail never writes control bytes: one there means corruption. */
	for (i = 0; i < cut; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			return -1;
	colon = rules_split(line, cut);
	if (colon == cut || !ip_canonical(e->ip, line, colon)) {
		e->ip[0] = '\0';
		return -1;
	}
	if (rules_parse_line(line, cut, no_emit, 0) != RULES_OK) {
		e->ip[0] = '\0';
		return -1;
	}
	e->rule = line + colon + 1;
	e->rulelen = cut - colon - 1;
	e->ts = ts;
	e->raw = 0;
	e->rawlen = 0;
	return 1;
}

static size_t
hash(const char *s)
{
	size_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static int
reindex(struct openlist *l)
{
	size_t want = 64, i;

	while (want < 2 * l->n + 2)
		want *= 2;
	free(l->slot);
	if (!(l->slot = calloc(want, sizeof *l->slot)))
		return -1;
	l->nslot = want;
	for (i = 0; i < l->n; i++) {
		size_t h;

		if (!l->e[i].ip[0])
			continue;
		h = hash(l->e[i].ip) & (want - 1);
		while (l->slot[h])
			h = (h + 1) & (want - 1);
		l->slot[h] = i + 1;
	}
	return 0;
}

long
openlist_find(const struct openlist *l, const char *ip)
{
	size_t h;

	if (!l->nslot)
		return -1;
	for (h = hash(ip) & (l->nslot - 1); l->slot[h];
	     h = (h + 1) & (l->nslot - 1))
		if (strcmp(l->e[l->slot[h] - 1].ip, ip) == 0)
			return (long)(l->slot[h] - 1);
	return -1;
}

/* Puts the entry just appended into the index, growing it as needed. */
static int
index_last(struct openlist *l)
{
	size_t h;

	if (2 * l->n + 2 > l->nslot)
		return reindex(l);
	h = hash(l->e[l->n - 1].ip) & (l->nslot - 1);
	while (l->slot[h])
		h = (h + 1) & (l->nslot - 1);
	l->slot[h] = l->n;
	return 0;
}

static struct openentry *
grow(struct openlist *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct openentry *e = realloc(l->e, cap * sizeof *e);

		if (!e)
			return 0;
		l->e = e;
		l->cap = cap;
	}
	return &l->e[l->n];
}

int
openlist_add(struct openlist *l, const char *ip, const char *rule,
	     size_t rulelen, uint64_t ts)
{
	struct openentry *e = grow(l);

	if (!e)
		return -1;
	memset(e, 0, sizeof *e);
	snprintf(e->ip, sizeof e->ip, "%s", ip);
	e->rule = rule;
	e->rulelen = rulelen;
	e->ts = ts;
	l->n++;
	return index_last(l);
}

/*
 * Takes ownership of text. Malformed lines are reported once each and kept
 * for the next write; a repeated address keeps its first place and its
 * newest timestamp.
 */
int
openlist_load(struct openlist *l, char *text, size_t len)
{
	size_t pos = 0, lineno = 0;

	memset(l, 0, sizeof *l);
	l->text = text;
	if (reindex(l) == -1)
		return -1;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		struct openentry e, *slot;
		long dup;
		int r;

		lineno++;
		r = openlist_parse_line(text + pos, end - pos, &e);
		pos = end + 1;
		if (r == 0)
			continue;
		if (r == 1 && (dup = openlist_find(l, e.ip)) >= 0) {
			if (e.ts > l->e[dup].ts)
				l->e[dup].ts = e.ts;
			continue;
		}
		if (r < 0) {
			char num[24], safe[LOG_SAFE];

			snprintf(num, sizeof num, "%zu", lineno);
			log_sanitize(safe, sizeof safe, e.raw, e.rawlen);
			log_warn(ROAM_LIST, " line ", num,
				 ": keeping malformed line out of the rules: ",
				 safe);
			l->bad++;
		}
		if (!(slot = grow(l)))
			return -1;
		*slot = e;
		l->n++;
		if (r == 1 && index_last(l) == -1)
			return -1;
	}
	return 0;
}

/* Reads the list; a missing file is an empty list. */
int
openlist_read(struct openlist *l, int dirfd, struct fail *f)
{
	struct stat st;
	char *text = 0;
	size_t len = 0, cap = 0;
	int fd;

	memset(l, 0, sizeof *l);
	fd = openat(dirfd, ROAM_LIST,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		if (openlist_load(l, 0, 0) == 0)
			return 0;
		FAILSYS(f, "unable to read ", ROAM_LIST);
		return -1;
	}
	if (fd == -1) {
		if (errno == ELOOP)
			FAIL(f, 111, "refusing to read ", ROAM_LIST,
			     ": it is a symbolic link");
		else
			FAILSYS(f, "unable to open ", ROAM_LIST);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		FAIL(f, 111, "refusing to read ", ROAM_LIST,
		     ": not a regular file");
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t r;

		if (len == cap) {
			size_t ncap = cap ? 2 * cap : (size_t)st.st_size + 4096;
			char *t = realloc(text, ncap);

			if (!t) {
				FAILSYS(f, "unable to read ", ROAM_LIST);
				goto fail;
			}
			text = t;
			cap = ncap;
		}
		r = read(fd, text + len, cap - len);
		if (r == 0)
			break;
		if (r == -1) {
			if (errno == EINTR)
				continue;
			FAILSYS(f, "unable to read ", ROAM_LIST);
			goto fail;
		}
		len += (size_t)r;
	}
	close(fd);
	if (openlist_load(l, text, len) == -1) {
		FAILSYS(f, "unable to read ", ROAM_LIST);
		openlist_free(l);
		return -1;
	}
	return 0;
fail:
	close(fd);
	free(text);
	return -1;
}

int
openlist_write(const struct openlist *l, int dirfd, struct fail *f)
{
	struct atomicfile a;
	size_t i;

	if (atomicfile_open(&a, dirfd, ROAM_LIST, 0644, f) == -1)
		return -1;
	for (i = 0; i < l->n; i++) {
		const struct openentry *e = &l->e[i];
		char ts[24];
		int n;

		if (e->dropped)
			continue;
		if (!e->ip[0]) {
			atomicfile_write(&a, e->raw, e->rawlen);
			atomicfile_write(&a, "\n", 1);
			continue;
		}
		atomicfile_write(&a, e->ip, strlen(e->ip));
		atomicfile_write(&a, ":", 1);
		atomicfile_write(&a, e->rule, e->rulelen);
		n = snprintf(ts, sizeof ts, "\t%llu\n",
			     (unsigned long long)e->ts);
		atomicfile_write(&a, ts, (size_t)n);
	}
	return atomicfile_commit(&a, f);
}

void
openlist_free(struct openlist *l)
{
	free(l->text);
	free(l->e);
	free(l->slot);
	memset(l, 0, sizeof *l);
}

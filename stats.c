/* stats.c: the figures of a roam directory, read without a lock, for
 * clearopensmtp -s and -p. */
/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "openlist.h"
#include "rebuild.h"
#include "roamdir.h"
#include "safe.h"
#include "stats.h"

/* A file's size and mtime; not present if missing. */
static int
stat_file(int dirfd, const char *name, struct stats_file *sf, struct fail *f)
{
	struct stat st;

	*sf = (struct stats_file){0};
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return 0;
		FAILSYS(f, "unable to stat ", name);
		return -1;
	}
	sf->present = 1;
	sf->size = (uint64_t)st.st_size;
	sf->mtime = (uint64_t)st.st_mtim.tv_sec;
	return 0;
}

/* The newlines of a file of the directory, read a buffer at a time (an
 * outbox may be long); 0 and not present if it is missing. */
int
stats_lines(int dirfd, const char *name, struct stats_file *sf, size_t *lines)
{
	char buf[65536];
	struct stat st;
	ssize_t r;
	int fd =
	    openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	*sf = (struct stats_file){0};
	*lines = 0;
	if (fd == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	*sf = (struct stats_file){.present = 1,
				  .size = (uint64_t)st.st_size,
				  .mtime = (uint64_t)st.st_mtim.tv_sec};
	while ((r = read(fd, buf, sizeof buf)) > 0 ||
	       (r == -1 && errno == EINTR))
		for (ssize_t i = 0; i < r; i++)
			*lines += buf[i] == '\n';
	close(fd);
	return r == 0 ? 0 : -1;
}

static enum stats_age
age_of(const struct stats *s, uint64_t ts)
{
	uint64_t age = s->now > ts ? s->now - ts : 0;
	uint64_t t1 = s->maxage < 600 ? s->maxage : 600;
	uint64_t t2 = s->maxage < 3600 ? s->maxage : 3600;

	if (age > s->maxage)
		return AGE_EXPIRED;
	if (age < t1)
		return AGE_10M;
	return age < t2 ? AGE_1H : AGE_LIVE;
}

static int
by_name(const void *a, const void *b)
{
	const struct stats_account *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->name, y->name, n);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The most addresses first; then by name. */
static int
by_count(const void *a, const void *b)
{
	const struct stats_account *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return by_name(a, b);
}

/* The accounts of names (n, sorted in place, their counts 1): how many
 * there are, and the STATS_TOP with the most addresses kept in s. */
static void
rank(struct stats *s, struct stats_account *v, size_t n)
{
	size_t k = 0;

	qsort(v, n, sizeof *v, by_name);
	for (size_t i = 0; i < n; i++) {
		if (k && by_name(&v[k - 1], &v[i]) == 0) {
			v[k - 1].n++;
			free(v[i].name);
			continue;
		}
		v[k++] = v[i];
	}
	qsort(v, k, sizeof *v, by_count);
	s->accounts = k;
	for (size_t i = 0; i < k; i++) {
		if (i < STATS_TOP)
			s->top[s->ntop++] = v[i];
		else
			free(v[i].name);
	}
}

/* One good line: its age, its account, whether the cdb has it. */
static int
count_line(struct stats *s, const struct openentry *e, int cdbfd,
	   struct stats_account *v, size_t *nv)
{
	static char name[OPENLIST_RULEMAX + 1];
	unsigned dlen;
	long len;

	s->open++;
	s->byage[age_of(s, e->ts)]++;
	if (cdbfd == -1 ||
	    cdb_seek(cdbfd, e->ip, (unsigned)strlen(e->ip), &dlen) <= 0)
		s->waiting++;
	if (!*s->account_env)
		return 0;
	len = openlist_var(e, s->account_env, name, sizeof name);
	if (len < 0) {
		s->without++;
		return 0;
	}
	v[*nv] = (struct stats_account){.len = (size_t)len, .n = 1};
	if (!(v[*nv].name = malloc((size_t)len + 1)))
		return -1;
	memcpy(v[*nv].name, name, (size_t)len + 1);
	(*nv)++;
	return 0;
}

/* The list's lines counted: at most one per line, so the names fit in
 * as many as the list has newlines, plus one. */
static int
walk(struct stats *s, int dirfd, const char *text, size_t len, struct fail *f)
{
	struct openlist_cursor cur = {.text = text, .len = len};
	struct openentry e;
	struct stats_account *v;
	int cdbfd = openat(dirfd, ROAM_CDB, O_RDONLY | O_NONBLOCK | O_CLOEXEC),
	    r = 0;
	size_t lines = 1, nv = 0;
	enum line_kind k;

	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	if (!(v = calloc(lines, sizeof *v))) {
		FAILSYS(f, "unable to count the list");
		r = -1;
	}
	while (r == 0 && (k = openlist_next(&cur, &e)) != LINE_EMPTY)
		if (k == LINE_ENTRY && count_line(s, &e, cdbfd, v, &nv) == -1) {
			FAILSYS(f, "unable to count the list");
			r = -1;
		}
	s->bad = cur.bad.n;
	if (cdbfd != -1)
		close(cdbfd);
	if (r == 0)
		rank(s, v, nv);
	else
		for (size_t i = 0; i < nv; i++)
			free(v[i].name);
	free(v);
	return r;
}

/* The figures of dir; s->now, s->maxage and s->account_env set by the
 * caller. Nothing is locked or changed: the list and the cdb are
 * replaced by rename, so each read is of one whole file. */
int
stats_gather(struct stats *s, const char *dir, struct fail *f)
{
	char *text;
	size_t len;
	int dirfd, r = -1;

	if ((dirfd = roamdir_open(dir, f)) == -1)
		return -1;
	if (safe_dir(dirfd, dir, f) == -1 ||
	    stat_file(dirfd, ROAM_LIST, &s->list, f) == -1 ||
	    stat_file(dirfd, ROAM_CDB, &s->cdb, f) == -1 ||
	    roamdir_read(dirfd, ROAM_LIST, 0, &text, &len, 0, f) == -1)
		goto out;
	r = walk(s, dirfd, text, len, f);
	free(text);
	if (r == 0 && (stats_lines(dirfd, ROAM_OUTBOX, &s->outbox,
				   &s->outbox_lines) == -1 ||
		       stats_lines(dirfd, ROAM_SENDING, &s->sending,
				   &s->sending_lines) == -1)) {
		FAILSYS(f, "unable to read ", ROAM_OUTBOX);
		r = -1;
	}
out:
	close(dirfd);
	return r;
}

void
stats_free(struct stats *s)
{
	for (size_t i = 0; i < s->ntop; i++)
		free(s->top[i].name);
	s->ntop = 0;
}

/* The bounds of the age buckets, in seconds (age_of). */
static void
bounds(const struct stats *s, uint64_t *t1, uint64_t *t2)
{
	*t1 = s->maxage < 600 ? s->maxage : 600;
	*t2 = s->maxage < 3600 ? s->maxage : 3600;
}

static void
print_file(FILE *out, const char *name, const struct stats_file *sf,
	   uint64_t now)
{
	if (!sf->present) {
		fprintf(out, "%s: missing\n", name);
		return;
	}
	fprintf(out, "%s: %llu bytes, written %llu seconds ago\n", name,
		(unsigned long long)sf->size,
		(unsigned long long)(now > sf->mtime ? now - sf->mtime : 0));
}

static void
print_accounts(const struct stats *s, FILE *out)
{
	char safe[LOG_SAFE];

	if (!*s->account_env) {
		fprintf(out, "accounts: not recorded (ROAM_ACCOUNT_ENV is "
			     "empty)\n");
		return;
	}
	if (!s->accounts) {
		fprintf(out, "accounts: none: no line of the list sets %s\n",
			s->account_env);
		return;
	}
	fprintf(out, "accounts: %zu (in %s); addresses without one: %zu\n",
		s->accounts, s->account_env, s->without);
	fprintf(out, "the %zu with the most open addresses:\n", s->ntop);
	for (size_t i = 0; i < s->ntop; i++) {
		log_sanitize(safe, sizeof safe, s->top[i].name, s->top[i].len);
		fprintf(out, "  %zu %s\n", s->top[i].n, safe);
	}
}

/* clearopensmtp -s: the figures on one screen. */
void
stats_print(const struct stats *s, FILE *out)
{
	uint64_t t1, t2;

	bounds(s, &t1, &t2);
	fprintf(out, "open addresses: %zu (expiry after %llu minutes)\n",
		s->open, (unsigned long long)(s->maxage / 60));
	fprintf(out, "  under %llu minutes: %zu\n",
		(unsigned long long)(t1 / 60), s->byage[AGE_10M]);
	fprintf(out, "  %llu to %llu minutes: %zu\n",
		(unsigned long long)(t1 / 60), (unsigned long long)(t2 / 60),
		s->byage[AGE_1H]);
	fprintf(out, "  %llu to %llu minutes: %zu\n",
		(unsigned long long)(t2 / 60),
		(unsigned long long)(s->maxage / 60), s->byage[AGE_LIVE]);
	fprintf(out, "  expired, not yet cleared: %zu\n",
		s->byage[AGE_EXPIRED]);
	if (s->bad)
		fprintf(out, "unreadable lines: %zu\n", s->bad);
	print_accounts(s, out);
	print_file(out, ROAM_LIST, &s->list, s->now);
	print_file(out, ROAM_CDB, &s->cdb, s->now);
	fprintf(out, "waiting for a build: %zu (listed addresses %s lacks)\n",
		s->waiting, ROAM_CDB);
	if (!s->outbox.present && !s->sending.present)
		fprintf(out, "outbox: none (roamsync has not run here)\n");
	else
		fprintf(out, "outbox: %zu lines waiting for roamsync\n",
			s->outbox_lines + s->sending_lines);
}

/* Whether the account label of top[i] shows as an earlier one's: only
 * names not in UTF-8 can (promfmt_label); a series is never doubled. */
static int
shown_before(const struct stats *s, size_t i)
{
	const struct stats_account *a = &s->top[i];
	char *x = malloc(PROMFMT_LABELMAX(a->len) + 1), *y;
	int same = 0;
	size_t n;

	if (!x)
		return 1;
	n = promfmt_label(x, a->name, a->len);
	for (size_t j = 0; !same && j < i; j++) {
		const struct stats_account *b = &s->top[j];

		if (!(y = malloc(PROMFMT_LABELMAX(b->len) + 1)))
			same = 1;
		else
			same = promfmt_label(y, b->name, b->len) == n &&
			       memcmp(x, y, n) == 0;
		free(y);
	}
	free(x);
	return same;
}

static void
prom_accounts(const struct stats *s, struct promfmt *p)
{
	if (!*s->account_env)
		return;
	promfmt_head(p, "checkpw_roam_accounts", "gauge",
		     "Accounts with an open address.");
	promfmt_value(p, "checkpw_roam_accounts", s->accounts);
	promfmt_head(p, "checkpw_roam_addresses_without_account", "gauge",
		     "Open addresses whose line names no account.");
	promfmt_value(p, "checkpw_roam_addresses_without_account", s->without);
	if (!s->ntop)
		return;
	promfmt_head(p, "checkpw_roam_account_open_addresses", "gauge",
		     "Open addresses of the accounts with the most.");
	for (size_t i = 0; i < s->ntop; i++)
		if (!shown_before(s, i))
			promfmt_labeled(
			    p, "checkpw_roam_account_open_addresses", "account",
			    s->top[i].name, s->top[i].len, s->top[i].n);
}

static void
prom_files(const struct stats *s, struct promfmt *p)
{
	static const char size[] = "checkpw_roam_file_size_bytes",
			  mtime[] = "checkpw_roam_file_mtime_seconds";
	const struct {
		const char *name;
		const struct stats_file *sf;
	} v[] = {{ROAM_LIST, &s->list}, {ROAM_CDB, &s->cdb}};

	promfmt_head(p, size, "gauge", "Size of the list and the cdb.");
	for (size_t i = 0; i < 2; i++)
		if (v[i].sf->present)
			promfmt_labeled(p, size, "file", v[i].name,
					strlen(v[i].name), v[i].sf->size);
	promfmt_head(p, mtime, "gauge",
		     "Last change of the list and the cdb, since the epoch.");
	for (size_t i = 0; i < 2; i++)
		if (v[i].sf->present)
			promfmt_labeled(p, mtime, "file", v[i].name,
					strlen(v[i].name), v[i].sf->mtime);
}

/* clearopensmtp -p: the figures for node_exporter's textfile
 * collector. */
void
stats_prom(const struct stats *s, struct promfmt *p)
{
	static const char open[] = "checkpw_roam_open_addresses",
			  out[] = "checkpw_roam_outbox_lines";
	static const char *const age[AGE_BUCKETS] = {"under_10m", "10m_to_1h",
						     "1h_to_expiry", "expired"};

	promfmt_head(p, open, "gauge",
		     "Addresses in the list, by age; expired ones are not yet "
		     "cleared.");
	for (int i = 0; i < AGE_BUCKETS; i++)
		promfmt_labeled(p, open, "age", age[i], strlen(age[i]),
				s->byage[i]);
	promfmt_head(p, "checkpw_roam_expiry_seconds", "gauge",
		     "Age past which an address expires.");
	promfmt_value(p, "checkpw_roam_expiry_seconds", s->maxage);
	promfmt_head(p, "checkpw_roam_unreadable_lines", "gauge",
		     "Lines of the list kept out of the rules.");
	promfmt_value(p, "checkpw_roam_unreadable_lines", s->bad);
	prom_accounts(s, p);
	prom_files(s, p);
	promfmt_head(p, "checkpw_roam_build_waiting_addresses", "gauge",
		     "Listed addresses that the cdb lacks.");
	promfmt_value(p, "checkpw_roam_build_waiting_addresses", s->waiting);
	if (!s->outbox.present && !s->sending.present)
		return;
	promfmt_head(p, out, "gauge", "Lines waiting for roamsync.");
	promfmt_labeled(p, out, "file", ROAM_OUTBOX, strlen(ROAM_OUTBOX),
			s->outbox_lines);
	promfmt_labeled(p, out, "file", ROAM_SENDING, strlen(ROAM_SENDING),
			s->sending_lines);
}

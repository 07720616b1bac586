/* rebuild.c: tcp.smtp and the open list compiled into tcp.smtp.cdb. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prefault.h"
#include "rebuild.h"
#include "roamdir.h"
#include "rules.h"

static int
add_record(void *ctx, const char *k, size_t kl, const char *d, size_t dl)
{
	if (kl > 0xffffffffu || dl > 0xffffffffu) {
		errno = EFBIG;
		return -1;
	}
	return cdb_make_add(ctx, k, (unsigned)kl, d, (unsigned)dl) == 0 ? 0
									: -1;
}

static int
add_rules(struct rebuild *rb, const char *text, size_t len, struct fail *f)
{
	size_t pos = 0, lineno = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) + 1 : len;
		int r;

		lineno++;
		r = rules_parse_line(text + pos, end - pos, add_record,
				     &rb->cm);
		if (r == RULES_BAD) {
			char num[24], safe[LOG_SAFE];
			size_t n = end - pos;

			if (n && text[end - 1] == '\n')
				n--;
			snprintf(num, sizeof num, "%zu", lineno);
			log_sanitize(safe, sizeof safe, text + pos, n);
			FAIL(f, 100, "unable to rebuild ", ROAM_CDB, ": ",
			     ROAM_RULES, " line ", num,
			     ": unable to parse this line: ", safe);
			return -1;
		}
		if (r == RULES_SYS) {
			FAILSYS(f, "unable to write ", rb->a.tmp);
			return -1;
		}
		pos = end;
	}
	return 0;
}

/*
 * Starts a new tcp.smtp.cdb with tcp.smtp's records, as tcprules would
 * write them; the open addresses follow with rebuild_add. tcpserver takes
 * the first record of a key, so the administrator's rules win. A line
 * tcprules would reject fails with code 100, naming it.
 */
int
rebuild_open(struct rebuild *rb, int dirfd, struct fail *f)
{
	char *text;
	size_t len;

	rb->rule = rb->data = 0;
	rb->rulelen = rb->datalen = 0;
	rb->finished = 0;
	if (roamdir_read(dirfd, ROAM_RULES, 1, &text, &len, 0, f) == -1)
		return -1;
	if (atomicfile_open(&rb->a, dirfd, ROAM_CDB, 0644, f) == -1) {
		free(text);
		return -1;
	}
	if (cdb_make_start(&rb->cm, rb->a.fd) == -1) {
		FAILSYS(f, "unable to write ", rb->a.tmp);
		free(text);
		atomicfile_abort(&rb->a);
		return -1;
	}
	rb->rules = stamp_sum(text, len);
	if (add_rules(rb, text, len, f) == -1) {
		free(text);
		rebuild_abort(rb);
		return -1;
	}
	free(text);
	return 0;
}

/*
 * Starts a new tcp.smtp.cdb as a copy of the current one, which must be
 * the file cdb names (the stamp's: compiled from tcp.smtp and the list as
 * they are); the addresses to add follow with rebuild_add. Returns 1, 0
 * when the cdb is not that file or cannot be read whole, -1 on failure.
 */
int
rebuild_copy(struct rebuild *rb, int dirfd, const struct fileid *cdb,
	     struct fail *f)
{
	struct fileid id;
	struct stat st;
	struct cdb c;
	unsigned pos;
	int fd, r;

	rb->rule = rb->data = 0;
	rb->rulelen = rb->datalen = 0;
	rb->finished = 0;
	rb->rules = 0;
	fd = openat(dirfd, ROAM_CDB, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return 0;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (fileid_of(&id, &st), !fileid_same(&id, cdb)) ||
	    cdb_init(&c, fd) != 0) {
		close(fd);
		return 0;
	}
	/* Records are at least 40 bytes: a count high enough. */
	prefault_heap(prefault_tables((size_t)st.st_size / 40) + 65536);
	r = atomicfile_open(&rb->a, dirfd, ROAM_CDB, 0644, f);
	if (r == 0 && cdb_make_start(&rb->cm, rb->a.fd) == -1) {
		FAILSYS(f, "unable to write ", rb->a.tmp);
		atomicfile_abort(&rb->a);
		r = -1;
	}
	if (r == -1) {
		cdb_free(&c);
		close(fd);
		return -1;
	}
	cdb_seqinit(&pos, &c);
	while ((r = cdb_seqnext(&pos, &c)) > 0) {
		const void *k = cdb_getkey(&c), *d = cdb_getdata(&c);

		if (!k || !d) {
			r = -1;
			break;
		}
		if (cdb_make_add(&rb->cm, k, cdb_keylen(&c), d,
				 cdb_datalen(&c)) == -1) {
			FAILSYS(f, "unable to write ", rb->a.tmp);
			r = -2;
			break;
		}
	}
	cdb_free(&c);
	close(fd);
	if (r < 0) {
		rebuild_abort(rb);
		return r == -2 ? -1 : 0;
	}
	return 1;
}

/*
 * Adds the record of the line "ip:rule" for one open address: ip is a
 * canonical address, never a range, so its key is ip itself. Open
 * addresses nearly all share one rule, so its data is compiled once.
 */
int
rebuild_add(struct rebuild *rb, const char *ip, const char *rule,
	    size_t rulelen, struct fail *f)
{
	if (!rb->rule || rulelen != rb->rulelen ||
	    memcmp(rule, rb->rule, rulelen) != 0) {
		char *t = malloc(rulelen + 1), *d = malloc(rulelen + 2);

		if (!t || !d) {
			free(t);
			free(d);
			FAILSYS(f, "unable to write ", rb->a.tmp);
			return -1;
		}
		if (rules_compile(rule, rulelen, d, &rb->datalen) != RULES_OK) {
			free(t);
			free(d);
			errno = EINVAL;
			FAILSYS(f, "unable to write ", rb->a.tmp);
			return -1;
		}
		free(rb->rule);
		free(rb->data);
		memcpy(t, rule, rulelen);
		rb->rule = t;
		rb->rulelen = rulelen;
		rb->data = d;
	}
	if (add_record(&rb->cm, ip, strlen(ip), rb->data, rb->datalen) == -1) {
		FAILSYS(f, "unable to write ", rb->a.tmp);
		return -1;
	}
	return 0;
}

static void
forget_rule(struct rebuild *rb)
{
	free(rb->rule);
	free(rb->data);
	rb->rule = rb->data = 0;
}

/* Writes the cdb's tables; rb->id names the new file. */
int
rebuild_finish(struct rebuild *rb, struct fail *f)
{
	struct stat st;

	if (rb->finished)
		return 0;
	forget_rule(rb);
	rb->finished = 1;
	/* tinycdb writes to the descriptor itself: its times are final. */
	if (cdb_make_finish(&rb->cm) == -1 || fstat(rb->a.fd, &st) == -1) {
		FAILSYS(f, "unable to write ", rb->a.tmp);
		atomicfile_abort(&rb->a);
		return -1;
	}
	fileid_of(&rb->id, &st);
	return 0;
}

/*
 * Whether the finished new cdb has the same bytes as tcp.smtp.cdb: then
 * the current one is as good, and rb->id names it. For a pass that
 * rewrites the list but changes none of its entries.
 */
int
rebuild_same(struct rebuild *rb, int dirfd)
{
	static char a[65536], b[65536];
	struct fail ignored;
	struct stat st;
	uint64_t off = 0;
	int fd, same = 0;

	if (rebuild_finish(rb, &ignored) == -1)
		return 0;
	fd = openat(dirfd, ROAM_CDB, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size == rb->id.size) {
		for (;;) {
			ssize_t n = pread(fd, a, sizeof a, (off_t)off);

			if (n < 0 ||
			    pread(rb->a.fd, b, sizeof b, (off_t)off) != n ||
			    memcmp(a, b, (size_t)n) != 0)
				break;
			if (n == 0) {
				same = off == rb->id.size;
				break;
			}
			off += (uint64_t)n;
		}
	}
	if (same)
		fileid_of(&rb->id, &st);
	close(fd);
	return same;
}

/* Finishes, syncs and renames it into place; the old one stays on error. */
int
rebuild_commit(struct rebuild *rb, struct fail *f)
{
	if (rebuild_finish(rb, f) == -1)
		return -1;
	return atomicfile_commit(&rb->a, f);
}

void
rebuild_abort(struct rebuild *rb)
{
	forget_rule(rb);
	/* tinycdb frees its tables only in cdb_make_finish; the temp goes. */
	if (!rb->finished)
		(void)cdb_make_finish(&rb->cm);
	rb->finished = 1;
	atomicfile_abort(&rb->a);
}

/* Whether tcp.smtp.cdb has a record for ip; 0 when it cannot be read. */
int
rebuild_has(int dirfd, const char *ip)
{
	unsigned dlen;
	int fd, r;

	fd = openat(dirfd, ROAM_CDB, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return 0;
	/* A few preads: cheaper than mapping a large cdb for one lookup. */
	r = cdb_seek(fd, ip, (unsigned)strlen(ip), &dlen) > 0;
	close(fd);
	return r;
}

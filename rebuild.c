/* rebuild.c: tcp.smtp and the open list compiled into tcp.smtp.cdb. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cdb.h>

#include "atomicfile.h"
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

/* Reads a whole regular file; a missing one reads as empty. */
static int
slurp(int dirfd, const char *name, char **text, size_t *len, struct fail *f)
{
	struct stat st;
	size_t cap = 0;
	int fd;

	*text = 0;
	*len = 0;
	fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		FAILSYS(f, "unable to open ", name);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		FAIL(f, 111, "unable to read ", name, ": not a regular file");
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t r;

		if (*len == cap) {
			size_t ncap = cap ? 2 * cap : (size_t)st.st_size + 4096;
			char *t = realloc(*text, ncap);

			if (!t)
				break;
			*text = t;
			cap = ncap;
		}
		r = read(fd, *text + *len, cap - *len);
		if (r == 0) {
			close(fd);
			return 0;
		}
		if (r == -1 && errno != EINTR)
			break;
		if (r > 0)
			*len += (size_t)r;
	}
	FAILSYS(f, "unable to read ", name);
	close(fd);
	free(*text);
	*text = 0;
	return -1;
}

static int
add_rules(struct cdb_make *cm, const char *text, size_t len, struct fail *f)
{
	size_t pos = 0, lineno = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) + 1 : len;
		int r;

		lineno++;
		r = rules_parse_line(text + pos, end - pos, add_record, cm);
		if (r == RULES_BAD) {
			char num[24], safe[LOG_SAFE];
			size_t n = end - pos;

			if (n && text[end - 1] == '\n')
				n--;
			snprintf(num, sizeof num, "%zu", lineno);
			log_sanitize(safe, sizeof safe, text + pos, n);
			FAIL(f, 100, ROAM_RULES, " line ", num,
			     ": unable to parse this line: ", safe);
			return -1;
		}
		if (r == RULES_SYS) {
			FAILSYS(f, "unable to write ", ROAM_CDB);
			return -1;
		}
		pos = end;
	}
	return 0;
}

static int
add_list(struct cdb_make *cm, const struct openlist *l, struct fail *f)
{
	char *line = 0;
	size_t cap = 0, i;
	int r = 0;

	for (i = 0; i < l->n && r == 0; i++) {
		const struct openentry *e = &l->e[i];
		size_t iplen = strlen(e->ip), n = iplen + 1 + e->rulelen;

		if (e->dropped || !e->ip[0])
			continue;
		if (n > cap || !line) {
			char *t = realloc(line, n + 1);

			if (!t) {
				FAILSYS(f, "unable to write ", ROAM_CDB);
				r = -1;
				break;
			}
			line = t;
			cap = n;
		}
		memcpy(line, e->ip, iplen);
		line[iplen] = ':';
		memcpy(line + iplen + 1, e->rule, e->rulelen);
		if (rules_parse_line(line, n, add_record, cm) != RULES_OK) {
			FAILSYS(f, "unable to write ", ROAM_CDB);
			r = -1;
		}
	}
	free(line);
	return r;
}

/*
 * Writes tcp.smtp's records, then one rule per open address, as tcprules
 * would for that text: tcpserver takes the first record of a key, so the
 * administrator's rules win. A line tcprules would reject (code 100) or a
 * system failure (111) leaves the old cdb in place.
 */
int
rebuild(int dirfd, const struct openlist *l, struct fail *f)
{
	struct atomicfile a;
	struct cdb_make cm;
	char *text;
	size_t len;

	if (slurp(dirfd, ROAM_RULES, &text, &len, f) == -1)
		return -1;
	if (atomicfile_open(&a, dirfd, ROAM_CDB, 0644, f) == -1) {
		free(text);
		return -1;
	}
	if (cdb_make_start(&cm, a.fd) == -1) {
		FAILSYS(f, "unable to write ", a.tmp);
		goto fail;
	}
	if (add_rules(&cm, text, len, f) == -1 || add_list(&cm, l, f) == -1)
		goto fail;
	if (cdb_make_finish(&cm) == -1) {
		FAILSYS(f, "unable to write ", a.tmp);
		goto fail;
	}
	free(text);
	return atomicfile_commit(&a, f);
fail:
	free(text);
	atomicfile_abort(&a);
	return -1;
}

/* Whether tcp.smtp.cdb has a record for ip; 0 when it cannot be read. */
int
rebuild_has(int dirfd, const char *ip)
{
	struct cdb c;
	int fd, r = 0;

	fd = openat(dirfd, ROAM_CDB, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return 0;
	if (cdb_init(&c, fd) == 0) {
		r = cdb_find(&c, ip, (unsigned)strlen(ip)) > 0;
		cdb_free(&c);
	}
	close(fd);
	return r;
}

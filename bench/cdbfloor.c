/* SPDX-License-Identifier: ISC */
/* cdbfloor.c: the floors of floor.c with the cdb written by tinycdb, the
 * writer this project must use (benchmark only, never installed): the
 * least a rebuild with tinycdb can cost on this machine.
 *
 * Usage: cdbfloor rebuild DIR SRC            the records of the cdb SRC,
 *                                            already built, added one by
 *                                            one with cdb_make_add to a
 *                                            new DIR/floor.cdb: written,
 *                                            fsynced, renamed, and the
 *                                            directory fsynced
 *        cdbfloor expire DIR LISTBYTES SRC   floor expire's lock and list
 *                                            (read the list, write+fsync+
 *                                            rename LISTBYTES of it), then
 *                                            the same for the new cdb SRC
 * No parsing of any text, no checking: what is left beyond floor.c's work
 * is tinycdb's (its hashing, its 4 KB writes, its tables). Writes only
 * DIR/floor.*. Exit 0, 100 for bad usage, 111 for a system failure.
 * Built static, as floor is. */
#include <cdb.h>

#include "floorwork.h"

/* SRC's records into DIR/floor.cdb through tinycdb's writer. */
static int
tinycdb_copy(const char *dir, const char *src)
{
	char pt[4096], pn[4096];
	struct cdb c;
	struct cdb_make m;
	unsigned pos;
	int in, out = -1, dfd, r = -1;

	if (floor_path(pt, sizeof pt, dir, "floor.cdb.tmp") == -1 ||
	    floor_path(pn, sizeof pn, dir, "floor.cdb") == -1)
		return -1;
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (cdb_init(&c, in) != 0)
		goto out;
	out = open(pt, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out == -1 || cdb_make_start(&m, out) != 0)
		goto done;
	cdb_seqinit(&pos, &c);
	while (cdb_seqnext(&pos, &c) > 0)
		if (cdb_make_add(&m, cdb_getkey(&c), cdb_keylen(&c),
				 cdb_getdata(&c), cdb_datalen(&c)) != 0)
			goto done;
	if (cdb_make_finish(&m) != 0 || fsync(out) == -1)
		goto done;
	r = close(out);
	out = -1;
	if (r == 0)
		r = rename(pt, pn);
	if (r == 0) {
		r = -1;
		if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
		    -1) {
			r = fsync(dfd);
			close(dfd);
		}
	}
done:
	if (out != -1)
		close(out);
	cdb_free(&c);
out:
	close(in);
	return r;
}

static int
copy_cdb(const char *dir, const void *src)
{
	return tinycdb_copy(dir, src);
}

int
main(int argc, char **argv)
{
	int r;

	if (argc == 4 && strcmp(argv[1], "rebuild") == 0) {
		r = tinycdb_copy(argv[2], argv[3]);
	} else if (argc == 5 && strcmp(argv[1], "expire") == 0) {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(argv[3], &end, 10);
		if (errno || end == argv[3] || *end) {
			fprintf(stderr, "cdbfloor: fatal: bad size: %s\n",
				argv[3]);
			return 100;
		}
		r = floor_expire_with(argv[2], n, copy_cdb, argv[4]);
	} else {
		fprintf(stderr, "usage: cdbfloor rebuild DIR SRC"
				" | expire DIR LISTBYTES SRC\n");
		return 100;
	}
	if (r == -1) {
		fprintf(stderr, "cdbfloor: fatal: %s %s: %s\n", argv[1],
			argv[2], strerror(errno));
		return 111;
	}
	return 0;
}

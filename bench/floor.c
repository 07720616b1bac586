/* SPDX-License-Identifier: ISC */
/* floor.c: the least work each job physically needs on this machine, as a
 * process of its own, for comparison (benchmark only, never installed).
 *
 * Usage: floor refresh DIR               open, lock, write 10 bytes, close
 *        floor rebuild DIR CDBBYTES      write+fsync+rename a file that size
 *        floor rebuild4k DIR CDBBYTES    the same 4 KB a write, then fsync
 *                                        the directory (tinycdb's pattern)
 *        floor newip   DIR CDBBYTES      lock, append a line + fsync, read
 *                                        tcp.smtp and the list, write+fsync+
 *                                        rename the cdb, fsync the directory
 *        floor expire  DIR LISTBYTES CDBBYTES
 *                                        lock, read the list, write+fsync
 *                                        the new list and the new cdb
 * Writes only DIR/floor.* besides the timestamp or line in DIR/open-smtp.
 * Exit 0, 100 for bad usage, 111 for a system failure. Built static. */
#include "floorwork.h"

static unsigned long long
bytes(const char *s)
{
	char *end;
	unsigned long long u;

	errno = 0;
	u = strtoull(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "floor: fatal: bad size: %s\n", s);
		exit(100);
	}
	return u;
}

int
main(int argc, char **argv)
{
	int r;

	if (argc == 3 && strcmp(argv[1], "refresh") == 0)
		r = floor_refresh(argv[2]);
	else if (argc == 4 && strcmp(argv[1], "rebuild") == 0)
		r = floor_rebuild(argv[2], bytes(argv[3]));
	else if (argc == 4 && strcmp(argv[1], "rebuild4k") == 0)
		r = floor_rebuild4k(argv[2], bytes(argv[3]));
	else if (argc == 4 && strcmp(argv[1], "newip") == 0)
		r = floor_newip(argv[2], bytes(argv[3]));
	else if (argc == 5 && strcmp(argv[1], "expire") == 0)
		r = floor_expire(argv[2], bytes(argv[3]), bytes(argv[4]));
	else {
		fprintf(stderr,
			"usage: floor refresh DIR | rebuild DIR CDBBYTES"
			" | rebuild4k DIR CDBBYTES | newip DIR CDBBYTES"
			" | expire DIR LISTBYTES CDBBYTES\n");
		return 100;
	}
	if (r == -1) {
		fprintf(stderr, "floor: fatal: %s %s: %s\n", argv[1], argv[2],
			strerror(errno));
		return 111;
	}
	return 0;
}

/* promfile.c: a file of figures for node_exporter's textfile collector,
 * replaced whole. */
/* SPDX-License-Identifier: ISC */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "promfile.h"

/*
 * path names a file whose name ends in ".prom" (the collector reads only
 * those), of at most 100 bytes (its temp, NAME.tmp.PID, then fits and
 * never ends in ".prom"); its directory is opened once.
 */
int
promfile_open(struct promfile *pf, const char *path, struct fail *f)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char dir[PATH_MAX];
	size_t n = strlen(base), dlen = slash ? (size_t)(slash - path) : 0;

	pf->path = path;
	if (n <= 5 || n >= sizeof pf->name ||
	    strcmp(base + n - 5, ".prom") != 0) {
		FAIL(f, 100, "bad metrics file ", path,
		     ": not a name ending in .prom, of at most 100 bytes");
		return -1;
	}
	memcpy(pf->name, base, n + 1);
	if (dlen >= sizeof dir) {
		FAIL(f, 100, "bad metrics file ", path, ": name too long");
		return -1;
	}
	memcpy(dir, slash == path ? "/" : path, slash == path ? 1 : dlen);
	dir[slash == path ? 1 : dlen] = '\0';
	pf->dirfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pf->dirfd == -1) {
		FAILSYS(f, "unable to open the directory of ", path);
		return -1;
	}
	return 0;
}

/* The file replaced by text: a temp (NAME.tmp.PID), renamed over it;
 * synced first if asked. */
int
promfile_write(struct promfile *pf, const char *text, size_t len, int sync,
	       struct fail *f)
{
	struct atomicfile a;
	int r;

	if (atomicfile_open(&a, pf->dirfd, pf->name, 0644, f) == -1)
		return -1;
	a.nosync = !sync;
	atomicfile_write(&a, text, len);
	if (atomicfile_finish(&a, f) == -1)
		return -1;
	r = atomicfile_rename(&a, f);
	atomicfile_release(&a);
	return r;
}

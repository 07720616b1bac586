/* atomicfile.h: files replaced whole: temp, write, fsync, rename, dir fsync. */
#ifndef ATOMICFILE_H
#define ATOMICFILE_H

#include <sys/types.h>

#include "log.h"

struct atomicfile {
	int dirfd;
	int fd;
	const char *name;
	char tmp[128];
	char buf[16384];
	size_t n;
	int err;
	int nosync;    /* for files derived from others: no fsync */
	int nodirsync; /* the caller syncs the directory after more renames */
	int keepold; /* the replaced file stays as NAME.old: atomicfile_drop_old
		      */
	char old[132];
};

int atomicfile_open(struct atomicfile *a, int dirfd, const char *name,
		    mode_t newmode, struct fail *f);
void atomicfile_write(struct atomicfile *a, const char *s, size_t len);
int atomicfile_commit(struct atomicfile *a, struct fail *f);
void atomicfile_abort(struct atomicfile *a);
void atomicfile_drop_old(struct atomicfile *a);
int atomicfile_is_temp(const char *entry, const char *name);

#endif

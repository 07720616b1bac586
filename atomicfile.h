/* SPDX-License-Identifier: ISC */
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
	int nosync;    /* derived data, checked when read: no fsync */
	int nodirsync; /* a later rename syncs the directory for this one */
	int ready;     /* written, synced and closed: the temp awaits rename */
	int hasold;    /* oldfd holds the file the rename replaced */
	int oldfd;
};

int atomicfile_open(struct atomicfile *a, int dirfd, const char *name,
		    mode_t newmode, struct fail *f);
void atomicfile_write(struct atomicfile *a, const char *s, size_t len);
int atomicfile_finish(struct atomicfile *a, struct fail *f);
int atomicfile_rename(struct atomicfile *a, struct fail *f);
void atomicfile_abort(struct atomicfile *a);
void atomicfile_release(struct atomicfile *a);
int atomicfile_is_temp(const char *entry, const char *name);

#endif

/* SPDX-License-Identifier: ISC */
/* build.h: the one builder: tcp.smtp and the list, as read, compiled into
 * tcp.smtp.cdb (and the index, when due) under the build lock. */
#ifndef BUILD_H
#define BUILD_H

#include <stddef.h>

#include "log.h"
#include "openlist.h"
#include "roamdir.h"

/* What a build leaves to free once its writer has answered: the cdb it
 * replaced (freeing its blocks takes as long as writing them) and the
 * list as read. */
struct build_left {
	int oldfd;
	char *list;
};

int build_has(int dirfd, const struct openentry *v, size_t n);
int build_cover(int dirfd, const char *dir, const struct fileid *mark,
		const struct openentry *v, size_t n, struct build_left *left,
		struct fail *f);
int build_now(int dirfd, const char *dir, struct build_left *left,
	      struct fail *f);
void build_release(struct build_left *left);

#endif

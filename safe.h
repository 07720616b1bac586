/* SPDX-License-Identifier: ISC */
/* safe.h: whether the roam directory and its files may be written by no
 * one but their owners, as OpenSSH's StrictModes asks of a user's files. */
#ifndef SAFE_H
#define SAFE_H

#include <stddef.h>
#include <sys/types.h>

#include "log.h"

int safe_dir(int dirfd, const char *dir, struct fail *f);
int passwd_gid(const char *text, size_t len, uid_t uid, gid_t *gid);

#endif

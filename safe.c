/* SPDX-License-Identifier: ISC */
/* safe.c: whether the roam directory and its files may be written by no
 * one but their owners, as OpenSSH's StrictModes asks of a user's files. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "digits.h"
#include "roamdir.h"
#include "safe.h"

/* Every file a writer reads or writes, after the directory itself ("."). */
static const char *const files[] = {
    ".",	ROAM_LIST,	 ROAM_LOCK,   ROAM_RULES,   ROAM_CDB,
    ROAM_INDEX, ROAM_BUILD_LOCK, ROAM_OUTBOX, ROAM_SENDING,
};

/*
 * The primary group of uid in the text of /etc/passwd
 * ("name:pw:uid:gid:..." lines): 1 and *gid if a line has it, else 0.
 */
int
passwd_gid(const char *text, size_t len, uid_t uid, gid_t *gid)
{
	size_t pos = 0;

	while (pos < len) {
		const char *line = text + pos,
			   *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos, start = 0,
		       k = 0;
		const char *fld[5] = {0};
		size_t flen[5] = {0};
		uint64_t u, g;

		pos += n + 1;
		for (size_t i = 0; i <= n && k < 5; i++)
			if (i == n || line[i] == ':') {
				fld[k] = line + start;
				flen[k++] = i - start;
				start = i + 1;
			}
		if (k == 5 && digits_scan(fld[2], flen[2], 10, &u) &&
		    u == uid && digits_scan(fld[3], flen[3], 10, &g)) {
			*gid = (gid_t)g;
			return 1;
		}
	}
	return 0;
}

/* Whether the group that may write st is its owner's own primary group. */
static int
owners_group(const struct stat *st)
{
	struct fail ignored;
	char *text;
	size_t len;
	gid_t gid;
	int r;

	if (roamdir_read(AT_FDCWD, "/etc/passwd", 1, &text, &len, 0,
			 &ignored) == -1)
		return 0;
	r = passwd_gid(text, len, st->st_uid, &gid) && gid == st->st_gid;
	free(text);
	return r;
}

/*
 * Refuses the directory when it, or a file of it that exists, may be
 * written by anyone but its owner (or its owner's primary group): a local
 * user could then plant a line that opens any address for ever.
 */
int
safe_dir(int dirfd, const char *dir, struct fail *f)
{
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		struct stat st;
		char mode[8];
		const char *who;

		if (fstatat(dirfd, files[i], &st, 0) == -1)
			continue;
		if (st.st_mode & S_IWOTH)
			who = "anyone";
		else if ((st.st_mode & S_IWGRP) && !owners_group(&st))
			who = "a group other than its owner's";
		else
			continue;
		snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777u);
		FAIL(f, 111, "refusing to use ", dir, i ? "/" : "",
		     i ? files[i] : "", ": it may be written by ", who,
		     " (mode ", mode, ")");
		return -1;
	}
	return 0;
}

/* SPDX-License-Identifier: ISC */
/* roamdir.h: the roam directory: its files, its writers' lock, file
 * creation and reading. */
#ifndef ROAMDIR_H
#define ROAMDIR_H

#include <stdint.h>
#include <sys/stat.h>

#include "log.h"

#ifndef ROAM_DIR_DEFAULT
#define ROAM_DIR_DEFAULT "/var/qmail/roam"
#endif

/* vpopmail's four files. */
#define ROAM_LIST "open-smtp"
#define ROAM_LOCK "open-smtp.lock"
#define ROAM_RULES "tcp.smtp"
#define ROAM_CDB "tcp.smtp.cdb"
/* And ours: open-smtp(5) says what each is for. */
#define ROAM_INDEX "open-smtp.index"
#define ROAM_BUILD_LOCK "tcp.smtp.cdb.lock"
#define ROAM_OUTBOX "open-smtp.outbox"
#define ROAM_SENDING "open-smtp.outbox.sending"

/* How long a writer waits for the lock before it gives up. */
#define ROAM_LOCK_MS 10000

/* A file as fstat sees it; all zero for a missing file. */
struct fileid {
	uint64_t dev, ino, size;
};

void fileid_of(struct fileid *id, const struct stat *st);

const char *roamdir_path(void);
int roamdir_open(const char *dir, struct fail *f);
int roamdir_lock(int dirfd, const char *dir, const char *name, unsigned ms,
		 struct fail *f);
int roamdir_flock(int fd, int op, unsigned ms);
void roamdir_sweep(int dirfd, const char *const *names);
int roamdir_create(int dirfd, const char *name, int flags, mode_t mode,
		   const struct stat *like);
int roamdir_open_or_create(int dirfd, const char *name, int flags);
int roamdir_read(int dirfd, const char *name, int follow, char **text,
		 size_t *len, struct fileid *id, struct fail *f);

#endif

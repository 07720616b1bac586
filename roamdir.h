/* roamdir.h: the roam directory: its files, its writers' lock, dead writers'
 * temps. */
#ifndef ROAMDIR_H
#define ROAMDIR_H

#include "log.h"

#define ROAM_LIST "open-smtp"
#define ROAM_LOCK "open-smtp.lock"
#define ROAM_RULES "tcp.smtp"
#define ROAM_CDB "tcp.smtp.cdb"
#define ROAM_INDEX "open-smtp.index"
#define ROAM_JOURNAL "open-smtp.journal"
#define ROAM_MERGING "open-smtp.journal.merging"
#define ROAM_STAMP "open-smtp.stamp"
#define ROAM_CDB_OLD "tcp.smtp.cdb.old"

/* How long a writer waits for the lock before it gives up. */
#define ROAM_LOCK_MS 10000

int roamdir_open(const char *dir, struct fail *f);
int roamdir_lock(int dirfd, const char *dir, unsigned ms, struct fail *f);
int roamdir_lock_shared(int dirfd);
void roamdir_sweep(int dirfd);
void roamdir_sweep_old(int dirfd);
struct fileid;
int roamdir_read(int dirfd, const char *name, int follow, char **text,
		 size_t *len, struct fileid *id, struct fail *f);

#endif

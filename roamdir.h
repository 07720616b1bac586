/* roamdir.h: the roam directory, its writers' lock, and dead writers' temps. */
#ifndef ROAMDIR_H
#define ROAMDIR_H

#include "log.h"

#define ROAM_LIST "open-smtp"
#define ROAM_LOCK "open-smtp.lock"
#define ROAM_RULES "tcp.smtp"
#define ROAM_CDB "tcp.smtp.cdb"

/* How long a writer waits for the lock before it gives up. */
#define ROAM_LOCK_MS 10000

int roamdir_open(const char *dir, struct fail *f);
int roamdir_lock(int dirfd, const char *dir, unsigned ms, struct fail *f);

#endif

/* journal.h: open-smtp.journal, new addresses waiting for the lock, so that
 * whoever holds it adds them all in one pass. */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "openlist.h"

int journal_add(int dirfd, const struct openentry *e, struct fail *f);
int journal_keep(int dirfd, const struct openentry *e, struct fail *f);
int journal_waiting(int dirfd, uint64_t now);
int journal_take(int dirfd, char **text, size_t *len, struct fail *f);
void journal_done(int dirfd);

#endif

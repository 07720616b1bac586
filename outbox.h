/* outbox.h: open-smtp.outbox, this host's logins and closes waiting for
 * roamsync to pass them on to the other hosts. */
#ifndef OUTBOX_H
#define OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "ip.h"
#include "log.h"
#include "openlist.h"

/* What a line of the outbox says. */
enum outbox_kind {
	OUTBOX_BAD = -1,
	OUTBOX_EMPTY = 0,
	OUTBOX_LOGIN = 1, /* "IP:rule<TAB>epoch", the login's list line */
	OUTBOX_CLOSE = 2  /* "-IP<TAB>epoch", clearopensmtp -d */
};

struct outbox_event {
	char ip[IP_FMTLEN];
	uint64_t ts;
};

/* What a writer did: there is no outbox while roamsync never ran. */
enum outbox_status { OUTBOX_FAILED = -1, OUTBOX_NONE = 0, OUTBOX_APPENDED = 1 };

enum outbox_status outbox_add_login(const char *dir, const struct openentry *e,
				    struct fail *f);
enum outbox_status outbox_add_close(const char *dir, const char *ip,
				    uint64_t ts, struct fail *f);
enum outbox_kind outbox_parse_line(const char *line, size_t len,
				   struct outbox_event *ev);

/* roamsync's side. */
int outbox_create(int dirfd, struct fail *f);
int outbox_take(int dirfd, char **text, size_t *len, struct fail *f);
void outbox_done(int dirfd);

#endif

/* SPDX-License-Identifier: ISC */
/* outbox.h: open-smtp.outbox, this host's logins and closes waiting for
 * roamsync to pass them on to the other hosts. */
#ifndef OUTBOX_H
#define OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "account.h"
#include "ip.h"
#include "log.h"
#include "openlist.h"

/* What a line of the outbox says. A time is "SECONDS.MMM", or whole
 * seconds in the lines of earlier versions. */
enum outbox_kind {
	OUTBOX_BAD = -1,
	OUTBOX_EMPTY = 0,
	OUTBOX_LOGIN = 1, /* "+IP<TAB>time[<TAB>account]"; or
			     "IP:rule<TAB>epoch" */
	OUTBOX_CLOSE = 2  /* "-IP<TAB>time", clearopensmtp -d */
};

struct outbox_event {
	char ip[IP_FMTLEN];
	uint64_t ms;	     /* since the epoch; UINT64_MAX if further */
	const char *account; /* a login's, in the line; NULL if none */
	size_t alen;
};

/* Room for a line the writers make, its newline included. */
#define OUTBOX_LINEMAX (IP_FMTLEN + 32 + ACCOUNT_MAX)

/* The outbox taken, read a line at a time into a buffer of this size:
 * however long it is, roamsync never holds all of it. */
#define OUTBOX_READMAX 65536
struct outbox_reader {
	int fd;
	int eof, skip; /* skip: the rest of a line too long to hold */
	size_t pos, len, lineno;
	char buf[OUTBOX_READMAX];
};

/* What a writer did: there is no outbox while roamsync never ran. */
enum outbox_status { OUTBOX_FAILED = -1, OUTBOX_NONE = 0, OUTBOX_APPENDED = 1 };

uint64_t outbox_now_ms(void);
enum outbox_status outbox_add_login(const char *dir, const char *ip,
				    const char *account, size_t alen,
				    uint64_t ms, struct fail *f);
enum outbox_status outbox_add_close(const char *dir, const char *ip,
				    uint64_t ms, struct fail *f);
size_t outbox_format(char buf[OUTBOX_LINEMAX], enum outbox_kind k,
		     const char *ip, const char *account, size_t alen,
		     uint64_t ms);
enum outbox_kind outbox_parse_line(const char *line, size_t len,
				   struct outbox_event *ev);

/* roamsync's side. */
int outbox_create(int dirfd, struct fail *f);
int outbox_take(int dirfd, struct outbox_reader *r, struct fail *f);
int outbox_next(struct outbox_reader *r, const char **line, size_t *len,
		struct fail *f);
void outbox_done(int dirfd, struct outbox_reader *r, int pushed);

#endif

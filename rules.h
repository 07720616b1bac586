/* SPDX-License-Identifier: ISC */
/* rules.h: tcprules lines, parsed exactly as ucspi-tcp's tcprules does. */
#ifndef RULES_H
#define RULES_H

#include <stddef.h>

/* Receives each cdb record of a line; returns 0, or -1 with errno set. */
typedef int rules_emit(void *ctx, const char *key, size_t keylen,
		       const char *data, size_t datalen);

enum rules_status {
	RULES_SKIP = 0, /* comment, blank, or no colon: no record */
	RULES_OK = 1,	/* records emitted */
	RULES_BAD = -1, /* tcprules would say "unable to parse this line" */
	RULES_SYS = -2	/* emit failed or out of memory; errno is set */
};

enum rules_status rules_parse_line(const char *line, size_t len,
				   rules_emit *emit, void *ctx);
size_t rules_split(const char *line, size_t len);
enum rules_status rules_compile(const char *rule, size_t len, char *data,
				size_t *dlen);

#endif

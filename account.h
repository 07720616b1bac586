/* account.h: account names: in a list line's rule as a variable, and in
 * the deny file. */
/* SPDX-License-Identifier: ISC */
#ifndef ACCOUNT_H
#define ACCOUNT_H

#include <stddef.h>

#include "openlist.h"

/* The variable a list line's rule names its account in, by default. */
#define ACCOUNT_VAR_DEFAULT "ROAMUSER"
/* The longest account name taken in: a checkpassword's names are at most
 * 512 bytes; a longer one is refused, not cut. */
#define ACCOUNT_MAX 1024

enum account_status {
	ACCOUNT_OK = 0,
	ACCOUNT_CONTROL = -1, /* a control byte: it would break the line */
	ACCOUNT_NOQUOTE = -2, /* every quote character is in it */
	ACCOUNT_LONG = -3,    /* the rule would pass OPENLIST_RULEMAX */
	ACCOUNT_NOMEM = -4
};

int account_var_ok(const char *var);
enum account_status account_rule(const char *rule, const char *var,
				 const char *name, size_t len, char **out);
const char *account_why(enum account_status s);
int account_of(const struct openentry *e, const char *var, const char *name,
	       size_t len);
int account_listed(const char *text, size_t tlen, const char *name, size_t len);

#endif

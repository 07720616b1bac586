/* account.c: account names: in a list line's rule as a variable, and in
 * the deny file. */
/* SPDX-License-Identifier: ISC */
#include <stdlib.h>
#include <string.h>

#include "account.h"

/* What may quote a value: tcprules takes the character after "=" as the
 * quote, whatever it is. Printable ones, neither a space (trimmed at the
 * end of a line) nor a comma. */
static const char quotes[] = "\"'|/#%!~^:;+*@$&?=<>`{}[]()-_.";

/* A variable's name as tcprules and the environment take it: a letter or
 * '_', then letters, digits or '_'; at most 64 bytes. */
int
account_var_ok(const char *var)
{
	size_t n = strlen(var);

	if (n == 0 || n > 64 || (var[0] >= '0' && var[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = var[i];

		if (!(c == '_' || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return 0;
	}
	return 1;
}

/* Why a name is left out of the rule, for a warning. */
const char *
account_why(enum account_status s)
{
	switch (s) {
	case ACCOUNT_CONTROL:
		return "it holds a control byte (a TAB, a newline...), which "
		       "would break the list's line";
	case ACCOUNT_NOQUOTE:
		return "it holds every character tcprules could quote it with";
	case ACCOUNT_LONG:
		return "too long for a line of the list";
	case ACCOUNT_NOMEM:
		return "out of memory";
	default:
		return "";
	}
}

/*
 * rule (a relay rule, "allow,...") with ",VAR=<q>name<q>" added, q a
 * quote character the name does not hold, into *out, which the caller
 * frees. ACCOUNT_OK only if a list line with it reads back as a good
 * entry whose account is the name, byte for byte.
 */
enum account_status
account_rule(const char *rule, const char *var, const char *name, size_t len,
	     char **out)
{
	size_t rlen = strlen(rule), vlen = strlen(var), n;
	struct openentry e = {.ip = "255.255.255.255"};
	char line[OPENLIST_LINEMAX], q = 0;

	*out = 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return ACCOUNT_CONTROL;
	for (const char *p = quotes; *p && !q; p++)
		if (!memchr(name, *p, len))
			q = *p;
	if (!q)
		return ACCOUNT_NOQUOTE;
	n = rlen + 1 + vlen + 1 + 1 + len + 1;
	if (n > OPENLIST_RULEMAX)
		return ACCOUNT_LONG;
	if (!(*out = malloc(n + 1)))
		return ACCOUNT_NOMEM;
	memcpy(*out, rule, rlen);
	(*out)[rlen] = ',';
	memcpy(*out + rlen + 1, var, vlen);
	(*out)[rlen + 1 + vlen] = '=';
	(*out)[rlen + 2 + vlen] = q;
	memcpy(*out + rlen + 3 + vlen, name, len);
	(*out)[n - 1] = q;
	(*out)[n] = '\0';
	e.rule = *out;
	e.rulelen = n;
	n = openlist_format(line, &e);
	if (openlist_parse_line(line, n - 1, &e) != LINE_ENTRY ||
	    !account_of(&e, var, name, len)) {
		free(*out);
		*out = 0;
		return ACCOUNT_NOQUOTE;
	}
	return ACCOUNT_OK;
}

/* Whether a good entry's rule names the account name in var. Cheap for
 * the lines of other accounts: the name's bytes are looked for first. */
int
account_of(const struct openentry *e, const char *var, const char *name,
	   size_t len)
{
	char *buf;
	long n;
	int r;

	if (len && !memmem(e->rule, e->rulelen, name, len))
		return 0;
	if (!(buf = malloc(len + 1)))
		return 0;
	n = openlist_var(e, var, buf, len + 1);
	r = n >= 0 && (size_t)n == len && memcmp(buf, name, len) == 0;
	free(buf);
	return r;
}

/* Whether text (the deny file) has a line that is exactly name. */
int
account_listed(const char *text, size_t tlen, const char *name, size_t len)
{
	size_t pos = 0;

	while (pos < tlen) {
		const char *nl = memchr(text + pos, '\n', tlen - pos);
		size_t n = nl ? (size_t)(nl - text - pos) : tlen - pos;

		if (n == len && n && memcmp(text + pos, name, len) == 0)
			return 1;
		pos += n + 1;
	}
	return 0;
}

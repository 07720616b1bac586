/* SPDX-License-Identifier: ISC */
/* rules.c: tcprules lines, parsed exactly as ucspi-tcp's tcprules does. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

/*
 * Where the address ends: the first colon followed by "allow" or "deny",
 * as Debian's IPv6 tcprules finds it. On every line the IPv4 build accepts
 * that is also the first colon. Returns len if there is none.
 */
size_t
rules_split(const char *x, size_t len)
{
	size_t c;

	for (c = 0; c < len; c++) {
		size_t rest = len - c - 1;

		if (x[c] != ':')
			continue;
		if (rest >= 4 && memcmp(x + c + 1, "deny", 4) == 0)
			return c;
		if (rest >= 5 && memcmp(x + c + 1, "allow", 5) == 0)
			return c;
	}
	return len;
}

/* tcprules' scan_ulong with its NUL check: wraps, stops at a non-digit. */
static int
getnum(const char *s, size_t n, uint64_t *u)
{
	uint64_t r = 0;
	size_t pos = 0;

	while (pos < n && s[pos] >= '0' && s[pos] <= '9')
		r = r * 10 + (uint64_t)(s[pos++] - '0');
	*u = r;
	return pos == n || s[pos] == '\0';
}

static enum rules_status
emit_range(const char *a, size_t alen, size_t dash, const char *data,
	   size_t datalen, rules_emit *emit, void *ctx)
{
	size_t left = 0, right, i, keycap;
	uint64_t bot, top;
	char stackkey[256], *key = stackkey;
	enum rules_status r = RULES_OK;

	for (i = dash; i > 0; i--)
		if (a[i - 1] == '.') {
			left = i;
			break;
		}
	for (right = dash + 1; right < alen && a[right] != '.'; right++)
		;
	if (!getnum(a + left, dash - left, &bot) ||
	    !getnum(a + dash + 1, right - dash - 1, &top))
		return RULES_BAD;
	if (top > 255)
		top = 255;
	keycap = alen + 21;
	if (keycap > sizeof stackkey && !(key = malloc(keycap)))
		return RULES_SYS;
	for (; bot <= top; bot++) {
		char num[21];
		size_t n = 0, k = left;
		uint64_t v = bot;

		do
			num[n++] = (char)('0' + v % 10);
		while ((v /= 10) != 0);
		memcpy(key, a, left);
		while (n)
			key[k++] = num[--n];
		memcpy(key + k, a + right, alen - right);
		k += alen - right;
		if (emit(ctx, key, k, data, datalen) == -1) {
			r = RULES_SYS;
			break;
		}
	}
	if (key != stackkey)
		free(key);
	return r;
}

/*
 * Parses ",NAME=<q>value<q>..." after the verb into "+NAME=value\0"...;
 * with data NULL it only checks.
 */
static enum rules_status
parse_instructions(const char *x, size_t len, char *data, size_t *dlen)
{
	while (len) {
		const char *eq, *end;
		size_t i;

		if (*x != ',')
			return RULES_BAD;
		if (!(eq = memchr(x, '=', len)))
			return RULES_BAD;
		i = (size_t)(eq - x);
		if (data) {
			data[*dlen] = '+';
			memcpy(data + *dlen + 1, x + 1, i);
		}
		*dlen += i + 1;
		x += i + 1;
		len -= i + 1;
		if (!len)
			return RULES_BAD;
		if (!(end = memchr(x + 1, *x, len - 1)))
			return RULES_BAD;
		i = (size_t)(end - x - 1);
		if (data) {
			memcpy(data + *dlen, x + 1, i);
			data[*dlen + i] = '\0';
		}
		*dlen += i + 1;
		x += i + 2;
		len -= i + 2;
	}
	return RULES_OK;
}

/*
 * The data tcprules writes for a rule, the part of a line after the
 * address and its colon ("allow,..." or "deny,...", trailing blanks
 * ignored): "D\0" for deny, then "+NAME=value\0" per instruction. data has
 * room for len + 2 bytes, or is NULL to check the rule only. Returns
 * RULES_OK or RULES_BAD.
 */
enum rules_status
rules_compile(const char *rule, size_t len, char *data, size_t *dlen)
{
	while (len && (rule[len - 1] == '\n' || rule[len - 1] == ' ' ||
		       rule[len - 1] == '\t'))
		len--;
	*dlen = 0;
	if (len >= 4 && memcmp(rule, "deny", 4) == 0) {
		if (data)
			memcpy(data, "D", 2);
		*dlen = 2;
		rule += 4;
		len -= 4;
	} else if (len >= 5 && memcmp(rule, "allow", 5) == 0) {
		rule += 5;
		len -= 5;
	} else
		return RULES_BAD;
	return parse_instructions(rule, len, data, dlen);
}

/*
 * One line of a rules file, with or without its newline. Emits the records
 * tcprules would write for it, in its order: one per address, or one per
 * address of a range "a.b.c.x-y" (only when the address has no '=' or '@').
 */
enum rules_status
rules_parse_line(const char *x, size_t len, rules_emit *emit, void *ctx)
{
	char stackdata[512], *data = stackdata;
	size_t colon, dlen = 0, rest;
	const char *dash;
	enum rules_status r;

	if (len == 0 || x[0] == '#' || x[0] == '\n')
		return RULES_SKIP;
	while (len &&
	       (x[len - 1] == '\n' || x[len - 1] == ' ' || x[len - 1] == '\t'))
		len--;
	if (!memchr(x, ':', len))
		return RULES_SKIP;
	colon = rules_split(x, len);
	if (colon == len)
		return RULES_BAD;
	rest = len - colon - 1;
	/* The data is never longer than the rest of the line plus "D\0". */
	if (rest + 2 > sizeof stackdata && !(data = malloc(rest + 2)))
		return RULES_SYS;
	r = rules_compile(x + colon + 1, rest, data, &dlen);
	if (r == RULES_OK) {
		if (!memchr(x, '=', colon) && !memchr(x, '@', colon) &&
		    (dash = memchr(x, '-', colon)))
			r = emit_range(x, colon, (size_t)(dash - x), data, dlen,
				       emit, ctx);
		else if (emit(ctx, x, colon, data, dlen) == -1)
			r = RULES_SYS;
	}
	if (data != stackdata)
		free(data);
	return r;
}

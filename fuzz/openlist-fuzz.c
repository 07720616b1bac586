/* SPDX-License-Identifier: ISC */
/* openlist-fuzz.c: libFuzzer target for open-smtp lines and whole lists
 * (openlist_parse_line, openlist_next), and log_sanitize of bad lines. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip.h"
#include "log.h"
#include "openlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
broken(const char *what, size_t size)
{
	fprintf(stderr,
		"openlist-fuzz: invariant broken: %s (input %zu bytes)\n", what,
		size);
	abort();
}

/* A growing buffer for lists written back. */
struct buf {
	char *p;
	size_t n, cap;
};

static void
put(struct buf *b, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->n + n)
			cap *= 2;
		if (!(b->p = realloc(b->p, cap)))
			abort();
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

/* What the list writer writes for an entry, without the newline: the
 * canonical line of a good one, the line verbatim for a malformed one. */
static void
put_entry(struct buf *b, const struct openentry *e)
{
	char line[OPENLIST_LINEMAX];

	if (!e->ip[0]) {
		put(b, e->raw, e->rawlen);
		return;
	}
	put(b, line, openlist_format(line, e) - 1);
}

static int
unhex(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10;
}

/* log_sanitize: printable, quoted, capped, and reversible when whole. */
static void
check_sanitize(const char *s, size_t len)
{
	char out[LOG_SAFE], back[LOG_SAFE];
	size_t n = log_sanitize(out, sizeof out, s, len), i, k = 0;

	if (n >= sizeof out || n != strlen(out) || n < 2 || out[0] != '"')
		broken("log_sanitize: bad length or no opening quote", len);
	for (i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 ||
		    (unsigned char)out[i] > 0x7e)
			broken("log_sanitize: unprintable byte", len);
	if (n >= 4 && memcmp(out + n - 4, "\"...", 4) == 0)
		return;
	if (out[n - 1] != '"')
		broken("log_sanitize: no closing quote", len);
	for (i = 1; i < n - 1; i++) {
		if (out[i] == '"')
			broken("log_sanitize: quote inside", len);
		if (out[i] == '\\') {
			if (i + 3 >= n - 1 || out[i + 1] != 'x')
				broken("log_sanitize: bad escape", len);
			back[k++] =
			    (char)(unhex(out[i + 2]) << 4 | unhex(out[i + 3]));
			i += 3;
		} else {
			back[k++] = out[i];
		}
	}
	if (k != len || memcmp(back, s, len) != 0)
		broken("log_sanitize: whole excerpt does not decode back", len);
}

/* One line (no newline needed): the result and the entry it gives. */
static int
check_line(const char *line, size_t len, struct openentry *e)
{
	int r = openlist_parse_line(line, len, e);
	char again[IP_FMTLEN];
	const char *tab;
	size_t iplen;

	if (r == 0) {
		if (len != 0)
			broken("a non-empty line read as empty", len);
		return r;
	}
	if (len == 0)
		broken("an empty line not read as empty", len);
	if (r == -1) {
		if (e->ip[0] || e->raw != line || e->rawlen != len)
			broken("a malformed line not kept verbatim", len);
		check_sanitize(line, len);
		return r;
	}
	if (r != 1)
		broken("unexpected result", len);
	iplen = strlen(e->ip);
	if (!iplen || iplen >= IP_FMTLEN)
		broken("a good entry with no address", len);
	/* The address is canonical: it re-parses to itself. */
	if (ip_canonical(again, e->ip, iplen) != iplen ||
	    strcmp(again, e->ip) != 0)
		broken("the entry's address is not canonical", len);
	/* Its key is no prefix to tcpserver. */
	if (!ip_alone(e->ip))
		broken("the entry's address is not alone", len);
	/* The rule lies in the line, after "ADDRESS:", before the TAB. */
	tab = memchr(line, '\t', len);
	if (!tab || e->rule <= line || e->rule + e->rulelen != tab ||
	    e->rule[-1] != ':')
		broken("the rule is not between the colon and the TAB", len);
	if (!((e->rulelen >= 5 && memcmp(e->rule, "allow", 5) == 0) ||
	      (e->rulelen >= 4 && memcmp(e->rule, "deny", 4) == 0)))
		broken("the rule is not allow or deny", len);
	if (ip_canonical(again, line, (size_t)(e->rule - 1 - line)) != iplen ||
	    strcmp(again, e->ip) != 0)
		broken("the address as written does not give the entry's", len);
	/* Written back as "ip:rule<TAB>ts", it reads as the same entry. */
	{
		struct buf b = {0, 0, 0};
		struct openentry w;

		put_entry(&b, e);
		if (openlist_parse_line(b.p, b.n, &w) != 1 ||
		    strcmp(w.ip, e->ip) != 0 || w.ts != e->ts ||
		    w.rulelen != e->rulelen ||
		    memcmp(w.rule, e->rule, e->rulelen) != 0)
			broken("an entry written back reads differently", len);
		free(b.p);
	}
	return r;
}

/* Walks text with the cursor, and line by line by hand: the two agree. */
static void
walk(const char *text, size_t len, struct buf *out)
{
	struct openlist_cursor c;
	struct openentry e, mine;
	size_t pos = 0, lineno = 0, nbad = 0, firstbad = 0;
	int r;

	memset(&c, 0, sizeof c);
	c.text = text;
	c.len = len;
	for (;;) {
		const char *line = 0, *nl;
		size_t n = 0;
		int want = 0;

		/* By hand: the next non-empty line. */
		while (pos < len) {
			line = text + pos;
			nl = memchr(line, '\n', len - pos);
			n = nl ? (size_t)(nl - line) : len - pos;
			pos += n + 1;
			lineno++;
			if ((want = check_line(line, n, &mine)) != 0)
				break;
		}
		r = openlist_next(&c, &e);
		if (r != want)
			broken("the cursor's result differs", len);
		if (r == 0)
			break;
		if (c.lineno != lineno)
			broken("the cursor's line number differs", len);
		if (strcmp(e.ip, mine.ip) != 0 || e.ts != mine.ts ||
		    e.rule != mine.rule || e.rulelen != mine.rulelen)
			broken("the cursor's entry differs", len);
		if (r < 0 && (e.raw != line || e.rawlen != n))
			broken("the cursor's malformed line differs", len);
		if (r < 0 && nbad++ == 0)
			firstbad = lineno;
		put_entry(out, &e);
		put(out, "\n", 1);
	}
	if (c.pos < len)
		broken("the cursor stopped before the end", len);
	/* The bad lines, counted for one report: all of them, and the
	 * first as it is. */
	if (c.bad.n != nbad || (nbad && (c.bad.lineno != firstbad ||
					 c.bad.raw < text ||
					 c.bad.raw + c.bad.rawlen > text + len)))
		broken("the cursor's count of bad lines differs", len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf once = {0, 0, 0}, twice = {0, 0, 0};
	struct openentry e;

	/* The whole input as one line. */
	check_line((const char *)data, size, &e);

	/* The whole input as a list; written back (good entries in
	 * canonical form, bad lines verbatim) it reads back the same, and
	 * writing that again changes nothing. */
	walk((const char *)data, size, &once);
	walk(once.p ? once.p : "", once.n, &twice);
	if (once.n != twice.n ||
	    (once.p && twice.p && memcmp(once.p, twice.p, once.n) != 0))
		broken("a list written back is not stable", size);
	free(once.p);
	free(twice.p);
	return 0;
}

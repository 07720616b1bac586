/* SPDX-License-Identifier: ISC */
/* rules-fuzz.c: libFuzzer target for tcprules lines (rules_parse_line). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one parse emitted: every record, kept for the checks below. */
struct seen {
	int count;
	int fail_at;	  /* the emit that fails (returns -1), or 0 for none */
	char *first_data; /* a copy: the parser's buffer goes when it returns */
	size_t first_datalen;
	int prev_num; /* a range's last number */
	const char *line;
	size_t colon;
	int ranged;
};

static void
broken(const char *what, const uint8_t *data, size_t size)
{
	fprintf(stderr, "rules-fuzz: invariant broken: %s (input %zu bytes)\n",
		what, size);
	(void)data;
	abort();
}

static int
record(void *ctx, const char *key, size_t keylen, const char *d, size_t dl)
{
	struct seen *s = ctx;

	s->count++;
	if (s->fail_at && s->count == s->fail_at)
		return -1;
	/* Every record of a line carries the same data. */
	if (s->count == 1) {
		if (!(s->first_data = malloc(dl + 1)))
			abort();
		memcpy(s->first_data, d, dl);
		s->first_datalen = dl;
	} else if (dl != s->first_datalen ||
		   memcmp(d, s->first_data, dl) != 0) {
		broken("records of one line differ in data", 0, 0);
	}
	/* Touch every byte so that ASan sees an out-of-bounds key or data. */
	{
		volatile unsigned sum = 0;
		size_t i;

		for (i = 0; i < keylen; i++)
			sum += (unsigned char)key[i];
		for (i = 0; i < dl; i++)
			sum += (unsigned char)d[i];
		(void)sum;
	}
	if (!s->ranged) {
		/* Without a range, the one key is the address as written. */
		if (s->count > 1)
			broken("more than one record without a range", 0, 0);
		if (keylen != s->colon || memcmp(key, s->line, keylen) != 0)
			broken("key is not the bytes before the colon", 0, 0);
	} else {
		/* a.b.c.x-y: the address with the part around the first dash
		 * (from the dot before it to the dot after it) replaced by one
		 * decimal number from 0 to 255, increasing from key to key. */
		const char *a = s->line, *dash = memchr(a, '-', s->colon);
		size_t left = (size_t)(dash - a), right = left + 1, n = 0;
		unsigned v = 0;

		while (left > 0 && a[left - 1] != '.')
			left--;
		while (right < s->colon && a[right] != '.')
			right++;
		if (s->count > 256)
			broken("more than 256 records for a range", 0, 0);
		if (keylen < left + (s->colon - right) + 1 ||
		    memcmp(key, a, left) != 0 ||
		    memcmp(key + keylen - (s->colon - right), a + right,
			   s->colon - right) != 0)
			broken("range key is not the address around a number",
			       0, 0);
		for (n = left; n < keylen - (s->colon - right); n++) {
			if (key[n] < '0' || key[n] > '9' ||
			    (n > left && key[left] == '0'))
				broken("range key number is not decimal", 0, 0);
			v = v * 10 + (unsigned)(key[n] - '0');
			if (v > 255)
				broken("range key number above 255", 0, 0);
		}
		if (s->count > 1 && (int)v <= s->prev_num)
			broken("range keys not increasing", 0, 0);
		s->prev_num = (int)v;
	}
	return 0;
}

/*
 * A model of the instructions after the verb, ",NAME=<q>value<q>...": the
 * data tcprules makes of them, "D\0" for deny then "+NAME=value\0" each
 * (names and values may hold any byte, NUL included). Returns the data's
 * length, or -1 where tcprules refuses the line.
 */
static long
model_data(const char *s, size_t n, int deny, char *out)
{
	size_t i = 0, o = 0, j, k;

	if (deny) {
		out[o++] = 'D';
		out[o++] = '\0';
	}
	while (i < n) {
		if (s[i] != ',')
			return -1;
		for (j = i + 1; j < n && s[j] != '='; j++)
			;
		if (j == n || j + 1 == n)
			return -1;
		for (k = j + 2; k < n && s[k] != s[j + 1]; k++)
			;
		if (k == n)
			return -1;
		out[o++] = '+';
		memcpy(out + o, s + i + 1, j - i); /* NAME= */
		o += j - i;
		memcpy(out + o, s + j + 2, k - j - 2); /* value */
		o += k - j - 2;
		out[o++] = '\0';
		i = k + 1;
	}
	return (long)o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *x = (const char *)data;
	struct seen s;
	size_t len = size, colon, rest;
	char *model = 0;
	long want = -1;
	int r, r2, deny;

	/* rules_split: at len, or at a colon followed by allow or deny. */
	colon = rules_split(x, size);
	if (colon > size)
		broken("rules_split past the end", data, size);
	if (colon < size &&
	    !(x[colon] == ':' && ((size - colon - 1 >= 4 &&
				   memcmp(x + colon + 1, "deny", 4) == 0) ||
				  (size - colon - 1 >= 5 &&
				   memcmp(x + colon + 1, "allow", 5) == 0))))
		broken("rules_split not at :allow or :deny", data, size);

	while (len &&
	       (x[len - 1] == '\n' || x[len - 1] == ' ' || x[len - 1] == '\t'))
		len--;
	colon = rules_split(x, len);
	memset(&s, 0, sizeof s);
	s.line = x;
	s.colon = colon;
	s.ranged = colon < len && !memchr(x, '=', colon) &&
		   !memchr(x, '@', colon) && memchr(x, '-', colon);
	if (colon < len) {
		deny = memcmp(x + colon + 1, "deny", 4) == 0;
		rest = len - colon - 1 - (deny ? 4 : 5);
		if (!(model = malloc(rest + 2)))
			abort();
		want = model_data(x + len - rest, rest, deny, model);
	}
	r = rules_parse_line(x, size, record, &s);
	if (r == RULES_OK && want < 0)
		broken("accepted what the model refuses", data, size);

	switch (r) {
	case RULES_SKIP:
		if (s.count)
			broken("a skipped line emitted records", data, size);
		if (!(size == 0 || x[0] == '#' || x[0] == '\n' ||
		      !memchr(x, ':', len)))
			broken("skipped a line with a colon", data, size);
		break;
	case RULES_BAD:
		if (s.count)
			broken("a bad line emitted records", data, size);
		if (size == 0 || x[0] == '#' || x[0] == '\n')
			broken("a comment or blank line is bad", data, size);
		/* Only bad instructions or a bad range refuse a line. */
		if (colon < len && want >= 0 && !s.ranged)
			broken("refused what the model accepts", data, size);
		break;
	case RULES_OK:
		if (size == 0 || x[0] == '#' || x[0] == '\n' || colon == len)
			broken("OK without an address and verb", data, size);
		if (!s.ranged && s.count != 1)
			broken("OK without exactly one record", data, size);
		if (!s.count)
			break; /* an empty range, like 1.2.3.300-400 */
		/* Each instruction shrinks by one byte ("=<q>v<q>" to
		 * "=v\0"); the verb gives 5 bytes (allow) or 2 (deny). */
		if (s.first_datalen + 2 > len - colon - 1)
			broken("data longer than the line allows", data, size);
		if ((long)s.first_datalen != want ||
		    memcmp(s.first_data, model, s.first_datalen) != 0)
			broken("data differs from the model", data, size);
		break;
	default:
		broken("unexpected result", data, size);
	}

	/* The same line parses the same way again. */
	{
		struct seen again;
		int count = s.count;

		memset(&again, 0, sizeof again);
		again.line = x;
		again.colon = colon;
		again.ranged = s.ranged;
		r2 = rules_parse_line(x, size, record, &again);
		if (r2 != r || again.count != count ||
		    again.first_datalen != s.first_datalen ||
		    (count && memcmp(again.first_data, s.first_data,
				     s.first_datalen) != 0))
			broken("a second parse differs", data, size);
		free(again.first_data);
	}

	/* An emit that fails gives RULES_SYS at once, and frees what it
	 * allocated (LeakSanitizer checks). */
	if (r == RULES_OK && s.count > 0) {
		struct seen fail;

		memset(&fail, 0, sizeof fail);
		fail.line = x;
		fail.colon = colon;
		fail.ranged = s.ranged;
		fail.fail_at = s.count > 1 ? 2 : 1;
		r2 = rules_parse_line(x, size, record, &fail);
		if (r2 != RULES_SYS || fail.count != fail.fail_at)
			broken("a failed emit is not RULES_SYS at once", data,
			       size);
		free(fail.first_data);
	}
	free(s.first_data);
	free(model);
	return 0;
}

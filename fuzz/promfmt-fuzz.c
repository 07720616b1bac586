/* promfmt-fuzz.c: libFuzzer target for the label escaper (promfmt_label):
 * any bytes give a value the format's parser takes: the name itself,
 * each byte not in UTF-8 shown as \xHH. */
/* SPDX-License-Identifier: ISC */
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "promfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
broken(const char *what, size_t size)
{
	fprintf(stderr,
		"promfmt-fuzz: invariant broken: %s (input %zu bytes)\n", what,
		size);
	abort();
}

/* As the format's parser reads a label value: only the escapes \\, \"
 * and \n, no bare quote or newline. */
static size_t
unescape(const char *s, size_t n, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\n')
			broken("a bare quote or newline", size);
		if (s[i] != '\\') {
			out[o++] = s[i];
			continue;
		}
		if (++i == n)
			broken("a lone backslash at the end", size);
		if (s[i] == 'n')
			out[o++] = '\n';
		else if (s[i] == '"' || s[i] == '\\')
			out[o++] = s[i];
		else
			broken("an escape the parser refuses", size);
	}
	return o;
}

/* What the value should be, by glibc's own UTF-8 decoder (C.UTF-8):
 * the name, each byte not part of a character as \xHH. Also checks
 * that the value is UTF-8 as the format's parser takes it. */
static size_t
expected(const unsigned char *s, size_t n, char *out)
{
	mbstate_t st;
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		wchar_t w;
		size_t k;

		memset(&st, 0, sizeof st);
		k = mbrtowc(&w, (const char *)s + i, n - i, &st);
		if (k == 0)
			k = 1; /* a NUL byte is a character of its own */
		/* glibc takes more than Unicode; the format's parser (Go's
		 * utf8.ValidString) stops at U+10FFFF, without surrogates. */
		if (k == (size_t)-1 || k == (size_t)-2 || w > 0x10ffff ||
		    (w >= 0xd800 && w <= 0xdfff)) {
			o += (size_t)sprintf(out + o, "\\x%02x", s[i]);
			i++;
			continue;
		}
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = malloc(PROMFMT_LABELMAX(size) + 1),
	     *back = malloc(PROMFMT_LABELMAX(size) + 1),
	     *want = malloc(4 * size + 6);
	size_t n, m, w;

	if (!out || !back || !want)
		abort();
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		abort();
	n = promfmt_label(out, (const char *)data, size);
	if (n > PROMFMT_LABELMAX(size))
		broken("past its room", size);
	m = unescape(out, n, back, size);
	w = expected(data, size, want);
	if (m != w || memcmp(back, want, m) != 0)
		broken("the value is not the name as shown", size);
	free(out);
	free(back);
	free(want);
	return 0;
}

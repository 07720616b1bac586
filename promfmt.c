/* promfmt.c: figures in the Prometheus text exposition format, built in a
 * buffer. */
/* SPDX-License-Identifier: ISC */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promfmt.h"

/* The length of the UTF-8 sequence at s (at most len bytes), or 0 if it
 * is not one: no overlong form, no surrogate, nothing past U+10FFFF. */
static size_t
utf8_len(const unsigned char *s, size_t len)
{
	size_t n;
	unsigned lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * A label value as the format writes it between its quotes: '\', '"' and
 * a newline escaped as "\\", "\"" and "\n". A parser takes only UTF-8
 * there: a byte that is not part of a UTF-8 character is shown as the
 * four characters \xHH (written "\\xHH"). out has room for
 * PROMFMT_LABELMAX(len); returns the length written.
 */
size_t
promfmt_label(char *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0, i = 0;

	while (i < len) {
		size_t n = utf8_len(u + i, len - i);

		if (n == 0) {
			out[o++] = '\\';
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[u[i] >> 4];
			out[o++] = hex[u[i] & 15];
			i++;
		} else if (s[i] == '\\' || s[i] == '"' || s[i] == '\n') {
			out[o++] = '\\';
			if (s[i] == '\n')
				out[o++] = 'n';
			else
				out[o++] = s[i];
			i++;
		} else {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		}
	}
	return o;
}

/* Whether name is a metric or label name: [a-zA-Z_:][a-zA-Z0-9_:]*. */
int
promfmt_name_ok(const char *name)
{
	if (!*name || (*name >= '0' && *name <= '9'))
		return 0;
	for (; *name; name++)
		if (!((*name >= 'a' && *name <= 'z') ||
		      (*name >= 'A' && *name <= 'Z') ||
		      (*name >= '0' && *name <= '9') || *name == '_' ||
		      *name == ':'))
			return 0;
	return 1;
}

/* Room for n more bytes. */
static char *
room(struct promfmt *p, size_t n)
{
	if (p->nomem)
		return 0;
	if (p->size - p->len < n) {
		size_t size = p->size ? p->size : 4096;
		char *b;

		while (size - p->len < n)
			size *= 2;
		if (!(b = realloc(p->buf, size))) {
			p->nomem = 1;
			return 0;
		}
		p->buf = b;
		p->size = size;
	}
	return p->buf + p->len;
}

static void
put(struct promfmt *p, const char *s, size_t n)
{
	char *at = room(p, n);

	if (at) {
		memcpy(at, s, n);
		p->len += n;
	}
}

static void
puts0(struct promfmt *p, const char *s)
{
	put(p, s, strlen(s));
}

/* HELP text escapes '\' and newline only. */
static void
put_help(struct promfmt *p, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			put(p, "\\\\", 2);
		else if (*s == '\n')
			put(p, "\\n", 2);
		else
			put(p, s, 1);
	}
}

/* "# HELP name help" and "# TYPE name type": once before its samples. */
void
promfmt_head(struct promfmt *p, const char *name, const char *type,
	     const char *help)
{
	puts0(p, "# HELP ");
	puts0(p, name);
	put(p, " ", 1);
	put_help(p, help);
	puts0(p, "\n# TYPE ");
	puts0(p, name);
	put(p, " ", 1);
	puts0(p, type);
	put(p, "\n", 1);
}

static void
put_u64(struct promfmt *p, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof num, "%llu", (unsigned long long)v);

	put(p, num, (size_t)n);
}

/* "name v". */
void
promfmt_value(struct promfmt *p, const char *name, uint64_t v)
{
	puts0(p, name);
	put(p, " ", 1);
	put_u64(p, v);
	put(p, "\n", 1);
}

/* "name S.MMM": milliseconds as seconds, the format's base unit. */
void
promfmt_ms(struct promfmt *p, const char *name, uint64_t ms)
{
	char frac[8];

	puts0(p, name);
	put(p, " ", 1);
	put_u64(p, ms / 1000);
	snprintf(frac, sizeof frac, ".%03u\n", (unsigned)(ms % 1000));
	puts0(p, frac);
}

/* "name{label="value"} v", the value escaped (promfmt_label). */
void
promfmt_labeled(struct promfmt *p, const char *name, const char *label,
		const char *value, size_t vlen, uint64_t v)
{
	char *at;

	puts0(p, name);
	put(p, "{", 1);
	puts0(p, label);
	put(p, "=\"", 2);
	if ((at = room(p, PROMFMT_LABELMAX(vlen))))
		p->len += promfmt_label(at, value, vlen);
	put(p, "\"} ", 3);
	put_u64(p, v);
	put(p, "\n", 1);
}

void
promfmt_free(struct promfmt *p)
{
	free(p->buf);
	*p = (struct promfmt){0};
}

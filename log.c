/* log.c: one-line messages on stderr, and failures kept for the caller. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <skalibs/allreadwrite.h>

#include "log.h"

const char *log_prog = "checkpw-roam";

/* Appends s to buf at *pos, truncating at size - 1. */
static void
cat_str(char *buf, size_t size, size_t *pos, const char *s)
{
	size_t n = strlen(s);

	if (n > size - 1 - *pos)
		n = size - 1 - *pos;
	memcpy(buf + *pos, s, n);
	*pos += n;
	buf[*pos] = '\0';
}

static void
cat_parts(char *buf, size_t size, size_t *pos, const char *const *parts)
{
	for (; *parts; parts++)
		cat_str(buf, size, pos, *parts);
}

static void
put_line(const char *level, const char *const *parts)
{
	char line[1024];
	size_t pos = 0;
	int saved = errno;

	cat_str(line, sizeof line - 1, &pos, log_prog);
	cat_str(line, sizeof line - 1, &pos, ": ");
	cat_str(line, sizeof line - 1, &pos, level);
	cat_str(line, sizeof line - 1, &pos, ": ");
	cat_parts(line, sizeof line - 1, &pos, parts);
	line[pos++] = '\n';
	/* One write, so concurrent writers never interleave within a line. */
	(void)allwrite(2, line, pos);
	errno = saved;
}

void
log_parts(const char *level, const char *const *parts)
{
	put_line(level, parts);
}

void
log_die_parts(int code, const char *const *parts)
{
	put_line("fatal", parts);
	_exit(code);
}

void
fail_parts(struct fail *f, int code, const char *const *parts)
{
	size_t pos = 0;

	f->code = code;
	f->msg[0] = '\0';
	cat_parts(f->msg, sizeof f->msg, &pos, parts);
}

void
failsys_parts(struct fail *f, const char *const *parts)
{
	size_t pos = 0;
	const char *reason = strerror(errno);

	f->code = 111;
	f->msg[0] = '\0';
	cat_parts(f->msg, sizeof f->msg, &pos, parts);
	cat_str(f->msg, sizeof f->msg, &pos, ": ");
	cat_str(f->msg, sizeof f->msg, &pos, reason);
}

/*
 * Copies untrusted text as a double-quoted, printable-ASCII excerpt:
 * other bytes (and quote and backslash) become \xNN, and text that does
 * not fit ends in "...". Returns the length written; size >= 8.
 */
size_t
log_sanitize(char *out, size_t size, const char *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;

	out[o++] = '"';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
		size_t need = plain ? 1 : 4;

		if (o + need + 5 > size) {
			memcpy(out + o, "\"...", 4);
			o += 4;
			out[o] = '\0';
			return o;
		}
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return o;
}

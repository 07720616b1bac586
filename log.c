/* SPDX-License-Identifier: ISC */
/* log.c: one-line messages on stderr, and failures kept for the caller. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <skalibs/allreadwrite.h>
#include <skalibs/types.h>

#include "log.h"

const char *log_prog = "checkpw-roam";

/* Where messages go: this descriptor, or syslog when it is -1. */
static int log_fd = 2;

/* Whether descriptors a and b are the same file: the same socket, or the
 * same pipe (either end), whatever their types. */
static int
same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
	       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Whether descriptor fd is a socket or a pipe. */
static int
is_stream(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 &&
	       (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode));
}

/*
 * Whether descriptor fd is the client's connection. In a login chain,
 * descriptors 0 and 1 are that connection: one socket (tcpserver, inetd)
 * or a pipe each way (sslserver). A descriptor that is the same file as
 * either is the client's. Where 0 or 1 is neither a socket nor a pipe (a
 * terminal, a file, /dev/null: a person, a test, Dovecot's passdb), no
 * client is there, and a pipe that takes both standard output and error
 * is the log.
 */
static int
is_client(int fd)
{
	return is_stream(0) && is_stream(1) &&
	       (same_file(fd, 0) || same_file(fd, 1));
}

/*
 * For a program in a login chain: messages go to descriptor ROAM_LOG_FD
 * if it names one, or else to descriptor 2, unless that is the client's
 * connection: qmail 1.03's and netqmail's qmail-popup make descriptor 2 a
 * copy of 1 before they run checkpassword (a socket under tcpserver, a
 * pipe under sslserver), and a line there would reach the POP3 client
 * before "+OK". Then they go to syslog (facility mail). Returns -1 when
 * ROAM_LOG_FD is set but is not an open descriptor other than the
 * client's, 0, 1, 3 or 4 (checkpassword's and Dovecot's): it is ignored.
 */
int
log_setup(void)
{
	const char *s = getenv("ROAM_LOG_FD");
	unsigned n;
	int bad = 0;

	log_fd = 2;
	if (s && *s) {
		if (uint0_scan(s, &n) && n <= 1024 && (n == 2 || n > 4) &&
		    fcntl((int)n, F_GETFD) != -1 && !is_client((int)n)) {
			log_fd = (int)n;
			return 0;
		}
		bad = 1;
	}
	if (is_client(2))
		log_fd = -1;
	return bad ? -1 : 0;
}

/*
 * Makes descriptor 2 where messages go, so that a process may close every
 * other one: the log's descriptor, or null (a descriptor on /dev/null)
 * when they go to syslog, which keeps no copy of the client's connection.
 */
void
log_onto_stderr(int null)
{
	if (log_fd == 2)
		return;
	if (log_fd != -1) {
		if (dup2(log_fd, 2) == 2)
			log_fd = 2;
	} else if (null == -1 || dup2(null, 2) == -1) {
		close(2);
	}
}

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
put_syslog(const char *level, const char *const *parts)
{
	char text[1024];
	size_t pos = 0;
	int pri = LOG_INFO;

	if (strcmp(level, "warning") == 0)
		pri = LOG_WARNING;
	else if (strcmp(level, "fatal") == 0)
		pri = LOG_ERR;
	cat_str(text, sizeof text, &pos, level);
	cat_str(text, sizeof text, &pos, ": ");
	cat_parts(text, sizeof text, &pos, parts);
	openlog(log_prog, 0, LOG_MAIL);
	syslog(pri, "%s", text);
	closelog();
}

static void
put_fd(const char *level, const char *const *parts)
{
	char line[1024];
	size_t pos = 0;

	cat_str(line, sizeof line - 1, &pos, log_prog);
	cat_str(line, sizeof line - 1, &pos, ": ");
	cat_str(line, sizeof line - 1, &pos, level);
	cat_str(line, sizeof line - 1, &pos, ": ");
	cat_parts(line, sizeof line - 1, &pos, parts);
	line[pos++] = '\n';
	/* One write, so concurrent writers never interleave within a line. */
	(void)allwrite(log_fd, line, pos);
}

/*
 * Writes one message with SIGPIPE ignored: qmail-popup leaves it at its
 * default, and a log pipe with no reader must not kill the login. The
 * old action is put back at once, since an ignored signal would stay
 * ignored across exec, in the session. If it cannot be ignored, the
 * message is dropped.
 */
static void
put_line(const char *level, const char *const *parts)
{
	struct sigaction ignore, old;
	int saved = errno;

	memset(&ignore, 0, sizeof ignore);
	ignore.sa_handler = SIG_IGN;
	if (sigemptyset(&ignore.sa_mask) == 0 &&
	    sigaction(SIGPIPE, &ignore, &old) == 0) {
		if (log_fd == -1)
			put_syslog(level, parts);
		else
			put_fd(level, parts);
		/* Cannot fail: the action came from sigaction itself. */
		(void)sigaction(SIGPIPE, &old, 0);
	}
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

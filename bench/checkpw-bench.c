/* SPDX-License-Identifier: ISC */
/* checkpw-bench.c: the benchmark's stand-in for djb's checkpassword.
 *
 * Usage: checkpw-bench PROG [ARGS...]
 * Reads "user\0pass\0timestamp\0" from descriptor 3 (at most 512 bytes, to
 * end of file), closes it, accepts the password "good" (or $BENCH_PASSWORD),
 * sets USER, HOME and SHELL, changes to / and executes PROG. Exit 1 for a
 * bad password, 2 for misuse, 111 for a system failure, as checkpassword.
 * Unlike the real one it keeps its uid: the benchmark runs as one user, and
 * a uid change costs microseconds. Built static, so that it costs what a
 * small checkpassword costs and no more. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	char buf[513], *user, *pass;
	const char *want;
	size_t len = 0;

	if (argc < 2)
		return 2;
	while (len < sizeof buf - 1) {
		ssize_t r = read(3, buf + len, sizeof buf - 1 - len);

		if (r == 0)
			break;
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return 111;
		}
		len += (size_t)r;
	}
	close(3);
	buf[len] = '\0';
	user = buf;
	if (!memchr(buf, '\0', len))
		return 2;
	pass = user + strlen(user) + 1;
	if ((size_t)(pass - buf) >= len ||
	    !memchr(pass, '\0', len - (size_t)(pass - buf)))
		return 2;
	want = getenv("BENCH_PASSWORD");
	if (!want)
		want = "good";
	if (!*user || strcmp(pass, want) != 0)
		return 1;
	if (setenv("USER", user, 1) == -1 || setenv("HOME", "/", 1) == -1 ||
	    setenv("SHELL", "/bin/sh", 1) == -1 || chdir("/") == -1)
		return 111;
	execvp(argv[1], argv + 1);
	return 111;
}

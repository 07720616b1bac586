/* SPDX-License-Identifier: ISC */
/* floorlink.c: the design floor of a privilege-separated checkpassword
 * link (benchmark only, never installed): the least a link like
 * checkpw-roam can cost, a static program started twice plus one fork.
 *
 * Usage: floorlink REALCHECKPW PROG [ARGS...]
 * First run: forks once, then runs REALCHECKPW /proc/self/exe PROG ARGS
 * with FLOORLINK_CHILD set. The child does the work named by
 * $FLOORLINK_WORK in $ROAM_DIR and exits: nothing (unset or empty, the
 * no-op design floor), "refresh" (open, lock, write 10 bytes, close) or
 * "newip:CDBBYTES" (lock, append a line and fsync it, read tcp.smtp and
 * the list, write+fsync+rename a file of the cdb's size, fsync the
 * directory); see floorwork.h. Second run, after REALCHECKPW: waits for
 * the child, as the link waits for its recorder, and runs PROG. */
#include <sys/wait.h>

#include "floorwork.h"

#define MARKER "FLOORLINK_CHILD"

static void
work(void)
{
	const char *w = getenv("FLOORLINK_WORK"), *dir = getenv("ROAM_DIR");
	int r = 0;

	if (!w || !*w)
		_exit(0);
	if (!dir)
		_exit(111);
	if (strcmp(w, "refresh") == 0)
		r = floor_refresh(dir);
	else if (strncmp(w, "newip:", 6) == 0)
		r = floor_newip(dir, strtoull(w + 6, 0, 10));
	else
		_exit(100);
	_exit(r == 0 ? 0 : 111);
}

int
main(int argc, char **argv)
{
	const char *m = getenv(MARKER);
	char self[4096], num[32], **nargv;
	ssize_t n;
	pid_t pid;

	if (m) {
		pid = (pid_t)atol(m);
		unsetenv(MARKER);
		if (argc < 2)
			return 2;
		if (pid > 1)
			waitpid(pid, 0, 0);
		execvp(argv[1], argv + 1);
		return 111;
	}
	if (argc < 3)
		return 2;
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return 111;
	self[n] = '\0';
	pid = fork();
	if (pid == -1)
		return 111;
	if (pid == 0)
		work();
	snprintf(num, sizeof num, "%ld", (long)pid);
	if (setenv(MARKER, num, 1) == -1 ||
	    !(nargv = calloc((size_t)argc + 2, sizeof *nargv)))
		return 111;
	nargv[0] = argv[1];
	nargv[1] = self;
	memcpy(nargv + 2, argv + 2, (size_t)(argc - 2) * sizeof *nargv);
	execvp(nargv[0], nargv);
	free(nargv);
	return 111;
}

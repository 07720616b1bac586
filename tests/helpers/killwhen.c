/* SPDX-License-Identifier: ISC */
/* killwhen.c: runs a program and kills -9 it, or the recorder it starts, a
 * set time after it takes a lock: for the crash tests.
 *
 * Usage: killwhen [-r] LOCKFILE TENTHS PROG [ARGS...]
 *
 * Runs PROG as its child, with the same descriptors and environment. The
 * victim is that child, or with -r the recorder it starts (a process of
 * PROG's, or with the same parent as PROG, that leads its own session).
 * Once the victim holds a lock on LOCKFILE, killwhen waits TENTHS tenths
 * of a millisecond and sends it SIGKILL. It then waits for PROG (and for
 * any other child it was given) and exits with PROG's status, 128+N when
 * PROG was killed by signal N, as a shell does; 100 for bad usage, 111
 * when it cannot run PROG.
 *
 * It watches the victim's own descriptors (/proc/PID/fd and fdinfo), every
 * 20 microseconds: reading /proc/locks takes a lock every flock(2) call
 * waits for, and costs milliseconds here; a shell loop is slower still. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void
pause_ns(long ns)
{
	struct timespec ts = {ns / 1000000000L, ns % 1000000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static ssize_t
read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd == -1)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* PID's session id, or -1 if it is gone or a zombie. */
static long
session_of(long pid)
{
	char path[64], buf[1024], *p, state;
	long sid;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if (read_file(path, buf, sizeof buf) <= 0 || !(p = strrchr(buf, ')')))
		return -1;
	/* ") STATE PPID PGRP SESSION ..." */
	if (sscanf(p + 1, " %c %*d %*d %ld", &state, &sid) != 2 ||
	    state == 'Z' || state == 'X')
		return -1;
	return sid;
}

/* A child of parent, not skip, that leads its own session; 0 if none. */
static long
leader_among(long parent, long skip)
{
	char path[64], buf[4096], *s, *end;

	snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", parent,
		 parent);
	if (read_file(path, buf, sizeof buf) <= 0)
		return 0;
	for (s = buf;; s = end) {
		long c = strtol(s, &end, 10);

		if (end == s)
			return 0;
		if (c != skip && session_of(c) == c)
			return c;
	}
}

/* Whether process pid holds a lock on the file dev:ino, by its fdinfo. */
static int
holds(long pid, dev_t dev, ino_t ino)
{
	char path[64], buf[4096];
	struct dirent *de;
	DIR *d;
	int found = 0;

	snprintf(path, sizeof path, "/proc/%ld/fd", pid);
	if (!(d = opendir(path)))
		return 0;
	while (!found && (de = readdir(d))) {
		struct stat st;
		char fdpath[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		snprintf(fdpath, sizeof fdpath, "/proc/%ld/fd/%s", pid,
			 de->d_name);
		if (stat(fdpath, &st) == -1 || st.st_dev != dev ||
		    st.st_ino != ino)
			continue;
		snprintf(fdpath, sizeof fdpath, "/proc/%ld/fdinfo/%s", pid,
			 de->d_name);
		/* "lock:\t1: FLOCK  ADVISORY  WRITE PID ..." once locked. */
		found = read_file(fdpath, buf, sizeof buf) > 0 &&
			strstr(buf, "\nlock:\t") && strstr(buf, "WRITE");
	}
	closedir(d);
	return found;
}

/* Whether the child pid has ended (it is left to be waited for). */
static int
ended(long pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof si);
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) ==
		   0 &&
	       si.si_pid != 0;
}

/* Kills the victim TENTHS after it takes the lock; gives up after 10 s,
 * or when the program ends before it did. */
static void
watch(long prog, int recorder, dev_t dev, ino_t ino, long tenths)
{
	long victim = recorder ? 0 : prog;
	int i;

	for (i = 0; i < 400000; i++) {
		if (!victim) {
			victim = leader_among(prog, 0);
			if (!victim)
				victim = leader_among((long)getpid(), prog);
		}
		if (victim && holds(victim, dev, ino)) {
			pause_ns(tenths * 100000L);
			kill((pid_t)victim, SIGKILL);
			return;
		}
		if (ended(prog) && (!victim || victim == prog))
			return;
		if (victim && victim != prog && session_of(victim) == -1)
			return;
		pause_ns(20000);
	}
}

int
main(int argc, char **argv)
{
	struct stat st;
	char *end;
	long tenths;
	int recorder = 0, status;
	pid_t prog;

	if (argc > 1 && strcmp(argv[1], "-r") == 0) {
		recorder = 1;
		argv++;
		argc--;
	}
	if (argc < 4) {
		fputs("usage: killwhen [-r] LOCKFILE TENTHS PROG [ARGS...]\n",
		      stderr);
		return 100;
	}
	tenths = strtol(argv[2], &end, 10);
	if (*end || tenths < 0 || tenths > 10000000)
		return 100;
	if (stat(argv[1], &st) == -1) {
		perror("killwhen: unable to stat the lock file");
		return 111;
	}
	prog = fork();
	if (prog == -1) {
		perror("killwhen: unable to fork");
		return 111;
	}
	if (prog == 0) {
		execvp(argv[3], argv + 3);
		perror("killwhen: unable to run the program");
		_exit(111);
	}
	watch((long)prog, recorder, st.st_dev, st.st_ino, tenths);
	while (waitpid(prog, &status, 0) == -1)
		if (errno != EINTR)
			return 111;
	/* Any other child (a recorder whose parent we are) is waited for. */
	while (wait(0) != -1 || errno == EINTR)
		;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

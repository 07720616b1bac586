/* SPDX-License-Identifier: ISC */
/* memwatch.c: the peak private memory of running processes (benchmark
 * only, never installed): every 2 ms, each PID's Private_Clean +
 * Private_Dirty from /proc/PID/smaps_rollup (the pages no other process
 * shares: heap, stacks, the list's buffers, private file pages; the
 * shared libraries' shared pages left out); at SIGTERM or SIGINT, prints
 * "PID MAX_KIB" for each and exits. A sample can miss a peak shorter than
 * 2 ms; a build holds its memory for longer than that. VmHWM, the
 * kernel's own peak, also counts the shared libraries' pages.
 *
 * Usage: memwatch PID... */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXPIDS 16

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* The value of field (with its colon) in buf, KiB, or -1. */
static long
field(const char *buf, const char *name)
{
	const char *p = strstr(buf, name);

	return p ? strtol(p + strlen(name), 0, 10) : -1;
}

/* Private_Clean + Private_Dirty of pid, KiB, or -1 once it has gone. */
static long
private_kib(const char *pid)
{
	char path[64], buf[4096];
	ssize_t n;
	long c, d;
	int fd;

	snprintf(path, sizeof path, "/proc/%s/smaps_rollup", pid);
	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	c = field(buf, "Private_Clean:");
	d = field(buf, "Private_Dirty:");
	return c < 0 || d < 0 ? -1 : c + d;
}

int
main(int argc, char **argv)
{
	long max[MAXPIDS] = {0};
	int n = argc - 1;

	if (n < 1 || n > MAXPIDS) {
		fprintf(stderr, "usage: memwatch PID...\n");
		return 100;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	while (!stop) {
		struct timespec tick = {.tv_nsec = 2000000};

		for (int i = 0; i < n; i++) {
			long v = private_kib(argv[i + 1]);

			if (v > max[i])
				max[i] = v;
		}
		nanosleep(&tick, 0);
	}
	for (int i = 0; i < n; i++)
		printf("%s %ld\n", argv[i + 1], max[i]);
	return 0;
}

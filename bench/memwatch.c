/* memwatch.c: the peak private memory of running processes (benchmark
 * only, never installed): every 2 ms, each PID's RssAnon from
 * /proc/PID/status; at SIGTERM or SIGINT, prints "PID MAX_KIB" for each
 * and exits. A sample can miss a peak shorter
 * than 2 ms; a pass holds its memory for longer than that. VmHWM, the
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

/* RssAnon of pid, KiB, or -1 once it has gone. */
static long
rss_anon(const char *pid)
{
	char path[64], buf[4096], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%s/status", pid);
	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (!(p = strstr(buf, "RssAnon:")))
		return -1;
	return strtol(p + 8, 0, 10);
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
			long v = rss_anon(argv[i + 1]);

			if (v > max[i])
				max[i] = v;
		}
		nanosleep(&tick, 0);
	}
	for (int i = 0; i < n; i++)
		printf("%s %ld\n", argv[i + 1], max[i]);
	return 0;
}

/* SPDX-License-Identifier: ISC */
/* clusterdrive.c: logins spread over several hosts, and the time until
 * each host's cdb relays for each address (benchmark only, never
 * installed).
 *
 * Usage: clusterdrive [-r RATE | -c CLIENTS] [-t SECONDS] [-l LOG]
 *                     IPFILE DIR... -- ARGV...
 *
 * Login k comes from line k of IPFILE and is made on host k mod H, H the
 * number of DIRs (each a ROAM_DIR). A line "+ADDRESS" is a login from an
 * address listed already everywhere: made, but neither timed nor
 * printed; any other line, an address listed nowhere yet. The login: ARGV
 * (an absolute path; "checkpw-roam checkpw-bench noop") with ROAM_DIR,
 * TCPREMOTEIP, PATH=/usr/bin:/bin and the credentials on descriptor 3,
 * as qmail-popup gives them. With -r, one login every 1/RATE s, whether
 * the earlier ones have ended or not (a steady load); with -c, a burst:
 * CLIENTS logins at once on each host, each followed by the next of its
 * host as it ends.
 *
 * How a host's relay is seen: inotify on each DIR reports every rename
 * onto tcp.smtp.cdb (how open-smtp(5) says it is replaced); the driver
 * then opens that cdb and looks up, with tinycdb, every address of a
 * started login it has not found there yet, as tcpserver -x looks up a
 * client on each connection. The time of an address on a host is the
 * time the driver read the event. A refresh in place never renames the
 * cdb, but a new address always takes one. Its own cost per rename: one
 * open, mmap and a lookup per address still missing.
 *
 * Each login is timed by a child of the driver made for it, which takes
 * the time just before it forks the chain and just after its waitpid
 * returns, and sends both through a pipe: the driver's own delays under
 * load (reaping, its lookups) are not counted in a login's time.
 *
 * Output, one line a login, TAB-separated, times in ns from the start of
 * the run:  K HOST START END STATUS SEEN_0 ... SEEN_H-1  (-1: never seen;
 * STATUS 1000+N: killed by signal N). The run ends once every address is
 * in every cdb and every login has ended, or SECONDS (default 30) after
 * the last login started. Then, on standard error, "renames" and the
 * number of renames onto each host's cdb seen (its rebuilds; -1 if
 * inotify's queue overflowed). Exit 0, 100 for bad usage, 111 on a system
 * failure. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cdb.h>

#define MAXHOSTS 8

struct login {
	char ip[256];
	int host, status, known;
	pid_t pid;
	long long start, end, seen[MAXHOSTS];
};

static struct login *logins;
static size_t nlogins, started, ended, logfd = 2;
static char **dirs, **argv_chain;
static int nhosts, wds[MAXHOSTS];
static long renames[MAXHOSTS]; /* rebuilds seen, per host */
static long long t0;
static int donefd[2]; /* the timing children's reports */

/* What a timing child sends when its login has ended. */
struct report {
	size_t k;
	long long start, end;
	int status;
};

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "clusterdrive: fatal: %s: %s\n", what, why);
	exit(111);
}

static void
usage(void)
{
	fprintf(stderr, "usage: clusterdrive [-r RATE | -c CLIENTS] "
			"[-t SECONDS] [-l LOG] IPFILE DIR... -- ARGV...\n");
	exit(100);
}

static long long
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec - t0;
}

static void
read_ips(const char *file)
{
	char line[256];
	size_t cap = 0;
	FILE *f = fopen(file, "r");

	if (!f)
		die(file, strerror(errno));
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!*line)
			continue;
		if (nlogins == cap) {
			struct login *v;

			cap = cap ? 2 * cap : 1024;
			if (!(v = realloc(logins, cap * sizeof *v)))
				die("realloc", strerror(errno));
			logins = v;
		}
		struct login *l = &logins[nlogins];

		*l = (struct login){.host = (int)(nlogins % (size_t)nhosts),
				    .status = -1,
				    .end = -1};
		l->known = line[0] == '+';
		snprintf(l->ip, sizeof l->ip, "%s", line + l->known);
		for (int h = 0; h < MAXHOSTS; h++)
			l->seen[h] = -1;
		nlogins++;
	}
	fclose(f);
}

/* The credentials pipe, written and closed for writing. */
static int
creds(void)
{
	char buf[64];
	int p[2], n;

	n = snprintf(buf, sizeof buf, "bench%cgood%c<%ld.1@bench>%c", 0, 0,
		     (long)time(0), 0);
	if (pipe(p) == -1)
		die("pipe", strerror(errno));
	if (write(p[1], buf, (size_t)n) != n)
		die("write", strerror(errno));
	close(p[1]);
	return p[0];
}

/* In a timing child: the login itself, timed; its report sent. */
static void
timed_login(struct login *l, const sigset_t *mask, int fd)
{
	char dir[4200], ip[300];
	char *env[] = {dir, ip, "PATH=/usr/bin:/bin", 0};
	struct report r = {.k = (size_t)(l - logins)};
	pid_t pid;
	int st;

	snprintf(dir, sizeof dir, "ROAM_DIR=%s", dirs[l->host]);
	snprintf(ip, sizeof ip, "TCPREMOTEIP=%s", l->ip);
	r.start = now();
	if ((pid = fork()) == -1)
		_exit(111);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		sigprocmask(SIG_SETMASK, mask, 0);
		dup2(null, 0);
		dup2(null, 1);
		dup2((int)logfd, 2);
		if (fd != 3 && dup2(fd, 3) == -1)
			_exit(126);
		for (int i = 4; i < 64; i++)
			close(i);
		execve(argv_chain[0], argv_chain, env);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			_exit(111);
	r.end = now();
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
	/* Smaller than PIPE_BUF: one write, never mixed with another's. */
	if (write(donefd[1], &r, sizeof r) != (ssize_t)sizeof r)
		_exit(111);
	_exit(0);
}

static void
start_login(struct login *l, const sigset_t *mask)
{
	int fd = creds();

	l->start = now(); /* until the child's own start arrives */
	if ((l->pid = fork()) == -1)
		die("fork", strerror(errno));
	if (l->pid == 0)
		timed_login(l, mask, fd);
	close(fd);
	started++;
}

/* The timing children that ended (their reports are read apart), and
 * anything else (a recorder left to us). */
static void
reap(void)
{
	while (waitpid(-1, 0, WNOHANG) > 0)
		;
}

/* The reports of logins that ended: their own start and end times. */
static void
read_reports(void)
{
	struct report r;

	while (read(donefd[0], &r, sizeof r) == (ssize_t)sizeof r) {
		struct login *l;

		if (r.k >= nlogins)
			continue;
		l = &logins[r.k];
		if (l->end != -1)
			continue;
		l->start = r.start;
		l->end = r.end;
		l->status = r.status;
		ended++;
	}
}

/* Host h's cdb, looked up for every started address not seen there yet. */
static size_t
check_host(int h, long long t)
{
	char path[4200];
	struct cdb c;
	struct stat st;
	size_t found = 0;
	int fd;

	snprintf(path, sizeof path, "%s/tcp.smtp.cdb", dirs[h]);
	if ((fd = open(path, O_RDONLY)) == -1)
		return 0;
	if (fstat(fd, &st) == -1 || cdb_init(&c, fd) != 0) {
		close(fd);
		return 0;
	}
	for (size_t k = 0; k < started; k++) {
		struct login *l = &logins[k];

		if (l->seen[h] != -1 || l->known)
			continue;
		if (cdb_find(&c, l->ip, (unsigned)strlen(l->ip)) > 0) {
			l->seen[h] = t;
			found++;
		}
	}
	cdb_free(&c);
	close(fd);
	return found;
}

static size_t missing;

static void
read_events(int ifd)
{
	char buf[16384]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = read(ifd, buf, sizeof buf);
	long long t = now();
	int todo[MAXHOSTS] = {0};

	if (n == -1 && errno != EAGAIN && errno != EINTR)
		die("inotify", strerror(errno));
	for (char *p = buf; n > 0 && p < buf + n;) {
		const struct inotify_event *ev = (const void *)p;

		if (ev->mask & IN_Q_OVERFLOW)
			for (int h = 0; h < nhosts; h++) {
				todo[h] = 1;
				renames[h] = -1000000000L;
			}
		for (int h = 0; h < nhosts; h++)
			if (ev->wd == wds[h] && ev->len &&
			    strcmp(ev->name, "tcp.smtp.cdb") == 0) {
				todo[h] = 1;
				renames[h]++;
			}
		p += sizeof *ev + ev->len;
	}
	for (int h = 0; h < nhosts; h++)
		if (todo[h])
			missing -= check_host(h, t);
}

static void
print(void)
{
	for (size_t k = 0; k < nlogins; k++) {
		const struct login *l = &logins[k];

		if (l->known)
			continue;
		printf("%zu\t%d\t%lld\t%lld\t%d", k, l->host, l->start, l->end,
		       l->status);
		for (int h = 0; h < nhosts; h++)
			printf("\t%lld", l->seen[h]);
		printf("\n");
	}
}

/* The next login to start now, if any: steady (-r) or burst (-c). */
static struct login *
next_due(long long period, int clients, long long *wait)
{
	int busy[MAXHOSTS] = {0};

	if (started == nlogins)
		return 0;
	if (period) {
		long long due = (long long)started * period;

		*wait = due - now();
		return *wait <= 0 ? &logins[started] : 0;
	}
	for (size_t k = 0; k < started; k++)
		busy[logins[k].host] += logins[k].end == -1;
	*wait = -1;
	return busy[logins[started].host] < clients ? &logins[started] : 0;
}

int
main(int argc, char **argv)
{
	long long period = 0, limit = 30, last = 0;
	int clients = 0, c, ifd, sfd;
	sigset_t mask, old;
	struct timespec ts;

	while ((c = getopt(argc, argv, "+r:c:t:l:")) != -1) {
		if (c == 'r' && atoi(optarg) > 0)
			period = 1000000000LL / atoi(optarg);
		else if (c == 'c' && atoi(optarg) > 0)
			clients = atoi(optarg);
		else if (c == 't' && atoi(optarg) > 0)
			limit = atoi(optarg);
		else if (c == 'l') {
			int fd =
			    open(optarg, O_WRONLY | O_APPEND | O_CREAT, 0644);
			if (fd == -1)
				die(optarg, strerror(errno));
			logfd = (size_t)fd;
		} else
			usage();
	}
	if (!period == !clients || optind + 3 > argc)
		usage();
	const char *ipfile = argv[optind++];

	dirs = &argv[optind];
	while (optind < argc && strcmp(argv[optind], "--") != 0)
		optind++;
	nhosts = (int)(&argv[optind] - dirs);
	if (optind >= argc - 1 || nhosts < 1 || nhosts > MAXHOSTS)
		usage();
	argv_chain = &argv[optind + 1];
	read_ips(ipfile);

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &old);
	if (pipe2(donefd, O_CLOEXEC) == -1 ||
	    fcntl(donefd[0], F_SETFL, O_NONBLOCK) == -1)
		die("pipe", strerror(errno));
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    (ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		die("signalfd or inotify", strerror(errno));
	for (int h = 0; h < nhosts; h++)
		if ((wds[h] = inotify_add_watch(ifd, dirs[h], IN_MOVED_TO)) ==
		    -1)
			die(dirs[h], strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	for (size_t k = 0; k < nlogins; k++)
		missing += logins[k].known ? 0 : (size_t)nhosts;
	for (;;) {
		struct pollfd p[3] = {{.fd = ifd, .events = POLLIN},
				      {.fd = sfd, .events = POLLIN},
				      {.fd = donefd[0], .events = POLLIN}};
		struct signalfd_siginfo si;
		struct login *l;
		long long wait = -1;

		while ((l = next_due(period, clients, &wait))) {
			start_login(l, &old);
			last = l->start;
		}
		if (started == nlogins && ((missing == 0 && ended == nlogins) ||
					   now() - last > limit * 1000000000LL))
			break;
		if (wait < 0 || started == nlogins)
			wait = 100000000;
		poll(p, 3, (int)(wait / 1000000) + (wait % 1000000 != 0));
		if (p[2].revents)
			read_reports();
		if (p[1].revents) {
			while (read(sfd, &si, sizeof si) == sizeof si)
				;
			reap();
		}
		if (p[0].revents)
			read_events(ifd);
	}
	print();
	fprintf(stderr, "renames");
	for (int h = 0; h < nhosts; h++)
		fprintf(stderr, "\t%ld", renames[h] < 0 ? -1 : renames[h]);
	fprintf(stderr, "\n");
	return 0;
}

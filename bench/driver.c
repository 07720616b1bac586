/* SPDX-License-Identifier: ISC */
/* driver.c: times commands by fork and exec, alternating contenders, for
 * the benchmark (never installed).
 *
 * Usage: driver [-n REPS] [-w WARMUP] [-l LOG] [-v] SPECFILE
 *
 * SPECFILE has one contender a line (lines starting with # are skipped),
 * fields separated by TABs:
 *
 *   NAME  OPTIONS  SETUP  CHECK  ARGV0  ARGV1 ...
 *
 * NAME is printed back. SETUP and CHECK are /bin/sh commands, or "-": SETUP
 * runs before each timed run, CHECK after it (its first line of output is
 * printed back); neither is timed. ARGV is executed as it is (ARGV0 an
 * absolute path; no shell, no PATH search). OPTIONS, separated by spaces:
 *
 *   dir=DIR        sets ROAM_DIR; before the run syncfs(2) flushes the
 *                  file system (so the setup's writes are not paid for by
 *                  the run); during it, renames onto DIR/tcp.smtp.cdb and
 *                  DIR/open-smtp are counted (inotify IN_MOVED_TO: every
 *                  rebuild and every list write, which open-smtp(5) says
 *                  are replaced by rename); after it, the driver waits
 *                  until it can take DIR/open-smtp.lock, so that no writer
 *                  is still at work when the next run starts.
 *   ip=ADDR        sets TCPREMOTEIP.
 *   login          gives the command "bench\0good\0<ts>\0" on descriptor 3,
 *                  as qmail-popup gives checkpassword.
 *   env=NAME=VAL   adds to the environment (PATH=/usr/bin:/bin and
 *                  ROAM_WAIT_MS=60000 are there unless replaced: a login
 *                  waits for its recorder, so its work is in the time).
 *   burst=C:L:FILE C concurrent clients each make L logins one after the
 *                  other (implies login); login k of client c comes from
 *                  line c*L+k of FILE. The time is the whole burst's.
 *   each           (with burst=) each client also times each of its logins
 *                  itself (from just before its fork to the return of its
 *                  waitpid) and, right after, looks the login's address up
 *                  in DIR/tcp.smtp.cdb with tinycdb, as tcpserver -x would
 *                  on the next connection: one more line a login (below).
 *   stdin=FILE     the command's standard input (default /dev/null).
 *   unset=NAME     leaves NAME out of the environment (ROAM_WAIT_MS, say).
 *   behind=ARGV    before the timed command, starts ARGV (an absolute path,
 *                  its arguments separated by commas, the same environment)
 *                  and waits until it holds DIR/tcp.smtp.cdb.lock (a build
 *                  running; at most 10 s), untimed: the command then runs
 *                  behind that build. It is reaped with the command's
 *                  other processes.
 *
 * Each round runs every contender once; round r starts with contender
 * r mod K, so none is always first. WARMUP rounds (default 1) are not
 * printed. Output, one line a timed run, TAB-separated:
 *
 *   NAME REP NS STATUS MAXRSS_KB CDB_RENAMES LIST_RENAMES WARNINGS CHECK
 *   NS_DONE OTHER_RSS_KB
 *
 * and with "each", before it, one line a login:
 *
 *   NAME@each REP NS STATUS CLIENT K ADDRESS relay=0|1
 *
 * relay=1 if the cdb had a record for ADDRESS setting RELAYCLIENT when
 * the login returned.
 *
 * NS is the wall time (CLOCK_MONOTONIC) from just before fork to the
 * return of wait4; NS_DONE the same to the moment every process the
 * command started has ended (the driver is their subreaper, so a detached
 * one comes back to it) and no writer holds DIR/open-smtp.lock nor
 * DIR/tcp.smtp.cdb.lock (the builder's): equal to
 * NS unless something was still at work when the command ended. STATUS is
 * the exit status (burst: the number of failed logins; 1000+N: killed by
 * signal N); MAXRSS the wait4 figure; OTHER_RSS the largest wait4 figure
 * of the other processes the driver reaped after the command (a writer
 * the command left, or started as its sibling); WARNINGS the number of lines
 * with "warning:" or "fatal:" the run added to LOG (default /dev/null), which
 * receives every command's standard error. The burst's CDB_RENAMES and
 * LIST_RENAMES are -1 if inotify's queue overflowed.
 * Exit 0, 100 for bad usage or a bad spec, 111 if a setup fails. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cdb.h>

#define MAXENV 32
#define MAXBEHIND 16

struct contender {
	char *name, *setup, *check, *dir, *ip, *ipfile, *input;
	char **argv;
	char *env[MAXENV];
	char *behind[MAXBEHIND];
	int nenv, login, clients, logins, each;
};

struct result {
	long long ns, ns_done;
	long maxrss, otherrss;
	int status, cdbren, listren, warn;
	char check[256];
};

static int logfd = -1;
static char **burst_ips;
static size_t burst_nips;
static const char *burst_file;
static int cur_rep; /* the repetition being run; 0 in a warm-up round */

static void
die(int code, const char *a, const char *b)
{
	fprintf(stderr, "driver: fatal: %s%s%s\n", a, b ? ": " : "",
		b ? b : "");
	exit(code);
}

static char *
xstrdup(const char *s)
{
	char *t = strdup(s);

	if (!t)
		die(111, "out of memory", 0);
	return t;
}

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
set_env(struct contender *c, const char *name, const char *value)
{
	size_t n = strlen(name);
	char *s;
	int i;

	if (!(s = malloc(n + strlen(value) + 2)))
		die(111, "out of memory", 0);
	sprintf(s, "%s=%s", name, value);
	for (i = 0; i < c->nenv; i++)
		if (strncmp(c->env[i], name, n) == 0 && c->env[i][n] == '=') {
			c->env[i] = s;
			return;
		}
	if (c->nenv >= MAXENV - 2)
		die(100, "too many env= options for ", c->name);
	c->env[c->nenv++] = s;
	c->env[c->nenv] = 0;
}

static void
unset_env(struct contender *c, const char *name)
{
	size_t n = strlen(name);
	int i;

	for (i = 0; i < c->nenv; i++)
		if (strncmp(c->env[i], name, n) == 0 && c->env[i][n] == '=') {
			c->env[i] = c->env[--c->nenv];
			c->env[c->nenv] = 0;
			return;
		}
}

static void
parse_behind(struct contender *c, const char *arg)
{
	char *s = xstrdup(arg), *save = 0, *w;
	int n = 0;

	for (w = strtok_r(s, ",", &save); w; w = strtok_r(0, ",", &save)) {
		if (n >= MAXBEHIND - 1)
			die(100, "too many arguments in behind= for ", c->name);
		c->behind[n++] = w;
	}
	if (!n || c->behind[0][0] != '/')
		die(100, "bad behind= for ", c->name);
	c->behind[n] = 0;
}

static void
parse_options(struct contender *c, char *opts)
{
	char *tok, *save = 0;

	c->nenv = 0;
	c->env[0] = 0;
	set_env(c, "PATH", "/usr/bin:/bin");
	set_env(c, "ROAM_WAIT_MS", "60000");
	for (tok = strtok_r(opts, " ", &save); tok;
	     tok = strtok_r(0, " ", &save)) {
		if (strncmp(tok, "dir=", 4) == 0) {
			c->dir = xstrdup(tok + 4);
			set_env(c, "ROAM_DIR", c->dir);
		} else if (strncmp(tok, "ip=", 3) == 0) {
			c->ip = xstrdup(tok + 3);
			set_env(c, "TCPREMOTEIP", c->ip);
		} else if (strcmp(tok, "login") == 0) {
			c->login = 1;
		} else if (strcmp(tok, "each") == 0) {
			c->each = 1;
		} else if (strncmp(tok, "stdin=", 6) == 0) {
			c->input = xstrdup(tok + 6);
		} else if (strncmp(tok, "unset=", 6) == 0) {
			unset_env(c, tok + 6);
		} else if (strncmp(tok, "behind=", 7) == 0) {
			parse_behind(c, tok + 7);
		} else if (strncmp(tok, "env=", 4) == 0) {
			char *eq = strchr(tok + 4, '=');

			if (!eq || eq == tok + 4)
				die(100, "bad option ", tok);
			*eq = '\0';
			set_env(c, tok + 4, eq + 1);
		} else if (strncmp(tok, "burst=", 6) == 0) {
			char file[PATH_MAX];

			if (sscanf(tok + 6, "%d:%d:%4095s", &c->clients,
				   &c->logins, file) != 3 ||
			    c->clients < 1 || c->logins < 1)
				die(100, "bad option ", tok);
			c->ipfile = xstrdup(file);
			c->login = 1;
		} else if (*tok && strcmp(tok, "-") != 0) {
			die(100, "unknown option ", tok);
		}
	}
}

static struct contender *
read_spec(const char *file, int *n)
{
	struct contender *v = 0;
	char *line = 0;
	size_t cap = 0;
	ssize_t len;
	FILE *f = fopen(file, "r");

	*n = 0;
	if (!f)
		die(100, "unable to open ", file);
	while ((len = getline(&line, &cap, f)) != -1) {
		struct contender *c;
		char *field[64], *p = line;
		int nf = 0, i;

		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (!len || line[0] == '#')
			continue;
		while (nf < 64 && (field[nf] = strsep(&p, "\t")))
			nf++;
		if (nf < 5 || field[4][0] != '/')
			die(100, "bad spec line: ", line);
		if (!(c = realloc(v, (size_t)(*n + 1) * sizeof *v)))
			die(111, "out of memory", 0);
		v = c;
		c = &v[(*n)++];
		memset(c, 0, sizeof *c);
		c->name = xstrdup(field[0]);
		parse_options(c, field[1]);
		c->setup = strcmp(field[2], "-") ? xstrdup(field[2]) : 0;
		c->check = strcmp(field[3], "-") ? xstrdup(field[3]) : 0;
		if (!(c->argv = calloc((size_t)nf - 3, sizeof *c->argv)))
			die(111, "out of memory", 0);
		for (i = 4; i < nf; i++)
			c->argv[i - 4] = xstrdup(field[i]);
	}
	free(line);
	fclose(f);
	if (!*n)
		die(100, "no contender in ", file);
	return v;
}

static void
load_ips(const char *file, size_t need)
{
	char *line = 0;
	size_t cap = 0, have = 0;
	ssize_t len;
	FILE *f = fopen(file, "r");

	if (!f)
		die(100, "unable to open ", file);
	free(burst_ips);
	if (!(burst_ips = calloc(need, sizeof *burst_ips)))
		die(111, "out of memory", 0);
	while (have < need && (len = getline(&line, &cap, f)) != -1) {
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len)
			burst_ips[have++] = xstrdup(line);
	}
	free(line);
	fclose(f);
	if (have < need)
		die(100, "too few addresses in ", file);
	burst_nips = need;
}

/* Runs a shell command, untimed; its first output line goes in out. */
static int
shell(const char *cmd, const char *dir, char *out, size_t outsize)
{
	int p[2], status;
	pid_t pid;
	ssize_t n;
	size_t len = 0;

	if (out && pipe(p) == -1)
		die(111, "pipe", strerror(errno));
	pid = fork();
	if (pid == -1)
		die(111, "fork", strerror(errno));
	if (pid == 0) {
		if (out) {
			dup2(p[1], 1);
			close(p[0]);
			close(p[1]);
		}
		if (logfd != -1)
			dup2(logfd, 2);
		if (dir)
			setenv("ROAM_DIR", dir, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)0);
		_exit(127);
	}
	if (out) {
		char buf[4096];

		close(p[1]);
		out[0] = '\0';
		while ((n = read(p[0], buf, sizeof buf)) > 0 ||
		       (n == -1 && errno == EINTR)) {
			if (n > 0 && len + 1 < outsize) {
				size_t k = (size_t)n < outsize - 1 - len
					       ? (size_t)n
					       : outsize - 1 - len;

				memcpy(out + len, buf, k);
				len += k;
			}
		}
		out[len] = '\0';
		out[strcspn(out, "\n\t")] = '\0';
		close(p[0]);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			die(111, "waitpid", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The credentials pipe, already written and closed for writing. */
static int
creds(void)
{
	char buf[64];
	int p[2], n;

	n = snprintf(buf, sizeof buf, "bench%cgood%c<%ld.1@bench>%c", 0, 0,
		     (long)time(0), 0);
	if (pipe2(p, O_CLOEXEC) == -1)
		die(111, "pipe", strerror(errno));
	if (write(p[1], buf, (size_t)n) != n)
		die(111, "write", strerror(errno));
	close(p[1]);
	return p[0];
}

/* In the child: fd 3 = credentials (if any), 1 = /dev/null, 2 = log. */
static void
child_exec(const struct contender *c, int credfd, char *const *env)
{
	int null = open("/dev/null", O_RDWR);

	if (null != -1) {
		dup2(null, 0);
		dup2(null, 1);
	}
	if (c->input) {
		int in = open(c->input, O_RDONLY);

		if (in == -1 || dup2(in, 0) == -1)
			_exit(126);
	}
	if (logfd != -1)
		dup2(logfd, 2);
	if (credfd != -1) {
		if (credfd == 3) {
			fcntl(3, F_SETFD, 0);
		} else if (dup2(credfd, 3) == -1) {
			_exit(126);
		}
	}
	execve(c->argv[0], c->argv, env);
	_exit(127);
}

static int
status_of(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 1000 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Whether DIR/tcp.smtp.cdb has a record for ip that sets RELAYCLIENT. */
static int
relay_open(const char *dir, const char *ip)
{
	char path[PATH_MAX];
	struct cdb cdb;
	int fd, open_ = 0;

	snprintf(path, sizeof path, "%s/tcp.smtp.cdb", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (cdb_init(&cdb, fd) == 0) {
		if (cdb_find(&cdb, ip, (unsigned)strlen(ip)) > 0) {
			unsigned len = cdb_datalen(&cdb);
			const char *d = cdb_getdata(&cdb);

			open_ = d && memmem(d, len, "RELAYCLIENT", 11) != 0;
		}
		cdb_free(&cdb);
	}
	close(fd);
	return open_;
}

/* One client of a burst: its logins one after the other; failures. */
static int
burst_client(const struct contender *c, int client)
{
	char **env = calloc(MAXENV + 2, sizeof *env), ipvar[128];
	int i, k, fails = 0;

	if (!env)
		_exit(111);
	for (i = 0; i < c->nenv; i++)
		env[i] = c->env[i];
	env[i + 1] = 0;
	for (k = 0; k < c->logins; k++) {
		const char *ip =
		    burst_ips[(size_t)client * (size_t)c->logins + (size_t)k];
		int fd, st;
		pid_t pid;

		snprintf(ipvar, sizeof ipvar, "TCPREMOTEIP=%s", ip);
		env[i] = ipvar;
		long long t;

		fd = creds();
		t = now_ns();
		pid = fork();
		if (pid == -1) {
			fails++;
			close(fd);
			continue;
		}
		if (pid == 0)
			child_exec(c, fd, env);
		close(fd);
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		t = now_ns() - t;
		if (status_of(st) != 0)
			fails++;
		if (c->each && cur_rep > 0) {
			int open_ = c->dir ? relay_open(c->dir, ip) : 0;

			/* One write: the clients share the output. */
			dprintf(1,
				"%s@each\t%d\t%lld\t%d\t%d\t%d\t%s\trelay=%d\n",
				c->name, cur_rep, t, status_of(st), client, k,
				ip, open_);
		}
	}
	return fails > 255 ? 255 : fails;
}

static void
count_renames(int in, struct result *r)
{
	char buf[65536]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(in, buf, sizeof buf)) > 0) {
		char *p = buf;

		while (p < buf + n) {
			struct inotify_event *e = (struct inotify_event *)p;

			if (e->mask & IN_Q_OVERFLOW)
				r->cdbren = r->listren = -1;
			else if (e->len &&
				 strcmp(e->name, "tcp.smtp.cdb") == 0 &&
				 r->cdbren >= 0)
				r->cdbren++;
			else if (e->len && strcmp(e->name, "open-smtp") == 0 &&
				 r->listren >= 0)
				r->listren++;
			p += sizeof *e + e->len;
		}
	}
}

/* Waits until no writer holds the lock DIR/NAME; whether one did. */
static int
wait_lock(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd, busy = 0;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		busy = 1;
		while (flock(fd, LOCK_EX) == -1 && errno == EINTR)
			;
	}
	close(fd);
	return busy;
}

/* No writer holds the list's lock, nor the builder's; whether one did. */
static int
wait_writers(const char *dir)
{
	int busy = wait_lock(dir, "open-smtp.lock");

	if (wait_lock(dir, "tcp.smtp.cdb.lock"))
		busy = 1;
	return busy;
}

/* Starts c->behind, and waits until a build holds DIR/tcp.smtp.cdb.lock
 * (polled every 200 us, at most 10 s) or the process has ended. */
static void
start_behind(const struct contender *c)
{
	char path[PATH_MAX];
	pid_t pid;
	int i;

	pid = fork();
	if (pid == -1)
		die(111, "fork", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null != -1) {
			dup2(null, 0);
			dup2(null, 1);
		}
		if (logfd != -1)
			dup2(logfd, 2);
		execve(c->behind[0], c->behind, c->env);
		_exit(127);
	}
	snprintf(path, sizeof path, "%s/tcp.smtp.cdb.lock", c->dir);
	for (i = 0; i < 50000; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd != -1) {
			int held = flock(fd, LOCK_SH | LOCK_NB) == -1;

			if (!held)
				flock(fd, LOCK_UN);
			close(fd);
			if (held)
				return;
		}
		if (waitpid(pid, 0, WNOHANG) == pid)
			die(111, "the behind= command ended before its build: ",
			    c->name);
		usleep(200);
	}
	die(111, "no build seen behind ", c->name);
}

static int
count_warnings(off_t from)
{
	char buf[65536];
	ssize_t n;
	int count = 0;
	size_t keep = 0;

	if (logfd == -1)
		return 0;
	/* Reads the new part of the log line by line, as whole buffers. */
	while ((n = pread(logfd, buf + keep, sizeof buf - 1 - keep, from)) >
	       0) {
		char *line = buf, *nl;
		size_t len = keep + (size_t)n;

		from += n;
		buf[len] = '\0';
		while ((nl = memchr(line, '\n', len - (size_t)(line - buf)))) {
			*nl = '\0';
			if (strstr(line, "warning:") || strstr(line, "fatal:"))
				count++;
			line = nl + 1;
		}
		keep = len - (size_t)(line - buf);
		if (keep == sizeof buf - 1)
			keep = 0;
		memmove(buf, line, keep);
	}
	return count;
}

/* Waits for every child left, orphans included; whether there was one.
 * *rss, if not NULL, gets the largest peak RSS among them. */
static int
reap_all(long *rss)
{
	struct rusage ru;
	int any = 0;

	for (;;) {
		if (wait4(-1, 0, 0, &ru) > 0) {
			any = 1;
			if (rss && ru.ru_maxrss > *rss)
				*rss = ru.ru_maxrss;
			continue;
		}
		if (errno != EINTR)
			return any;
	}
}

static void
run_one(const struct contender *c, struct result *r)
{
	struct rusage ru;
	struct stat st;
	off_t logsize = 0;
	int in = -1, dirfd, status, credfd = -1, busy = 0;
	long long t0;
	pid_t pid;

	memset(r, 0, sizeof *r);
	if (c->setup && shell(c->setup, c->dir, 0, 0) != 0)
		die(111, "setup failed for ", c->name);
	reap_all(0);
	if (c->dir) {
		if ((dirfd = open(c->dir,
				  O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
			die(111, "unable to open ", c->dir);
		syncfs(dirfd);
		close(dirfd);
		in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (in == -1 ||
		    inotify_add_watch(in, c->dir, IN_MOVED_TO) == -1)
			die(111, "inotify", strerror(errno));
	}
	if (logfd != -1 && fstat(logfd, &st) == 0)
		logsize = st.st_size;
	if (c->login && !c->clients)
		credfd = creds();
	if (c->behind[0])
		start_behind(c);
	t0 = now_ns();
	if (c->clients) {
		pid_t *kids = calloc((size_t)c->clients, sizeof *kids);
		int i;

		if (!kids)
			die(111, "out of memory", 0);
		for (i = 0; i < c->clients; i++) {
			kids[i] = fork();
			if (kids[i] == -1)
				die(111, "fork", strerror(errno));
			if (kids[i] == 0)
				_exit(burst_client(c, i));
		}
		for (i = 0; i < c->clients; i++) {
			while (wait4(kids[i], &status, 0, &ru) == -1)
				if (errno != EINTR)
					die(111, "wait4", strerror(errno));
			r->status +=
			    WIFEXITED(status) ? WEXITSTATUS(status) : 1000;
			if (ru.ru_maxrss > r->maxrss)
				r->maxrss = ru.ru_maxrss;
		}
		free(kids);
	} else {
		pid = fork();
		if (pid == -1)
			die(111, "fork", strerror(errno));
		if (pid == 0)
			child_exec(c, credfd, c->env);
		while (wait4(pid, &status, 0, &ru) == -1)
			if (errno != EINTR)
				die(111, "wait4", strerror(errno));
		r->status = status_of(status);
		r->maxrss = ru.ru_maxrss;
	}
	r->ns = now_ns() - t0;
	if (credfd != -1)
		close(credfd);
	/* Orphans of the command, such as a detached writer, come back here. */
	busy = reap_all(&r->otherrss);
	if (c->dir && wait_writers(c->dir))
		busy = 1;
	r->ns_done = busy ? now_ns() - t0 : r->ns;
	if (c->dir) {
		count_renames(in, r);
		close(in);
	}
	r->warn = count_warnings(logsize);
	if (c->check && shell(c->check, c->dir, r->check, sizeof r->check) != 0)
		snprintf(r->check, sizeof r->check, "check-failed");
}

static void
usage(void)
{
	die(100, "usage: driver [-n REPS] [-w WARMUP] [-l LOG] [-v] SPECFILE",
	    0);
}

int
main(int argc, char **argv)
{
	struct contender *cs;
	struct result r;
	int n, reps = 7, warmup = 1, verbose = 0, opt, round, i;
	const char *log = 0;

	while ((opt = getopt(argc, argv, "n:w:l:v")) != -1) {
		switch (opt) {
		case 'n':
			reps = atoi(optarg);
			break;
		case 'w':
			warmup = atoi(optarg);
			break;
		case 'l':
			log = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || reps < 1 || warmup < 0)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		die(111, "prctl", strerror(errno));
	if (!log)
		log = "/dev/null";
	if ((logfd = open(log, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC,
			  0644)) == -1)
		die(111, "unable to open ", log);
	cs = read_spec(argv[optind], &n);
	for (i = 0; i < n; i++) {
		size_t need = (size_t)cs[i].clients * (size_t)cs[i].logins;

		if (!cs[i].clients)
			continue;
		if (!burst_file) {
			load_ips(cs[i].ipfile, need);
			burst_file = cs[i].ipfile;
		} else if (strcmp(burst_file, cs[i].ipfile) != 0 ||
			   burst_nips != need) {
			die(100, "every burst must use the same addresses: ",
			    cs[i].name);
		}
	}
	setvbuf(stdout, 0, _IOLBF, 0);
	for (round = 0; round < warmup + reps; round++) {
		for (i = 0; i < n; i++) {
			const struct contender *c = &cs[(round + i) % n];

			cur_rep = round < warmup ? 0 : round - warmup + 1;
			run_one(c, &r);
			if (round < warmup)
				continue;
			printf("%s\t%d\t%lld\t%d\t%ld\t%d\t%d\t%d\t%s\t%lld\t%"
			       "ld\n",
			       c->name, round - warmup + 1, r.ns, r.status,
			       r.maxrss, r.cdbren, r.listren, r.warn,
			       r.check[0] ? r.check : "-", r.ns_done,
			       r.otherrss);
		}
		if (verbose)
			fprintf(stderr, "%s",
				round + 1 < warmup + reps ? "." : ".\n");
	}
	return 0;
}

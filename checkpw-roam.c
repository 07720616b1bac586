/* SPDX-License-Identifier: ISC */
/* checkpw-roam.c: the checkpassword link that opens the relay after a good
 * login. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <skalibs/djbunix.h>
#include <skalibs/iopause.h>
#include <skalibs/tai.h>
#include <skalibs/types.h>

#include "account.h"
#include "ip.h"
#include "log.h"
#include "openlist.h"
#include "outbox.h"
#include "rebuild.h"
#include "roamdir.h"
#include "update.h"
#include "version.h"

#define MARKER "CHECKPW_ROAM_CHANNEL"
#define WAIT_MS_DEFAULT 2000
#define WAIT_MS_MAX 60000
/* How long the recorder waits for the real checkpassword to decide. */
#define AUTH_WAIT_MS 120000
/* The channel is placed above the descriptors checkpassword uses (0-4). */
#define CHANNEL_MIN_FD 5

#define MSG_GOOD '+'
#define ANSWER_DONE 'K'
#define ANSWER_FAILED 'E'

struct config {
	const char *dir;
	char ip[IP_FMTLEN];
	char *rule; /* "allow,..." */
	unsigned waitms;
	const char *var;   /* the account's variable; NULL: none */
	unsigned long max; /* ROAM_MAX_PER_ACCOUNT; 0: no limit */
	const char *deny;  /* ROAM_DENY; NULL: none */
};

/* The account a login's '+' brings: its name and a NUL. */
#define MSG_MAX (1 + ACCOUNT_MAX + 2)

static void
warn_value(const char *what, const char *value, const char *why)
{
	char safe[LOG_SAFE];

	log_sanitize(safe, sizeof safe, value, strlen(value));
	log_warn("refusing ", what, " ", safe, ": ", why);
}

/* A decimal in [0, max], nothing else. */
static int
scan_uint(const char *s, unsigned max, unsigned *u)
{
	return uint0_scan(s, u) && *u <= max;
}

static int
is_set(const char *name)
{
	const char *v = getenv(name);

	return v && *v;
}

/* ROAM_ACCOUNT_ENV, ROAM_MAX_PER_ACCOUNT and ROAM_DENY: what needs the
 * account says so when ROAM_ACCOUNT_ENV leaves it out. */
static void
configure_accounts(struct config *cf)
{
	const char *var = getenv("ROAM_ACCOUNT_ENV"), *s;

	cf->var = ACCOUNT_VAR_DEFAULT;
	if (var && !*var)
		cf->var = 0;
	else if (var && !account_var_ok(var))
		warn_value("ROAM_ACCOUNT_ENV", var,
			   "not a variable's name (letters, digits, _); "
			   "using " ACCOUNT_VAR_DEFAULT);
	else if (var)
		cf->var = var;
	if ((s = getenv("ROAM_MAX_PER_ACCOUNT")) && *s &&
	    (!ulong0_scan(s, &cf->max) || cf->max == 0)) {
		warn_value("ROAM_MAX_PER_ACCOUNT", s,
			   "not a number of addresses from 1; no limit");
		cf->max = 0;
	}
	if (cf->max && !cf->var) {
		log_warn("ROAM_MAX_PER_ACCOUNT needs the account in the list, "
			 "and ROAM_ACCOUNT_ENV is empty: no limit");
		cf->max = 0;
	}
	if ((s = getenv("ROAM_DENY")) && *s)
		cf->deny = s;
}

/*
 * Reads the configuration and decides whether this login may open the
 * relay: not for Dovecot's lookups without a password, not for SMTP AUTH,
 * not without one valid client address.
 */
static int
configure(struct config *cf)
{
	const char *ipvar = "TCPREMOTEIP", *ip, *env, *s;
	enum relay_rule r;

	if (is_set("AUTHORIZED") || is_set("CREDENTIALS_LOOKUP"))
		return 0;
	if ((s = getenv("SERVICE")) && strcmp(s, "smtp") == 0)
		return 0;
	if (!(ip = getenv(ipvar)))
		ip = getenv(ipvar = "TCP6REMOTEIP");
	if (!ip) {
		log_warn("no client address: TCPREMOTEIP is not set");
		return 0;
	}
	if (!ip_canonical(cf->ip, ip, strlen(ip))) {
		warn_value(ipvar, ip, "not an IP address");
		return 0;
	}
	if (!ip_alone(cf->ip)) {
		log_warn(cf->ip, " cannot be opened alone: tcpserver also "
				 "takes the rule of an address ending in "
				 "\"::\" as a prefix, which would relay every "
				 "address it begins; opening nothing");
		return 0;
	}
	cf->dir = roamdir_path();
	cf->waitms = WAIT_MS_DEFAULT;
	if ((s = getenv("ROAM_WAIT_MS")) &&
	    !scan_uint(s, WAIT_MS_MAX, &cf->waitms)) {
		warn_value("ROAM_WAIT_MS", s, "not a number of ms up to 60000");
		cf->waitms = WAIT_MS_DEFAULT;
	}
	env = getenv("ROAM_RELAY_ENV");
	r = openlist_relay_rule(env, &cf->rule);
	if (r == RULE_NOMEM) {
		log_warn("unable to record: out of memory");
		return 0;
	}
	if (r == RULE_BAD) {
		warn_value("ROAM_RELAY_ENV", env ? env : "",
			   "not NAME=\"value\",... as tcprules takes, "
			   "at most 3994 bytes");
		return 0;
	}
	configure_accounts(cf);
	return 1;
}

/* Answers the link once: 'K' as soon as the relay is open, or the end. */
static int answered;

static void
answer(int chan, char c)
{
	/* The link may have stopped waiting; the result stands either way. */
	if (!answered)
		(void)!write(chan, &c, 1);
	answered = 1;
}

/* What the log says of the account: " by NAME", or nothing. */
static void
by_account(char *buf, size_t size, const char *name, size_t len)
{
	buf[0] = '\0';
	if (!name)
		return;
	memcpy(buf, " by ", 4);
	log_sanitize(buf + 4, size - 4, name, len);
}

/* A login being recorded: what the recorder's hooks need. */
struct recording {
	const struct config *cf;
	const struct openentry *me;
	const struct account *a;
	int chan;
};

/* Once the address is in the list, before the build: the login goes to
 * the outbox, if roamsync made one, for the other hosts, at this moment
 * to the millisecond; so they build while this host does. */
static void
listed(void *arg)
{
	const struct recording *r = arg;
	const struct account *a = r->a;
	struct fail f;

	if (outbox_add_login(r->cf->dir, r->me->ip, a->var ? a->name : 0,
			     a->len, outbox_now_ms(), &f) == OUTBOX_FAILED)
		log_warn("unable to pass the login from ", r->cf->ip,
			 " on to roamsync: ", f.msg);
}

/* The relay is open: the login need not wait for the housekeeping. */
static void
opened(void *arg)
{
	answer(((const struct recording *)arg)->chan, ANSWER_DONE);
}

/* Records the login's address; a failure is one warning. The log names
 * the account of every login. */
static int
record(const struct config *cf, const struct openentry *me,
       const struct account *a, int chan)
{
	struct recording rec = {.cf = cf, .me = me, .a = a, .chan = chan};
	struct login_hooks h = {
	    .listed = listed, .opened = opened, .arg = &rec};
	struct outcome o;
	struct fail f;
	char by[LOG_SAFE + 4], num[24];

	by_account(by, sizeof by, a->name, a->len);
	if (update_login(cf->dir, me, a, &h, &o, &f) == -1) {
		log_warn("unable to open the relay for ", cf->ip, ": ", f.msg);
		return -1;
	}
	snprintf(num, sizeof num, "%lu", a->max);
	if (o.limited)
		log_warn("not opening the relay for ", cf->ip, by,
			 ": the account holds ", num,
			 " addresses open, ROAM_MAX_PER_ACCOUNT");
	else if (o.added)
		log_info("relay opened for ", cf->ip, by);
	else
		log_info("relay refreshed for ", cf->ip, by);
	return o.limited ? 1 : 0;
}

/* Whether ROAM_DENY lists the account; a missing file lists none, an
 * unreadable one is warned of and lists none. */
static int
denied(const struct config *cf, const char *name, size_t len)
{
	char *text = 0, safe[LOG_SAFE];
	size_t tlen = 0;
	struct fail f;
	int r;

	if (!cf->deny)
		return 0;
	if (roamdir_read(AT_FDCWD, cf->deny, 1, &text, &tlen, 0, &f) == -1) {
		log_sanitize(safe, sizeof safe, cf->deny, strlen(cf->deny));
		log_warn("ROAM_DENY ", safe, ": ", f.msg, "; denying no one");
		return 0;
	}
	r = name && account_listed(text, tlen, name, len);
	free(text);
	return r;
}

/*
 * The login's account, and its rule: the relay rule with the account in
 * cf->var, or without it if it cannot be held (warned). *rule is the
 * one to free.
 */
static void
account_setup(const struct config *cf, struct openentry *me, struct account *a,
	      char *name, size_t len, char **rule)
{
	enum account_status st;
	char safe[LOG_SAFE];

	*a = (struct account){.var = cf->var, .max = cf->max};
	*rule = 0;
	if (len == 0)
		return;
	a->name = name;
	a->len = len;
	if (!cf->var)
		return;
	st = len > ACCOUNT_MAX
		 ? ACCOUNT_LONG
		 : account_rule(cf->rule, cf->var, name, len, rule);
	if (st == ACCOUNT_OK) {
		me->rule = *rule;
		me->rulelen = strlen(*rule);
		return;
	}
	log_sanitize(safe, sizeof safe, name, len);
	log_warn("opening the relay for ", cf->ip, " without its account ",
		 safe, ": ", account_why(st));
	a->var = 0; /* no limit can count it */
}

/* The link's message: '+', then the account's name and a NUL (a link of
 * an earlier version sends the '+' alone). Returns the name's length, or
 * -1 if the login failed. */
static ssize_t
read_message(int chan, char *buf)
{
	struct pollfd p = {.fd = chan, .events = POLLIN};
	size_t len = 0;

	if (poll(&p, 1, AUTH_WAIT_MS) != 1)
		return -1;
	while (len < MSG_MAX) {
		ssize_t r = read(chan, buf + len, MSG_MAX - len);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (memchr(buf, '\0', len) || poll(&p, 1, 1000) != 1)
			break;
	}
	if (len == 0 || buf[0] != MSG_GOOD)
		return -1;
	buf[len] = '\0';
	return (ssize_t)strlen(buf + 1);
}

/*
 * Forks the recorder as a child of our parent, not ours (clone with
 * CLONE_PARENT): the login then goes on at the recorder's answer, and
 * need not wait to reap it. qmail-popup and Dovecot reap it, as every
 * child they do not know (each waits for any child and drops the others);
 * so does init if the parent is gone. A plain fork if the kernel refuses
 * (the parent is an init). Returns as fork does.
 */
static pid_t
fork_recorder(void)
{
	long r = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0L, 0L, 0L, 0L);

	if (r == -1 && errno == EINVAL)
		return fork();
	return (pid_t)r;
}

/*
 * Whether tcp.smtp.cdb has a record for the address already: then no
 * update can change what tcpserver decides for it (it takes a key's
 * first record, and ours come after the rules), so the login need not
 * wait for the recorder. Reads only, without the lock (the cdb is
 * replaced whole).
 */
static int
open_already(const struct config *cf)
{
	struct fail ignored;
	int dirfd = roamdir_open(cf->dir, &ignored), r;

	if (dirfd == -1)
		return 0;
	r = rebuild_has(dirfd, cf->ip, 1, 0);
	close(dirfd);
	return r;
}

/*
 * The recorder: a detached process that keeps the privileges of the link
 * before authentication. It records only when the link after
 * authentication says so; end of file means the login failed. For an
 * address open already, the link answered for it before it started.
 */
static void
recorder(int chan, const struct config *cf)
{
	struct openentry me = {.rule = cf->rule, .rulelen = strlen(cf->rule)};
	struct account a;
	char msg[MSG_MAX + 1], by[LOG_SAFE + 4], *rule;
	ssize_t len;
	int r;

	signal(SIGPIPE, SIG_IGN);
	/* Past a file size limit, fail the write and report it; do not die. */
	signal(SIGXFSZ, SIG_IGN);
	if ((len = read_message(chan, msg)) == -1)
		_exit(0);
	account_setup(cf, &me, &a, msg + 1, (size_t)len, &rule);
	if (denied(cf, a.name, a.len)) {
		by_account(by, sizeof by, a.name, a.len);
		log_warn("not opening the relay for ", cf->ip, by,
			 ": the account is in ROAM_DENY");
		answer(chan, ANSWER_DONE);
		_exit(0);
	}
	memcpy(me.ip, cf->ip, sizeof me.ip);
	me.ts = (uint64_t)time(0);
	r = record(cf, &me, &a, chan);
	answer(chan, r == -1 ? ANSWER_FAILED : ANSWER_DONE);
	free(rule);
	_exit(0);
}

static void
close_from(int lo)
{
	long max = sysconf(_SC_OPEN_MAX);

	if (close_range((unsigned)lo, ~0U, 0) == 0)
		return;
	for (int fd = lo; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
		close(fd);
}

/* In the child: keep the log (as fd 2) and the channel (as fd 3), nothing
 * else: not the client's connection. */
static void
detach(int chan)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	setsid();
	log_onto_stderr(null);
	if (chan != 3 && dup2(chan, 3) == -1)
		_exit(0);
	close_from(4);
	null = open("/dev/null", O_RDWR);
	if (null == -1) {
		close(0);
		close(1);
		return;
	}
	if (null != 0)
		dup2(null, 0);
	if (null != 1)
		dup2(null, 1);
	if (null > 1)
		close(null);
}

static void
usage(void)
{
	log_fatal(2, "usage: checkpw-roam REALCHECKPW PROG [ARGS...] | -V");
}

static void
run(char **argv)
{
	execvp(argv[0], argv);
	{
		char safe[LOG_SAFE];

		log_sanitize(safe, sizeof safe, argv[0], strlen(argv[0]));
		log_fatal(111, "unable to run ", safe, ": ", strerror(errno));
	}
}

/*
 * Starts the recorder; returns the link's end of the channel, placed above
 * checkpassword's descriptors and kept across exec, or -1 (warned).
 */
static int
start_recorder(const struct config *cf, pid_t *pid)
{
	int sv[2], chan;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("unable to start the recorder: ", strerror(errno));
		return -1;
	}
	/* Open already: the answer waits in the channel before the password
	 * is checked, so that the login does not wait for the recorder to
	 * run (it may share our CPU) nor for the refresh. */
	if (open_already(cf))
		answer(sv[0], ANSWER_DONE);
	if ((*pid = fork_recorder()) == -1) {
		log_warn("unable to start the recorder: ", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (*pid == 0) {
		close(sv[1]);
		detach(sv[0]);
		recorder(3, cf);
	}
	close(sv[0]);
	chan = sv[1];
	if (chan < CHANNEL_MIN_FD) {
		chan = fcntl(sv[1], F_DUPFD, CHANNEL_MIN_FD);
		close(sv[1]);
	} else if (uncoe(chan) == -1) {
		chan = -1;
	}
	if (chan == -1)
		log_warn("unable to pass the channel on: ", strerror(errno));
	return chan;
}

/*
 * Before authentication: start the recorder and run
 * "REALCHECKPW /path/to/checkpw-roam PROG..." with the channel's
 * descriptor in the marker. Any failure here only skips the recording.
 */
static void
before_auth(int argc, char **argv)
{
	struct config cf = {0};
	char self[PATH_MAX], marker[64], **nargv;
	ssize_t n;
	int chan;
	pid_t pid;

	if (!configure(&cf))
		run(argv + 1);
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0 || (size_t)n >= sizeof self - 1 || self[0] != '/') {
		log_warn("unable to find my own path: ",
			 n == -1 ? strerror(errno) : "too long");
		run(argv + 1);
	}
	self[n] = '\0';
	if (!(nargv = calloc((size_t)argc + 2, sizeof *nargv))) {
		log_warn("unable to start the recorder: ", strerror(errno));
		run(argv + 1);
	}
	if ((chan = start_recorder(&cf, &pid)) == -1)
		run(argv + 1);
	snprintf(marker, sizeof marker, "%d,%ld,%u", chan, (long)pid,
		 cf.waitms);
	if (setenv(MARKER, marker, 1) == -1) {
		log_warn("unable to set " MARKER ": ", strerror(errno));
		close(chan);
		run(argv + 1);
	}
	nargv[0] = argv[1];
	nargv[1] = self;
	memcpy(nargv + 2, argv + 2, (size_t)(argc - 2) * sizeof *nargv);
	run(nargv);
}

/* Parses "fd,pid,ms" exactly. */
static int
parse_marker(const char *m, int *fd, pid_t *pid, unsigned *ms)
{
	char buf[64], *a, *b;
	unsigned ufd, upid;

	size_t len = strlen(m);

	if (len >= sizeof buf)
		return 0;
	memcpy(buf, m, len + 1);
	if (!(a = strchr(buf, ',')) || !(b = strchr(a + 1, ',')))
		return 0;
	*a++ = '\0';
	*b++ = '\0';
	if (!scan_uint(buf, INT_MAX, &ufd) || !scan_uint(a, INT_MAX, &upid) ||
	    !scan_uint(b, WAIT_MS_MAX, ms) || upid < 2)
		return 0;
	*fd = (int)ufd;
	*pid = (pid_t)upid;
	return 1;
}

/* Whether fd is an AF_UNIX socket above checkpassword's descriptors. */
static int
is_channel(int fd)
{
	struct stat st;
	struct sockaddr_storage sa;
	socklen_t len = sizeof sa;

	memset(&sa, 0, sizeof sa);
	if (fd < CHANNEL_MIN_FD || fstat(fd, &st) == -1 ||
	    !S_ISSOCK(st.st_mode))
		return 0;
	if (getsockname(fd, (struct sockaddr *)&sa, &len) == -1)
		return 0;
	return sa.ss_family == AF_UNIX;
}

/*
 * Waits at most ms in all for the recorder's answer, and then, if it is
 * our child (ours), for its end of file. Returns the answer, or 0 if none
 * came; *eof says it closed.
 */
static char
await_recorder(int fd, unsigned ms, int ours, int *eof)
{
	tain deadline;
	char answer = 0, c;

	*eof = 0;
	tain_now_set_stopwatch_g();
	tain_from_millisecs(&deadline, (int)ms);
	tain_add_g(&deadline, &deadline);
	for (;;) {
		iopause_fd x = {.fd = fd, .events = IOPAUSE_READ};
		ssize_t r;

		if (iopause_g(&x, 1, &deadline) < 1)
			return answer;
		r = read(fd, &c, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == 1 && !answer) {
			answer = c;
			/* Our parent's child: it ends on its own. */
			if (!ours)
				return answer;
			continue;
		}
		*eof = r == 0;
		return answer;
	}
}

/*
 * The account the real checkpassword authenticated, as it left it in
 * the environment: VPOPUSER where vchkpw set it (user@domain), else
 * USER. Sent with the '+' and a NUL, in one write; a name longer than
 * ACCOUNT_MAX goes cut to one byte more, for the recorder to refuse.
 */
static int
send_good(int fd)
{
	const char *name = getenv("VPOPUSER");
	char msg[MSG_MAX];
	size_t n;

	if (!name || !*name)
		name = getenv("USER");
	if (!name)
		name = "";
	n = strnlen(name, ACCOUNT_MAX + 1);
	msg[0] = MSG_GOOD;
	memcpy(msg + 1, name, n);
	msg[n + 1] = '\0';
	return send(fd, msg, n + 2, MSG_NOSIGNAL) == (ssize_t)(n + 2);
}

/*
 * After authentication, as the user: tell the recorder, wait at most the
 * marker's ms, then run PROG. Opens no relay file; never fails the login.
 */
static void
after_auth(char **argv, const char *m)
{
	char mcopy[64], answer = 0, safe[LOG_SAFE];
	unsigned ms;
	pid_t pid;
	int fd, eof = 0, ours;

	snprintf(mcopy, sizeof mcopy, "%s", m);
	unsetenv(MARKER);
	if (!argv[1])
		usage();
	if (!parse_marker(mcopy, &fd, &pid, &ms)) {
		log_sanitize(safe, sizeof safe, m, strlen(m));
		log_warn("ignoring malformed " MARKER " ", safe);
		run(argv + 1);
	}
	if (!is_channel(fd)) {
		log_warn("ignoring " MARKER ": no recorder channel there");
		run(argv + 1);
	}
	/* Ours only if a fork stood in for the clone: then it is reaped. */
	ours = waitpid(pid, 0, WNOHANG) != -1;
	if (send_good(fd))
		answer = await_recorder(fd, ms, ours, &eof);
	else
		eof = 1; /* it is gone already */
	close(fd);
	if (answer == 0 && eof) {
		log_warn("the recorder ended without answering; the login "
			 "goes on");
	} else if (answer == 0) {
		char num[16];

		snprintf(num, sizeof num, "%u", ms);
		log_warn("the recorder did not answer within ", num,
			 " ms; the login goes on");
	}
	/* At end of file it is exiting: reap it rather than leave a zombie. */
	if (eof && ours)
		waitpid(pid, 0, 0);
	run(argv + 1);
}

int
main(int argc, char **argv)
{
	const char *m;

	log_prog = "checkpw-roam";
	m = getenv(MARKER);
	if (!m && argc == 2 && strcmp(argv[1], "-V") == 0)
		version_print(log_prog);
	/* After the password, a bad ROAM_LOG_FD was reported already. */
	if (log_setup() == -1 && !m) {
		const char *v = getenv("ROAM_LOG_FD");

		warn_value("ROAM_LOG_FD", v ? v : "",
			   "not an open descriptor for the log");
	}
	if (m)
		after_auth(argv, m);
	if (argc < 3)
		usage();
	before_auth(argc, argv);
	return 111;
}

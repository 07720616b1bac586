/* SPDX-License-Identifier: ISC */
/* seedref.c: REFERENCE ONLY, for the benchmark; never installed, never
 * used in production. A faithful re-implementation of what vpopmail's
 * roaming users do (the seed's method: vpopmail.c open_smtp_relay() and
 * update_rules(), and its clearopensmtp.c), so that checkpw-roam can be
 * timed against it on the same files. It keeps vpopmail's algorithm and
 * its costs (stdio line copies with a 300-byte buffer, one write() per
 * line into the tcprules pipe, a vfork+exec of the real tcprules per
 * rebuild), but not its faults that would make a benchmark meaningless:
 * the lock is a blocking flock() (vpopmail retries a non-blocking lock,
 * then goes on without it), so no login is lost in a burst.
 *
 * Usage: seedref PROG [ARGS...]   a login's post-authentication step: in
 *                                 $ROAM_DIR, record $TCPREMOTEIP as vpopmail
 *                                 does, then execute PROG (as vchkpw goes on
 *                                 to qmail-pop3d whatever happened).
 *        seedref -x MINUTES       vpopmail's clearopensmtp: drop lines older
 *                                 than MINUTES, then rebuild (no lock, and a
 *                                 fixed temp name, as vpopmail).
 *        seedref -r               update_rules() alone: the seed's rebuild.
 * The tcprules run is $SEED_TCPRULES, default /usr/bin/tcprules. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_BUFF 300 /* vpopmail.h */
#define RULE "allow,RELAYCLIENT=\"\",RBLSMTPD=\"\""

static char dir[4096];

static const char *
path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
	return buf;
}

/* update_rules(): tcp.smtp, then the list cut at the TAB, into tcprules. */
static int
update_rules(void)
{
	char cdb[4200], tmp[4200], file[4200], line[MAX_BUFF], *tab;
	const char *prog = getenv("SEED_TCPRULES");
	char *args[4];
	int pim[2], wstat;
	pid_t pid;
	FILE *fs;

	if (!prog || !*prog)
		prog = "/usr/bin/tcprules";
	umask(022);
	path(cdb, sizeof cdb, "tcp.smtp.cdb");
	snprintf(tmp, sizeof tmp, "%s/tcp.smtp.tmp.%ld", dir, (long)getpid());
	args[0] = (char *)prog;
	args[1] = cdb;
	args[2] = tmp;
	args[3] = 0;
	if (pipe(pim) == -1)
		return -1;
	pid = vfork();
	if (pid == -1) {
		close(pim[0]);
		close(pim[1]);
		return -1;
	}
	if (pid == 0) {
		close(pim[1]);
		if (pim[0] != 0 && (dup2(pim[0], 0) == -1 || close(pim[0])))
			_exit(120);
		execv(args[0], args);
		_exit(120);
	}
	close(pim[0]);
	if ((fs = fopen(path(file, sizeof file, "tcp.smtp"), "r"))) {
		while (fgets(line, sizeof line, fs))
			if (write(pim[1], line, strlen(line)) == -1)
				break;
		fclose(fs);
	}
	if ((fs = fopen(path(file, sizeof file, "open-smtp"), "r"))) {
		while (fgets(line, sizeof line, fs)) {
			if ((tab = strchr(line, '\t')))
				*tab = '\0';
			else
				line[strcspn(line, "\n")] = '\0';
			if (strlen(line) + 2 > sizeof line)
				continue;
			strcat(line, "\n");
			if (write(pim[1], line, strlen(line)) == -1)
				break;
		}
		fclose(fs);
	}
	close(pim[1]);
	if (waitpid(pid, &wstat, 0) == -1)
		return -1;
	if (unlink(tmp) == 0)
		fprintf(stderr, "seedref: warning: tcprules failed\n");
	return WIFEXITED(wstat) && WEXITSTATUS(wstat) == 0 ? 0 : -1;
}

/* open_smtp_relay(): lock, rewrite the list with this IP's line last and
 * fresh, rename; rebuild only when the IP was not listed. */
static int
open_smtp_relay(const char *ip)
{
	char cur[4200], tmpname[4200], lk[4200], line[MAX_BUFF], copy[MAX_BUFF],
	    *key;
	int lock, rebuild = 1, r = 0;
	FILE *fcur, *ftmp;
	time_t now = time(0);

	lock = open(path(lk, sizeof lk, "open-smtp.lock"), O_WRONLY | O_CREAT,
		    0600);
	if (lock == -1)
		return -1;
	flock(lock, LOCK_EX);
	path(cur, sizeof cur, "open-smtp");
	if (!(fcur = fopen(cur, "r+")) && !(fcur = fopen(cur, "w+"))) {
		close(lock);
		return -1;
	}
	snprintf(tmpname, sizeof tmpname, "%s/open-smtp.tmp.%lu", dir,
		 (unsigned long)getpid());
	if (!(ftmp = fopen(tmpname, "w+"))) {
		fclose(fcur);
		close(lock);
		return -1;
	}
	while (fgets(line, sizeof line, fcur)) {
		snprintf(copy, sizeof copy, "%s", line);
		key = strtok(copy, ":");
		if (key && strcmp(key, ip) == 0)
			rebuild = 0;
		else
			fputs(line, ftmp);
	}
	fprintf(ftmp, "%s:" RULE "\t%d\n", ip, (int)now);
	fclose(fcur);
	fclose(ftmp);
	rename(tmpname, cur);
	if (rebuild)
		r = update_rules();
	close(lock);
	return r;
}

/* clearopensmtp: keep the lines younger than minutes, then rebuild. */
static int
clear_open_smtp(long minutes)
{
	char cur[4200], tmpname[4200], line[MAX_BUFF], copy[MAX_BUFF], *ts;
	time_t now = time(0), clear = (time_t)minutes * 60;
	FILE *fcur, *ftmp;

	path(cur, sizeof cur, "open-smtp");
	if ((fcur = fopen(cur, "r+"))) {
		if (!(ftmp =
			  fopen(path(tmpname, sizeof tmpname, "open-smtp.tmp"),
				"w+"))) {
			fclose(fcur);
			return -1;
		}
		while (fgets(line, sizeof line, fcur)) {
			snprintf(copy, sizeof copy, "%s", line);
			strtok(copy, "\t");
			ts = strtok(0, "\t");
			if (ts && atoi(ts) + clear > now)
				fputs(line, ftmp);
		}
		fclose(fcur);
		fclose(ftmp);
		rename(tmpname, cur);
	}
	return update_rules();
}

int
main(int argc, char **argv)
{
	const char *d = getenv("ROAM_DIR"), *ip = getenv("TCPREMOTEIP");

	if (!d || !*d || strlen(d) >= sizeof dir - 64) {
		fprintf(stderr, "seedref: fatal: ROAM_DIR is not set\n");
		return 111;
	}
	strcpy(dir, d);
	if (argc == 3 && strcmp(argv[1], "-x") == 0)
		return clear_open_smtp(atol(argv[2])) == 0 ? 0 : 111;
	if (argc == 2 && strcmp(argv[1], "-r") == 0)
		return update_rules() == 0 ? 0 : 111;
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: seedref PROG [ARGS...] | -x MINUTES | "
				"-r\n");
		return 100;
	}
	if (ip && *ip && strlen(ip) < 64 && open_smtp_relay(ip) == -1)
		fprintf(stderr, "seedref: warning: unable to record %s\n", ip);
	execvp(argv[1], argv + 1);
	fprintf(stderr, "seedref: fatal: unable to run %s: %s\n", argv[1],
		strerror(errno));
	return 111;
}

/* SPDX-License-Identifier: ISC */
/* merge.c: calls update_merge as roamsync does, with the changes read from
 * standard input: for the tests of the merge without a database.
 *
 * Usage: merge < CHANGES
 *
 * Each line is "+IP EPOCH" (opened or refreshed on another host at EPOCH)
 * or "-IP [EPOCH]" (closed there, at EPOCH or now). ROAM_DIR is the directory;
 * a new address gets the default rule. Prints "added A dropped D refreshed R"
 * and exits 0, or prints the failure and exits 111 (100 for a bad line). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ip.h"
#include "log.h"
#include "openlist.h"
#include "roamdir.h"
#include "update.h"

#define RULE "allow,RELAYCLIENT=\"\",RBLSMTPD=\"\""
#define MAXCHANGES 100000

static struct openentry open_[MAXCHANGES], closed[MAXCHANGES];

/* "+IP EPOCH" or "-IP [EPOCH]" (a close now by default) into the one
 * table or the other. */
static int
parse(char *line, struct arrivals *a)
{
	char *sp = strchr(line, ' ');
	struct openentry *e;

	line[strcspn(line, "\n")] = '\0';
	if (sp)
		*sp = '\0';
	if (line[0] == '+' && sp && a->nopen < MAXCHANGES) {
		e = &open_[a->nopen++];
	} else if (line[0] == '-' && a->nclosed < MAXCHANGES) {
		e = &closed[a->nclosed++];
	} else {
		return -1;
	}
	e->ts = sp ? strtoull(sp + 1, 0, 10) : a->now;
	e->rule = RULE;
	e->rulelen = strlen(RULE);
	return ip_canonical(e->ip, line + 1, strlen(line + 1)) ? 0 : -1;
}

int
main(void)
{
	struct arrivals a = {.open = open_, .closed = closed};
	struct outcome o;
	struct fail f;
	char line[256];

	log_prog = "merge";
	a.now = (uint64_t)time(0);
	while (fgets(line, sizeof line, stdin))
		if (parse(line, &a) == -1)
			log_fatal(100, "bad line: ", line);
	if (update_merge(roamdir_path(), &a, &o, &f) == -1)
		log_fatal(f.code, f.msg);
	printf("added %zu dropped %zu refreshed %zu\n", o.added, o.dropped,
	       o.refreshed);
	return 0;
}

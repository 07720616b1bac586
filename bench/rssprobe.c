/* SPDX-License-Identifier: ISC */
/* rssprobe.c: peak memory of the processes of a login chain (benchmark
 * only). A process's maximum resident set size survives execve(2), and a
 * parent's RUSAGE_CHILDREN holds the largest of the children it reaped, so
 * a probe placed in the chain reads what ran before it in the same process
 * and what that process reaped, without knowing how the link works.
 *
 * As PROG (the default):  rssprobe
 *   appends "self=KB children=KB" to $RSSPROBE_OUT: self is the largest
 *   image this process has run (the link's two runs, the checkpassword),
 *   children the largest child it reaped (the link's recorder). Children
 *   still running are waited for first, and so counted too.
 * As REALCHECKPW ($RSSPROBE_AS=checkpw): rssprobe PROG...
 *   appends "self=KB" (the link before authentication) and exits 1, a
 *   rejected password, so that nothing is recorded.
 * All figures are in KiB and include the benchmark driver's forked copy,
 * which a run of rssprobe alone measures. Built static. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

int
main(void)
{
	const char *out = getenv("RSSPROBE_OUT"), *as = getenv("RSSPROBE_AS");
	struct rusage self, kids;
	FILE *f;
	int checkpw = as && strcmp(as, "checkpw") == 0;

	if (getrusage(RUSAGE_SELF, &self) == -1)
		return 111;
	if (!checkpw)
		while (wait(0) != -1 || errno == EINTR)
			;
	if (getrusage(RUSAGE_CHILDREN, &kids) == -1)
		return 111;
	if (!out || !(f = fopen(out, "a")))
		return 111;
	if (checkpw)
		fprintf(f, "self=%ld\n", self.ru_maxrss);
	else
		fprintf(f, "self=%ld children=%ld\n", self.ru_maxrss,
			kids.ru_maxrss);
	if (fclose(f) != 0)
		return 111;
	return checkpw ? 1 : 0;
}

/* SPDX-License-Identifier: ISC */
/* version.c: prints "prog VERSION" for -V; make passes VERSION in from the
 * file VERSION. */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "version.h"

#ifndef ROAM_VERSION
#error "ROAM_VERSION is not defined: build with make, which reads VERSION"
#endif

void
version_print(const char *prog)
{
	if (printf("%s %s\n", prog, ROAM_VERSION) < 0 || fflush(stdout) != 0)
		log_fatal(111, "unable to write to standard output");
	_Exit(0);
}

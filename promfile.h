/* promfile.h: a file of figures for node_exporter's textfile collector,
 * replaced whole. */
/* SPDX-License-Identifier: ISC */
#ifndef PROMFILE_H
#define PROMFILE_H

#include "log.h"

/* The file's directory, open, and its name in it. */
struct promfile {
	int dirfd;
	const char *path;
	char name[101];
};

int promfile_open(struct promfile *pf, const char *path, struct fail *f);
int promfile_write(struct promfile *pf, const char *text, size_t len, int sync,
		   struct fail *f);

#endif

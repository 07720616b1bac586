/* SPDX-License-Identifier: ISC */
/* version.h: "prog -V", the package's one version (the file VERSION). */
#ifndef VERSION_H
#define VERSION_H

void version_print(const char *prog) __attribute__((noreturn));

#endif

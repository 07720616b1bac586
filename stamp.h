/* stamp.h: the list, tcp.smtp and tcp.smtp.cdb the last rebuild left
 * consistent, so that new addresses can be appended to both. */
#ifndef STAMP_H
#define STAMP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* A file as fstat sees it; all zero for a missing file. */
struct fileid {
	uint64_t dev, ino, size, mtime; /* mtime in nanoseconds */
};

struct stamp {
	struct fileid list, cdb; /* the list's mtime is not compared */
	uint64_t rules;		 /* stamp_sum of tcp.smtp's text */
};

void fileid_of(struct fileid *id, const struct stat *st);
int fileid_same(const struct fileid *a, const struct fileid *b);

uint64_t stamp_sum(const char *p, size_t n);
int stamp_read(int dirfd, struct stamp *s);
void stamp_write(int dirfd, const struct stamp *s);
void stamp_clear(int dirfd);

#endif

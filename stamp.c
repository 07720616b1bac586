/* stamp.c: the list, tcp.smtp and tcp.smtp.cdb the last rebuild left
 * consistent, so that new addresses can be appended to both. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "le64.h"
#include "roamdir.h"
#include "stamp.h"

/*
 * The file: a magic, nine numbers, and a checksum of them, each eight
 * bytes, little-endian. It is derived data, rewritten in place without
 * fsync after each rebuild: a stale one names files that no longer exist
 * (each rebuild renames the cdb), and a torn or damaged one fails its
 * checksum; either way the next update rebuilds in full. tcp.smtp is
 * known by a sum of its text, which an edit in the same clock tick
 * changes too.
 */
#define MAGIC "cproam1\n"
#define NUMS 9
#define SIZE ((size_t)8 * (NUMS + 2))

/* FNV-1a, 64 bits: enough to tell an edit or a torn write. */
uint64_t
stamp_sum(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037u;

	while (n--)
		h = (h ^ (unsigned char)*p++) * 1099511628211u;
	return h;
}

void
fileid_of(struct fileid *id, const struct stat *st)
{
	id->dev = (uint64_t)st->st_dev;
	id->ino = (uint64_t)st->st_ino;
	id->size = (uint64_t)st->st_size;
	id->mtime = (uint64_t)st->st_mtim.tv_sec * 1000000000u +
		    (uint64_t)st->st_mtim.tv_nsec;
}

int
fileid_same(const struct fileid *a, const struct fileid *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime == b->mtime;
}

static void
pack(unsigned char *p, const struct fileid *id)
{
	put64(p, id->dev);
	put64(p + 8, id->ino);
	put64(p + 16, id->size);
	put64(p + 24, id->mtime);
}

static void
unpack(const unsigned char *p, struct fileid *id)
{
	id->dev = get64(p);
	id->ino = get64(p + 8);
	id->size = get64(p + 16);
	id->mtime = get64(p + 24);
}

/* 1 with s set, 0 when there is no good stamp. */
int
stamp_read(int dirfd, struct stamp *s)
{
	unsigned char b[SIZE];
	int fd = openat(dirfd, ROAM_STAMP,
			O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	ssize_t n;

	if (fd == -1)
		return 0;
	n = pread(fd, b, sizeof b, 0);
	close(fd);
	if (n != (ssize_t)sizeof b || memcmp(b, MAGIC, sizeof MAGIC - 1) != 0 ||
	    get64(b + SIZE - 8) != stamp_sum((char *)b, SIZE - 8))
		return 0;
	unpack(b + 8, &s->list);
	unpack(b + 40, &s->cdb);
	s->rules = get64(b + 72);
	return 1;
}

/* Best effort: without it the next update rebuilds in full. */
void
stamp_write(int dirfd, const struct stamp *s)
{
	unsigned char b[SIZE];
	struct stat dst;
	int fd;

	memcpy(b, MAGIC, sizeof MAGIC - 1);
	pack(b + 8, &s->list);
	pack(b + 40, &s->cdb);
	put64(b + 72, s->rules);
	put64(b + SIZE - 8, stamp_sum((char *)b, SIZE - 8));
	fd = openat(dirfd, ROAM_STAMP,
		    O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		fd = openat(
		    dirfd, ROAM_STAMP,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd != -1 && fstat(dirfd, &dst) == 0)
			(void)!fchown(fd, dst.st_uid, dst.st_gid);
	}
	if (fd == -1)
		return;
	if (pwrite(fd, b, sizeof b, 0) != (ssize_t)sizeof b)
		stamp_clear(dirfd);
	close(fd);
}

/* No stamp at all: the next update rebuilds in full. */
void
stamp_clear(int dirfd)
{
	unlinkat(dirfd, ROAM_STAMP, 0);
}

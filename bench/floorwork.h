/* SPDX-License-Identifier: ISC */
/* floorwork.h: the least file work each job needs, shared by floor.c (as a
 * process of its own) and floorlink.c (in its forked child). Each function
 * returns 0, or -1 with errno set. The rebuild and expiry floors do not
 * fsync the directory (they make the result visible and the data durable,
 * nothing more); the new address's does, as the one-builder design must
 * before it answers (the relay is open when the login returns). */
#ifndef FLOORWORK_H
#define FLOORWORK_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char floor_junk[65536];

static inline int
floor_path(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Opens and locks DIR/open-smtp.lock; the caller closes it. */
static inline int
floor_lock(const char *dir)
{
	char p[4096];
	int fd;

	if (floor_path(p, sizeof p, dir, "open-smtp.lock") == -1)
		return -1;
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (flock(fd, LOCK_EX) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static inline int
floor_writeall(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t w = write(fd, s, len);

		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * Writes BYTES bytes of src (repeated) to DIR/TMP, fsyncs, renames to
 * NAME. chunk, if not 0, is the size of each write(2).
 */
static inline int
floor_write(const char *dir, const char *tmp, const char *name, const char *src,
	    size_t srclen, unsigned long long bytes, size_t chunk)
{
	char pt[4096], pn[4096];
	int fd;

	if (!src || !srclen) {
		src = floor_junk;
		srclen = sizeof floor_junk;
	}
	if (chunk && srclen > chunk)
		srclen = chunk;
	if (floor_path(pt, sizeof pt, dir, tmp) == -1 ||
	    floor_path(pn, sizeof pn, dir, name) == -1)
		return -1;
	fd = open(pt, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	while (bytes) {
		size_t n = bytes < srclen ? (size_t)bytes : srclen;

		if (floor_writeall(fd, src, n) == -1)
			goto fail;
		bytes -= n;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1)
		return -1;
	return rename(pt, pn);
fail:
	close(fd);
	return -1;
}

static inline int
floor_replace(const char *dir, const char *tmp, const char *name,
	      const char *src, size_t srclen, unsigned long long bytes)
{
	return floor_write(dir, tmp, name, src, srclen, bytes, 0);
}

/* A refresh: open, lock, write a timestamp over the last line's, close. */
static inline int
floor_refresh(const char *dir)
{
	char p[4096], ts[16];
	struct stat st;
	int lock, fd, r = -1;

	if ((lock = floor_lock(dir)) == -1)
		return -1;
	if (floor_path(p, sizeof p, dir, "open-smtp") == -1 ||
	    (fd = open(p, O_WRONLY | O_CLOEXEC)) == -1)
		goto out;
	snprintf(ts, sizeof ts, "%010lld", (long long)time(0) % 10000000000LL);
	if (fstat(fd, &st) == 0 && st.st_size > 11 &&
	    pwrite(fd, ts, 10, st.st_size - 11) == 10)
		r = 0;
	if (close(fd) == -1)
		r = -1;
out:
	close(lock);
	return r;
}

/* A rebuild: a file of the cdb's size written, fsynced and renamed. */
static inline int
floor_rebuild(const char *dir, unsigned long long cdbbytes)
{
	return floor_replace(dir, "floor.cdb.tmp", "floor.cdb", 0, 0, cdbbytes);
}

/*
 * Not a floor but the same rebuild as tinycdb must write it under this
 * project's rule for replacing files: 4,096 bytes a write(2) (tinycdb's
 * buffer), and the directory synced after the rename.
 */
static inline int
floor_rebuild4k(const char *dir, unsigned long long cdbbytes)
{
	int fd, r;

	if (floor_write(dir, "floor.cdb.tmp", "floor.cdb", 0, 0, cdbbytes,
			4096) == -1)
		return -1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* Reads DIR/NAME whole into *text (malloc'd), its length in *len. */
static inline int
floor_slurp(const char *dir, const char *name, char **text, size_t *len)
{
	char p[4096];
	struct stat st;
	int fd;

	*text = 0;
	*len = 0;
	if (floor_path(p, sizeof p, dir, name) == -1 ||
	    (fd = open(p, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !(*text = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return -1;
	}
	while (*len < (size_t)st.st_size) {
		ssize_t n = read(fd, *text + *len, (size_t)st.st_size - *len);

		if (n <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			break;
		}
		*len += (size_t)n;
	}
	close(fd);
	return 0;
}

/* Fsyncs DIR itself (a rename made durable). */
static inline int
floor_syncdir(const char *dir)
{
	int fd, r;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/*
 * A new address, the least work of the one-builder design: lock, append
 * its line to the list and fsync it; then read tcp.smtp and the whole list
 * (what a build reads) and write a file of the cdb's size, fsync, rename,
 * fsync the directory (the build). No parsing, no hashing: tinycdb's part
 * is measured apart (cdb -c of the same records).
 */
static inline int
floor_newip(const char *dir, unsigned long long cdbbytes)
{
	char p[4096], line[96], *rules = 0, *list = 0;
	size_t rlen, llen;
	int lock, fd, n, r = -1;

	if ((lock = floor_lock(dir)) == -1)
		return -1;
	n = snprintf(
	    line, sizeof line,
	    "198.19.255.254:allow,RELAYCLIENT=\"\",RBLSMTPD=\"\"\t%lld\n",
	    (long long)time(0));
	if (floor_path(p, sizeof p, dir, "open-smtp") == -1 ||
	    (fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1)
		goto out;
	r = floor_writeall(fd, line, (size_t)n);
	if (r == 0)
		r = fsync(fd);
	if (close(fd) == -1)
		r = -1;
	if (r == 0)
		r = floor_slurp(dir, "tcp.smtp", &rules, &rlen);
	if (r == 0)
		r = floor_slurp(dir, "open-smtp", &list, &llen);
	if (r == 0)
		r = floor_write(dir, "floor.cdb.tmp", "floor.cdb", list, llen,
				cdbbytes, 0);
	if (r == 0)
		r = floor_syncdir(dir);
out:
	free(rules);
	free(list);
	close(lock);
	return r;
}

/* Writes the new cdb of an expiry in DIR: floor_rebuild's, or cdbfloor's. */
typedef int floor_cdbfn(const char *dir, const void *arg);

/*
 * Expiry: lock, read the list, write the shorter list (LISTBYTES of it),
 * then the new cdb with cdb(dir, arg).
 */
static inline int
floor_expire_with(const char *dir, unsigned long long listbytes,
		  floor_cdbfn *cdb, const void *arg)
{
	char p[4096], *text = 0;
	struct stat st;
	size_t len = 0;
	int lock, fd, r = -1;

	if ((lock = floor_lock(dir)) == -1)
		return -1;
	if (floor_path(p, sizeof p, dir, "open-smtp") == -1 ||
	    (fd = open(p, O_RDONLY | O_CLOEXEC)) == -1)
		goto out;
	if (fstat(fd, &st) == -1 || !(text = malloc((size_t)st.st_size + 1))) {
		close(fd);
		goto out;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, text + len, (size_t)st.st_size - len);

		if (n <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	if (floor_replace(dir, "floor.list.tmp", "floor.list", text, len,
			  listbytes) == 0 &&
	    cdb(dir, arg) == 0)
		r = 0;
out:
	free(text);
	close(lock);
	return r;
}

static inline int
floor_cdb_bytes(const char *dir, const void *cdbbytes)
{
	return floor_rebuild(dir, *(const unsigned long long *)cdbbytes);
}

/* Expiry: lock, read the list, write the shorter list and the new cdb. */
static inline int
floor_expire(const char *dir, unsigned long long listbytes,
	     unsigned long long cdbbytes)
{
	return floor_expire_with(dir, listbytes, floor_cdb_bytes, &cdbbytes);
}

#endif

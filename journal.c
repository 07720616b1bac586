/* journal.c: open-smtp.journal, new addresses waiting for the lock, so that
 * whoever holds it adds them all in one pass. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "roamdir.h"

/*
 * A recorder that finds the lock taken appends its line (one write,
 * O_APPEND) before it waits. The journal only groups work: each recorder
 * still checks, once it has the lock, that its own address is in, and
 * adds it itself if not. So it is never synced, and losing it loses
 * nothing.
 */
static int
append(int dirfd, const char *name, const struct openentry *e, struct fail *f)
{
	char buf[OPENLIST_LINEMAX];
	size_t n = openlist_format(buf, e);
	int fd = roamdir_open_or_create(dirfd, name, O_WRONLY | O_APPEND);

	if (fd == -1) {
		FAILSYS(f, "unable to open ", name);
		return -1;
	}
	if (write(fd, buf, n) != (ssize_t)n) {
		if (errno == 0)
			errno = EIO;
		FAILSYS(f, "unable to write ", name);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
journal_add(int dirfd, const struct openentry *e, struct fail *f)
{
	return append(dirfd, ROAM_JOURNAL, e, f);
}

/* After a failed pass, under the lock: the address goes with the merge
 * that failed, which the next writer takes first, whatever it is. */
int
journal_keep(int dirfd, const struct openentry *e, struct fail *f)
{
	return append(dirfd, ROAM_MERGING, e, f);
}

/*
 * Whether addresses wait with no recorder left to add them: in a merge
 * that failed, or in a journal last written longer ago than a recorder
 * waits for the lock (a recorder still waiting adds its own, with the
 * others, in one pass; a writer that merged them for it would cost a
 * pass each in a burst).
 */
int
journal_waiting(int dirfd, uint64_t now)
{
	struct stat st;

	if (fstatat(dirfd, ROAM_MERGING, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return fstatat(dirfd, ROAM_JOURNAL, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       st.st_size > 0 &&
	       (uint64_t)st.st_mtime + ROAM_LOCK_MS / 1000 + 1 < now;
}

/*
 * Under the lock: moves the journal aside as the merge's, unless a merge
 * that failed left one (that goes first; the journal waits for the next
 * writer), and reads it. A line appended during the move is lost to this
 * merge only: its recorder adds its address itself.
 */
int
journal_take(int dirfd, char **text, size_t *len, struct fail *f)
{
	if (renameat2(dirfd, ROAM_JOURNAL, dirfd, ROAM_MERGING,
		      RENAME_NOREPLACE) == -1 &&
	    errno != ENOENT && errno != EEXIST) {
		FAILSYS(f, "unable to rename ", ROAM_JOURNAL);
		return -1;
	}
	return roamdir_read(dirfd, ROAM_MERGING, 0, text, len, 0, f);
}

/* Once the merge's addresses are in the list and the cdb. */
void
journal_done(int dirfd)
{
	unlinkat(dirfd, ROAM_MERGING, 0);
}

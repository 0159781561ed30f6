#include "fileid.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#ifndef __GLIBC__
#include <linux/stat.h> /* struct statx: glibc's sys/stat.h has it, musl's (before 1.2.5) not */
#endif

int lr_stat_at(int dirfd, const char *path, int flags, struct stat *st)
{
	struct statx sx;
	if (syscall(SYS_statx, dirfd, path, flags, STATX_BASIC_STATS, &sx) != 0)
		return errno == ENOSYS || errno == EPERM ? fstatat(dirfd, path, st, flags) : -1;
	memset(st, 0, sizeof(*st));
	st->st_mode = sx.stx_mode;
	st->st_uid = sx.stx_uid;
	st->st_gid = sx.stx_gid;
	st->st_size = (off_t)sx.stx_size;
	st->st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	st->st_ino = (ino_t)sx.stx_ino;
	st->st_nlink = (nlink_t)sx.stx_nlink;
	st->st_mtim.tv_sec = (time_t)sx.stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = (long)sx.stx_mtime.tv_nsec;
	return 0;
}

struct lr_file_id lr_file_id_of(const char *path)
{
	struct lr_file_id id = { 0 };
	struct stat st;
	if (path && lr_stat_at(AT_FDCWD, path, 0, &st) == 0) {
		id.exists = true;
		id.dev = st.st_dev;
		id.ino = st.st_ino;
		id.size = st.st_size;
		id.mtime = st.st_mtim;
	} else {
		id.missing = path && errno == ENOENT;
	}
	return id;
}

bool lr_file_id_equal(const struct lr_file_id *a, const struct lr_file_id *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

bool lr_file_being_written(const struct lr_file_id *id)
{
	if (!id->exists || id->size != 0)
		return false;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	long long age = (long long)(now.tv_sec - id->mtime.tv_sec) * 1000000000LL +
			(now.tv_nsec - id->mtime.tv_nsec);
	return age < LR_RELOAD_INTERVAL_NS;
}

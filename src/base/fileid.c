#include "fileid.h"

#include <errno.h>
#include <sys/stat.h>

struct lr_file_id lr_file_id_of(const char *path)
{
	struct lr_file_id id = { 0 };
	struct stat st;
	if (path && stat(path, &st) == 0) {
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

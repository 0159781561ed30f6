/* Writing a compiled table to the cache the library reads (tablecache.h):
 * the compiler's side, in the command and its helper only. */
#include "cachewrite.h"

#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int lr_cache_write(const struct lr_sources *src, const void *image, size_t len, const char **why)
{
	char dir[4096], path[4200], tmp[4300];
	if (lr_cache_dir(src, dir, sizeof(dir)) != 0 ||
	    lr_cache_path(src, dir, path, sizeof(path)) != 0) {
		*why = "cache path too long";
		return -1;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		*why = "cannot create the cache directory";
		return -1;
	}
	struct stat st;
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		*why = "the cache directory is not a directory";
		return -1;
	}
	if ((*why = lr_cache_distrust(&st)))
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		*why = "cannot write to the cache directory";
		return -1;
	}
	const char *p = image;
	size_t left = len;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		left -= (size_t)w;
	}
	if (lr_sys.close(fd) != 0 || left || rename(tmp, path) != 0) {
		unlink(tmp);
		*why = "cannot write to the cache directory";
		return -1;
	}
	return 0;
}

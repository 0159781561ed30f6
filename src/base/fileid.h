/* A rule file's identity as the reload check sees it: a change of any of
 * these means it is to be read again. Shared by the library and the
 * supervisor, so both reload on the same terms. */
#ifndef LIBREUSE_FILEID_H
#define LIBREUSE_FILEID_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* At most this often is a rule file looked at again. */
#define LR_RELOAD_INTERVAL_NS 1000000000LL

struct lr_file_id {
	bool exists;
	bool missing; /* not there at all (ENOENT), as against unreadable */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct lr_file_id lr_file_id_of(const char *path);

/* fstatat(dirfd, path, st, flags) (AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH),
 * made through statx by syscall(): the library stats at load and at its
 * first socket, where each libc function first called from it costs a
 * symbol lookup (and the pages of libc's symbol table that reads), and
 * statx's struct is the same on every ABI. Fills st's type and mode,
 * owner, size, device, inode, links and mtime; the rest is zero. Where
 * statx itself is refused (a kernel before 4.11, a sandbox), fstatat. */
int lr_stat_at(int dirfd, const char *path, int flags, struct stat *st);
bool lr_file_id_equal(const struct lr_file_id *a, const struct lr_file_id *b);

/* `printf ... > rules.conf` truncates the file, then writes it: a reload
 * landing in between sees an empty file, which is valid libconfig with no
 * rules, and would drop every rule for a second. An empty file is taken as
 * a write in progress until it has stayed empty for a whole check interval;
 * then it is applied (emptying the file is a way to clear the rules). */
bool lr_file_being_written(const struct lr_file_id *id);

#endif

/* The socket calls the core makes for its own work (sock_diag, syslog, its
 * files, the keeper). Inside a program, a plain call to socket, setsockopt or close
 * (sendto, sendmsg) from the library would bind to its own exported hook; through these it
 * reaches the kernel, or the next library's function (where the preloaded
 * library has looked them all up, below), never libreuse's hooks. */
#ifndef LIBREUSE_SYS_H
#define LIBREUSE_SYS_H

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

struct lr_sys {
	int (*socket)(int, int, int);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*close)(int);
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
};

/* System calls, until the preloaded library fills its whole table of real
 * functions (src/preload/real.c, once, before the table is marked ready:
 * where an exec hook needs it, or another library preloaded after this
 * one may hook exec); then those. Read-only afterwards. */
extern struct lr_sys lr_sys;
/* The system calls themselves, always. */
extern const struct lr_sys lr_sys_kernel;

/* fcntl and ioctl for the core's own work: the library exports hooks of
 * those names (src/preload/keptmode.c), to which a plain call from inside
 * it would bind. Straight to the kernel: every command the core gives
 * takes an int or a pointer. */
static inline int lr_sys_fcntl(int fd, int cmd, long arg)
{
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}
static inline int lr_sys_ioctl(int fd, unsigned long req, long arg)
{
	return (int)syscall(SYS_ioctl, fd, req, arg);
}

/* The calls the library makes at load and at its first socket, through
 * syscall(), which it calls anyway: each libc function first called from
 * the library costs the process a symbol lookup (about 800 instructions,
 * and the pages of libc's symbol table it reads). */
static inline void *lr_sys_mmap(size_t len, int prot, int flags, int fd)
{
#ifdef SYS_mmap2
	long r = syscall(SYS_mmap2, NULL, len, prot, flags, fd, 0);
#else
	long r = syscall(SYS_mmap, NULL, len, prot, flags, fd, 0);
#endif
	return r == -1 ? MAP_FAILED : (void *)r;
}
static inline int lr_sys_open(const char *path, int flags)
{
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, 0);
}

#endif

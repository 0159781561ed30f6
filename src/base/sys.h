/* The socket calls the core makes for its own work (sock_diag, syslog, its
 * files, the keeper). Inside a program, a plain call to socket, setsockopt or close
 * (sendto, sendmsg) from the library would bind to its own exported hook; through these it
 * reaches the kernel, or the next library's function (where the preloaded
 * library has looked them all up, below), never libreuse's hooks. */
#ifndef LIBREUSE_SYS_H
#define LIBREUSE_SYS_H

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

#endif

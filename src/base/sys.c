#include "sys.h"

#include <sys/syscall.h>
#include <unistd.h>

/* The kernel's own entry points, so that the library holds no reference to
 * the names it exports (one would bind to its own hook). */
static int sys_socket(int domain, int type, int protocol)
{
	return (int)syscall(SYS_socket, domain, type, protocol);
}

static int sys_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	return (int)syscall(SYS_setsockopt, fd, level, name, val, len);
}

static int sys_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	return (int)syscall(SYS_connect, fd, addr, len);
}

static int sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

static ssize_t sys_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
			  socklen_t tolen)
{
	return syscall(SYS_sendto, fd, buf, n, flags, to, tolen);
}

static ssize_t sys_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return syscall(SYS_sendmsg, fd, msg, flags);
}

const struct lr_sys lr_sys_kernel = { sys_socket, sys_setsockopt, sys_connect, sys_close, sys_sendto,
				      sys_sendmsg };
struct lr_sys lr_sys = { sys_socket, sys_setsockopt, sys_connect, sys_close, sys_sendto, sys_sendmsg };

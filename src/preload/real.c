#include "real.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

struct lr_real lr_real;
atomic_bool lr_real_ready;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

/* Fallbacks for a lookup that failed or found our own hook (which would
 * recurse forever): the kernel's entry points, as libc would reach them. */
static int sys_socket(int d, int t, int p)
{
	return (int)syscall(SYS_socket, d, t, p);
}
static int sys_setsockopt(int fd, int l, int n, const void *v, socklen_t len)
{
	return (int)syscall(SYS_setsockopt, fd, l, n, v, len);
}
static int sys_bind(int fd, const struct sockaddr *a, socklen_t l)
{
	return (int)syscall(SYS_bind, fd, a, l);
}
static int sys_connect(int fd, const struct sockaddr *a, socklen_t l)
{
	return (int)syscall(SYS_connect, fd, a, l);
}
static int sys_listen(int fd, int b)
{
	return (int)syscall(SYS_listen, fd, b);
}
static int sys_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}
static int sys_shutdown(int fd, int how)
{
	return (int)syscall(SYS_shutdown, fd, how);
}

/* A lookup that came back to our own hook (libreuse loaded in an odd order)
 * would recurse forever: the hooks' own addresses, bound inside this object
 * (see hooks.c), tell. */
static void *next(const char *name, void *fallback, void *self)
{
	void *f = dlsym(RTLD_NEXT, name);
	return !f || f == self ? fallback : f;
}

/* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
#define RESOLVE(name) \
	*(void **)(&lr_real.name) = next(#name, (void *)sys_##name, (void *)lr_self_##name);

static void resolve(void)
{
	LR_HOOKED(RESOLVE)
	atomic_store_explicit(&lr_real_ready, true, memory_order_release);
}

void lr_real_resolve(void)
{
	pthread_once(&real_once, resolve);
}

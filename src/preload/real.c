#include "real.h"

#include "sys.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

atomic_bool lr_real_ready;

/* The stand-ins: the first call through a pointer resolves that one
 * function (defined below), as the process needs it: a process whose calls
 * are socket, bind, listen and close looks up those four, not thirty
 * (about 850 instructions, 0.4 µs, each). */
#define RESOLVE_ONE_DECL(name) static void resolve_##name(void);
LR_HOOKED(RESOLVE_ONE_DECL)
LR_HOOKED_KEPT(RESOLVE_ONE_DECL)
#undef RESOLVE_ONE_DECL

static int first_socket(int d, int t, int p)
{
	resolve_socket();
	return lr_real.socket(d, t, p);
}
static int first_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	resolve_setsockopt();
	return lr_real.setsockopt(fd, level, name, val, len);
}
static int first_bind(int fd, const struct sockaddr *a, socklen_t l)
{
	resolve_bind();
	return lr_real.bind(fd, a, l);
}
static int first_connect(int fd, const struct sockaddr *a, socklen_t l)
{
	resolve_connect();
	return lr_real.connect(fd, a, l);
}
static int first_listen(int fd, int b)
{
	resolve_listen();
	return lr_real.listen(fd, b);
}
static int first_close(int fd)
{
	resolve_close();
	return lr_real.close(fd);
}
static int first_shutdown(int fd, int how)
{
	resolve_shutdown();
	return lr_real.shutdown(fd, how);
}
static int first_dup2(int old, int new)
{
	resolve_dup2();
	return lr_real.dup2(old, new);
}
static int first_dup3(int old, int new, int flags)
{
	resolve_dup3();
	return lr_real.dup3(old, new, flags);
}
static int first_close_range(unsigned int first, unsigned int last, int flags)
{
	resolve_close_range();
	return lr_real.close_range(first, last, flags);
}
static void first_closefrom(int low)
{
	resolve_closefrom();
	lr_real.closefrom(low);
}
static int first_fclose(FILE *f)
{
	resolve_fclose();
	return lr_real.fclose(f);
}
static ssize_t first_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a,
			    socklen_t l)
{
	resolve_sendto();
	return lr_real.sendto(fd, buf, n, flags, a, l);
}
static ssize_t first_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	resolve_sendmsg();
	return lr_real.sendmsg(fd, msg, flags);
}
static int first_sendmmsg(int fd, struct mmsghdr *vec, unsigned int n, lr_mmsg_flags flags)
{
	resolve_sendmmsg();
	return lr_real.sendmmsg(fd, vec, n, flags);
}

/* keptmode.c's: fcntl and ioctl take one argument after cmd, an int or a
 * pointer, passed on as a pointer-sized word (as the kernel takes it). */
static int first_accept(int fd, struct sockaddr *a, socklen_t *l)
{
	resolve_accept();
	return lr_real.accept(fd, a, l);
}
static int first_accept4(int fd, struct sockaddr *a, socklen_t *l, int flags)
{
	resolve_accept4();
	return lr_real.accept4(fd, a, l, flags);
}
static int first_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	resolve_fcntl();
	return lr_real.fcntl(fd, cmd, arg);
}
#ifdef __GLIBC__
static int first_fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	resolve_fcntl64();
	return lr_real.fcntl64(fd, cmd, arg);
}
#endif
static int first_ioctl(int fd, lr_ioctl_req req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	resolve_ioctl();
	return lr_real.ioctl(fd, req, arg);
}
static int first_dup(int fd)
{
	resolve_dup();
	return lr_real.dup(fd);
}

#define STAND_IN(name) .name = first_##name,
struct lr_real lr_real = { LR_HOOKED(STAND_IN) LR_HOOKED_KEPT(STAND_IN) };
#undef STAND_IN

/* Fallbacks for a lookup that failed or found our own hook (which would
 * recurse forever): the kernel's entry points, as libc would reach them. */
static int sys_bind(int fd, const struct sockaddr *a, socklen_t l)
{
	return (int)syscall(SYS_bind, fd, a, l);
}
static int sys_listen(int fd, int b)
{
	return (int)syscall(SYS_listen, fd, b);
}
static int sys_shutdown(int fd, int how)
{
	return (int)syscall(SYS_shutdown, fd, how);
}
static int sys_dup3(int old, int new, int flags)
{
	return (int)syscall(SYS_dup3, old, new, flags);
}
static int sys_dup2(int old, int new)
{
	/* dup3 refuses old == new, which dup2 allows (when old is open). */
	if (old == new)
		return syscall(SYS_fcntl, old, F_GETFD) < 0 ? -1 : new;
	return sys_dup3(old, new, 0);
}
static int sys_close_range(unsigned int first, unsigned int last, int flags)
{
	return (int)syscall(SYS_close_range, first, last, flags);
}
static void sys_closefrom(int low)
{
	syscall(SYS_close_range, (unsigned int)low, ~0u, 0);
}
static int sys_sendmmsg(int fd, struct mmsghdr *vec, unsigned int n, lr_mmsg_flags flags)
{
	return (int)syscall(SYS_sendmmsg, fd, vec, n, flags);
}
/* No system call closes a FILE: its fd at least, leaving the buffer. */
static int sys_fclose(FILE *f)
{
	fflush(f);
	return (int)syscall(SYS_close, fileno(f));
}

/* keptmode.c's, where libc has none to give (or gave ours). */
static int sys_accept(int fd, struct sockaddr *a, socklen_t *l)
{
	return (int)syscall(SYS_accept4, fd, a, l, 0);
}
static int sys_accept4(int fd, struct sockaddr *a, socklen_t *l, int flags)
{
	return (int)syscall(SYS_accept4, fd, a, l, flags);
}
static int sys_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}
#define sys_fcntl64 sys_fcntl
static int sys_ioctl(int fd, lr_ioctl_req req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return (int)syscall(SYS_ioctl, fd, req, arg);
}
static int sys_dup(int fd)
{
	return (int)syscall(SYS_dup, fd);
}

/* A lookup that came back to our own hook (libreuse loaded in an odd order)
 * would recurse forever: the hooks' own addresses, bound inside this object
 * (see hooks.c), tell. */
static void *next(const char *name, void *fallback, void *self)
{
	void *f = dlsym(RTLD_NEXT, name);
	return !f || f == self ? fallback : f;
}

/* The core's system calls serve as these fallbacks. */
#define sys_socket lr_sys_kernel.socket
#define sys_setsockopt lr_sys_kernel.setsockopt
#define sys_connect lr_sys_kernel.connect
#define sys_close lr_sys_kernel.close
#define sys_sendto lr_sys_kernel.sendto
#define sys_sendmsg lr_sys_kernel.sendmsg

/* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
#define STORE(name, f)                                                          \
	{                                                                       \
		__typeof__(&lr_self_##name) fn;                                 \
		memcpy(&fn, &(f), sizeof(fn));                                  \
		atomic_store_explicit(&lr_real.name, fn, memory_order_release); \
	}
#define RESOLVE(name)                                                             \
	{                                                                         \
		void *f = next(#name, (void *)sys_##name, (void *)lr_self_##name); \
		STORE(name, f)                                                    \
	}
/* exec.c's: no fallback here, it has its own. */
#define RESOLVE_OR_NULL(name)                                           \
	{                                                               \
		void *f = next(#name, NULL, (void *)lr_self_##name);    \
		STORE(name, f)                                          \
	}

/* One function's lookup, errno as the hook's caller left it (dlsym sets
 * it on a failed lookup). */
#define RESOLVE_ONE(name)                \
	static void resolve_##name(void) \
	{                                \
		int saved = errno;       \
		RESOLVE(name)            \
		errno = saved;           \
	}
LR_HOOKED(RESOLVE_ONE)
LR_HOOKED_KEPT(RESOLVE_ONE)
#undef RESOLVE_ONE

void lr_real_resolve(void)
{
	static atomic_flag sys_set = ATOMIC_FLAG_INIT;
	if (atomic_load_explicit(&lr_real_ready, memory_order_acquire))
		return;
	/* dlsym sets errno on a failed lookup: the hook's caller sees its
	 * call's own. */
	int saved = errno;
#define RESOLVE_CALL(name) resolve_##name();
	LR_HOOKED(RESOLVE_CALL)
	LR_HOOKED_KEPT(RESOLVE_CALL)
#undef RESOLVE_CALL
	LR_HOOKED_EXEC(RESOLVE_OR_NULL)
	/* From here on the core's own socket calls skip our hooks (until then
	 * they reach the kernel, skipping them as well). lr_sys is plain
	 * memory, read-only once ready: one thread writes it, then marks the
	 * table ready. Another that got here at the same time has stored
	 * every pointer itself and calls through them; it finds the table
	 * not yet marked at worst, and looks up again at its next call. */
	if (!atomic_flag_test_and_set(&sys_set)) {
		lr_sys.socket = lr_real.socket;
		lr_sys.setsockopt = lr_real.setsockopt;
		lr_sys.connect = lr_real.connect;
		lr_sys.close = lr_real.close;
		lr_sys.sendto = lr_real.sendto;
		lr_sys.sendmsg = lr_real.sendmsg;
		atomic_store_explicit(&lr_real_ready, true, memory_order_release);
	}
	errno = saved;
}

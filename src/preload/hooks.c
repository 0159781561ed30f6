/* The interposed functions, the only symbols libreuse.so exports. Each is a
 * few lines: make sure the real function is known, let IP sockets through
 * to the policy, otherwise call straight through. */
#include "caller.h"
#include "fdstate.h"
#include "real.h"
#include "sdfds.h"
#include "state.h"

#include <errno.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define LR_EXPORT __attribute__((visibility("default")))

/* What we know of fd; a socket our socket() hook did not see (inherited,
 * dup'ed) is asked of the kernel once. False: not an IP socket. */
static bool sockinfo(int fd, struct lr_sockinfo *si, uint8_t *proto)
{
	uint16_t st = lr_fd_get(fd);
	if (!(st & LR_SOCK_KNOWN)) {
		if (!lr_sock_ask(fd, &st))
			return false;
		lr_fd_set(fd, st);
	}
	lr_sockinfo_of(st, si, proto);
	return true;
}

LR_EXPORT int socket(int domain, int type, int protocol)
{
	lr_real_init();
	int fd = lr_real.socket(domain, type, protocol);
	if (fd < 0)
		return fd;
	if (domain == AF_INET || domain == AF_INET6) {
		int saved = errno;
		lr_fd_set(fd, lr_sock_bits(domain, type, protocol));
		lr_state_start(); /* the first IP socket is when rules are read */
		errno = saved;
	} else {
		lr_fd_set(fd, 0);
	}
	return fd;
}

/* What libreuse knows of an fd follows the number: whatever closes it, or
 * puts another file there, resets or copies it (none of these is on the
 * bind/connect path). */
LR_EXPORT int close(int fd)
{
	lr_real_init();
	/* A number the program never opened: a daemon closing every fd at
	 * start. systemd's socket stays held for the program's own bind. */
	if (lr_sd_is_held(fd))
		return 0;
	lr_fd_set(fd, 0);
	return lr_real.close(fd);
}

LR_EXPORT int dup2(int old, int new)
{
	lr_real_init();
	lr_sd_move_from(new);
	int r = lr_real.dup2(old, new);
	if (r >= 0 && r != old)
		lr_fd_set(r, lr_fd_get(old));
	return r;
}

LR_EXPORT int dup3(int old, int new, int flags)
{
	lr_real_init();
	lr_sd_move_from(new);
	int r = lr_real.dup3(old, new, flags);
	if (r >= 0)
		lr_fd_set(r, lr_fd_get(old));
	return r;
}

/* close_range over [first, last], around the held copies of systemd's
 * sockets. */
static int close_around_held(unsigned int first, unsigned int last, int flags)
{
	int keep[LR_SD_MAX];
	int n = lr_sd_held_in(first, last, keep, LR_SD_MAX);
	unsigned int from = first;
	for (int i = 0; i < n; i++) {
		unsigned int fd = (unsigned int)keep[i];
		if (fd > from && lr_real.close_range(from, fd - 1, flags) != 0)
			return -1;
		from = fd + 1;
	}
	return from > last || from == 0 ? 0 : lr_real.close_range(from, last, flags);
}

LR_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	lr_real_init();
	if (flags & CLOSE_RANGE_CLOEXEC) /* that flag only marks them */
		return lr_real.close_range(first, last, flags);
	lr_fd_forget(first, last);
	return close_around_held(first, last, flags);
}

LR_EXPORT void closefrom(int low)
{
	lr_real_init();
	if (low < 0)
		return;
	lr_fd_forget((unsigned int)low, LR_FD_TRACKED - 1);
	/* closefrom cannot fail: where close_range is missing, glibc's own
	 * (which closes the held copies too). */
	if (!lr_sd_count() || close_around_held((unsigned int)low, ~0u, 0) != 0)
		lr_real.closefrom(low);
}

/* A socket fdopen'ed and closed with fclose never reaches close(). */
LR_EXPORT int fclose(FILE *f)
{
	lr_real_init();
	int fd = f ? fileno(f) : -1;
	if (fd >= 0)
		lr_fd_set(fd, 0);
	return lr_real.fclose(f);
}

LR_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	lr_real_init();
	uint16_t st = lr_fd_get(fd);
	if (level != SOL_SOCKET || (name != SO_REUSEADDR && name != SO_REUSEPORT) || !val ||
	    len < (socklen_t)sizeof(int) || !(st & LR_SOCK_KNOWN))
		return lr_real.setsockopt(fd, level, name, val, len);
	int on;
	memcpy(&on, val, sizeof(on));
	bool forced = lr_sock_reuse_forced(st, name, on);
	if (!forced && !lr_state_logs_calls()) {
		/* The common case, kept short: the call, and its record. */
		int ret = lr_real.setsockopt(fd, level, name, val, len);
		if (ret == 0) {
			uint16_t clear, set;
			lr_sock_reuse_bits(name, on, &clear, &set);
			lr_fd_update(fd, clear, set);
		}
		return ret;
	}
	struct lr_guard g;
	struct lr_loaded *l = lr_state_enter(&g);
	int ret = lr_act_reuse_option(l, &lr_shim, fd, st, name, val, len);
	if (l) {
		int e = errno;
		lr_state_leave(&g);
		errno = e;
	}
	return ret;
}

/* bind and connect share this: only a complete IP sockaddr on an IP socket
 * reaches the policy; anything else is the real function's to judge. */
typedef int (*lr_act_fn)(struct lr_loaded *, const struct lr_caller *, int, const struct sockaddr *,
			 socklen_t, const struct lr_call *, const struct lr_sockinfo *);

static int intercept(uint8_t op, int (*real)(int, const struct sockaddr *, socklen_t),
		     lr_act_fn act, int fd, const struct sockaddr *addr, socklen_t len)
{
	struct lr_call c;
	struct lr_sockinfo si;
	struct lr_guard g;
	struct lr_loaded *l;
	if (lr_sockaddr_read(addr, len, &c.addr, &c.port) != 0 || !sockinfo(fd, &si, &c.proto) ||
	    !(l = lr_state_enter(&g))) {
		int ret = real(fd, addr, len);
		if (ret == 0 && op == LR_OP_BIND)
			lr_fd_or(fd, LR_SOCK_BOUND);
		return ret;
	}
	c.op = op;
	const struct lr_table *t = l->table;
	int ret, e;
	if (!lr_table_may_match(t, op, c.port) && t->log.level < LR_LOG_ALL &&
	    !(op == LR_OP_BIND && t->keep_all)) {
		/* No rule could match: the call, its record, and a line only
		 * if it failed as a conflict. */
		ret = real(fd, addr, len);
		e = errno;
		if (ret == 0 && op == LR_OP_BIND)
			lr_fd_or(fd, LR_SOCK_BOUND);
		else if (ret < 0)
			lr_act_unruled(l, &lr_shim, fd, &c, &si, ret, e);
	} else {
		ret = act(l, &lr_shim, fd, addr, len, &c, &si);
		e = errno;
	}
	lr_state_leave(&g);
	errno = e;
	return ret;
}

LR_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	lr_real_init();
	return intercept(LR_OP_BIND, lr_real.bind, lr_act_bind, fd, addr, len);
}

LR_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	lr_real_init();
	return intercept(LR_OP_CONNECT, lr_real.connect, lr_act_connect, fd, addr, len);
}

LR_EXPORT int listen(int fd, int backlog)
{
	lr_real_init();
	int ret = lr_real.listen(fd, backlog);
	uint16_t st = lr_fd_get(fd);
	if (!(st & LR_SOCK_KNOWN) || (!(ret == 0 && (st & LR_SOCK_KEEP)) && !lr_state_logs_calls()))
		return ret;
	int e = errno;
	struct lr_guard g;
	struct lr_loaded *l = lr_state_enter(&g);
	if (l) {
		lr_act_listened(l, &lr_shim, fd, st, ret, e);
		lr_state_leave(&g);
	}
	errno = e;
	return ret;
}

/* shutdown() of a kept socket would stop it for every holder — the keeper
 * and the next instance too — so it is not passed on (the program's close()
 * drops only its own reference). */
LR_EXPORT int shutdown(int fd, int how)
{
	lr_real_init();
	uint16_t st = lr_fd_get(fd);
	if (!(st & LR_SOCK_KEPT))
		return lr_real.shutdown(fd, how);
	int e = errno;
	struct lr_guard g;
	struct lr_loaded *l = lr_state_enter(&g);
	bool ignored = lr_act_shutdown(l, &lr_shim, fd, st);
	if (l)
		lr_state_leave(&g);
	errno = e;
	return ignored ? 0 : lr_real.shutdown(fd, how);
}

/* The addresses real.c compares its lookups with (see real.h). gcc wants an
 * alias to carry its target's attributes (glibc's nothrow, leaf). */
#if defined(__GNUC__) && !defined(__clang__)
#define LR_SAME_ATTRIBUTES(name) copy(name),
#else
#define LR_SAME_ATTRIBUTES(name)
#endif
#define LR_SELF_ALIAS(name)                                                                 \
	extern __typeof__(name) lr_self_##name                                              \
		__attribute__((LR_SAME_ATTRIBUTES(name) alias(#name), visibility("hidden")));
LR_HOOKED(LR_SELF_ALIAS)

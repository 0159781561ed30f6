/* The interposed functions, the only symbols libreuse.so exports. Each is a
 * few lines: a bind or connect the gate settles (gate.h) takes the short
 * way, other IP sockets go to the policy, anything else calls straight
 * through. */
#include "caller.h"
#include "fdstate.h"
#include "keepclient.h"
#include "gate.h"
#include "libc.h"
#include "policy.h"
#include "real.h"
#include "sdfds.h"
#include "senddests.h"
#include "state.h"

#include <errno.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define LR_EXPORT __attribute__((visibility("default")))
/* The short ways hold no buffer, only a timespec the clock fills: no canary
 * to pay for on every call (the full paths are functions of their own). */
#define LR_SHORT __attribute__((no_stack_protector))

/* What we know of fd; a socket our socket() hook did not see (inherited,
 * dup'ed) is asked of the kernel once. False: not an IP socket. */
static bool sockinfo(int fd, struct lr_sockinfo *si, uint8_t *proto)
{
	uint16_t st = lr_fd_get(fd);
	if (!(st & LR_SOCK_KNOWN)) {
		if (!lr_sock_ask(fd, &st))
			return false;
		lr_fd_set(fd, st);
		lr_senddest_forget(fd);
	}
	lr_sockinfo_of(st, si, proto);
	return true;
}

LR_EXPORT int socket(int domain, int type, int protocol)
{
	/* Worked out before the call, so that only it lives across. */
	uint16_t bits = domain == AF_INET || domain == AF_INET6 ? lr_sock_bits(domain, type, protocol) : 0;
	int fd = lr_real.socket(domain, type, protocol);
	if (fd < 0)
		return fd;
	lr_fd_set(fd, bits);
	/* The first IP socket is when rules are read, with fds to spare. */
	if (bits && __builtin_expect(!atomic_load_explicit(&lr_state_started, memory_order_acquire), 0) &&
	    !lr_libc_foreign)
		return lr_state_start_at(fd);
	return fd;
}

/* What libreuse knows of an fd follows the number: whatever closes it, or
 * puts another file there, resets or copies it (none of these is on the
 * bind/connect path). */
LR_EXPORT int close(int fd)
{
	/* A number the program never opened: a daemon closing every fd at
	 * start. systemd's socket stays held for the program's own bind. */
	if (lr_sd_is_held(fd))
		return 0;
	lr_fd_set(fd, 0);
	lr_senddest_forget(fd);
	return lr_real.close(fd);
}

LR_EXPORT int dup2(int old, int new)
{
	lr_sd_move_from(new);
	int r = lr_real.dup2(old, new);
	if (r >= 0 && r != old) {
		lr_fd_set(r, lr_fd_get(old));
		lr_senddest_copy(r, old);
	}
	return r;
}

LR_EXPORT int dup3(int old, int new, int flags)
{
	lr_sd_move_from(new);
	int r = lr_real.dup3(old, new, flags);
	if (r >= 0) {
		lr_fd_set(r, lr_fd_get(old));
		lr_senddest_copy(r, old);
	}
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
	if (flags & CLOSE_RANGE_CLOEXEC) /* that flag only marks them */
		return lr_real.close_range(first, last, flags);
	lr_fd_forget(first, last);
	lr_senddest_forget_range(first, last);
	return close_around_held(first, last, flags);
}

LR_EXPORT void closefrom(int low)
{
	if (low < 0)
		return;
	lr_fd_forget((unsigned int)low, LR_FD_TRACKED - 1);
	lr_senddest_forget_range((unsigned int)low, LR_FD_TRACKED - 1);
	/* closefrom cannot fail: where close_range is missing, glibc's own
	 * (which closes the held copies too). */
	if (!lr_sd_count() || close_around_held((unsigned int)low, ~0u, 0) != 0)
		lr_real.closefrom(low);
}

/* A socket fdopen'ed and closed with fclose never reaches close(). */
LR_EXPORT int fclose(FILE *f)
{
	int fd = f ? fileno(f) : -1;
	if (fd >= 0) {
		lr_fd_set(fd, 0);
		lr_senddest_forget(fd);
	}
	return lr_real.fclose(f);
}

/* The program's SO_REUSEADDR/SO_REUSEPORT where the full path is wanted:
 * a forced option turned off, or every call logged. */
static __attribute__((noinline)) int reuse_option_logged(int fd, uint16_t st, int name,
							 const void *val, socklen_t len)
{
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

/* An option a kept socket would be given, set on a socket the hooks saw made
 * and not yet bound: what adoption at its bind copies (keep.c), and all it
 * reads. A socket already bound is no adoption's. */
static inline void note_option(int fd, int level, int name)
{
	if ((unsigned)fd >= LR_FD_TRACKED)
		return;
	uint16_t st = lr_fd_get(fd);
	if (!(st & LR_SOCK_KNOWN) || (st & LR_SOCK_BOUND))
		return;
	int bit = lr_keep_option_bit(level, name);
	if (bit >= 0)
		atomic_store_explicit(&lr_fdopts[fd],
				      atomic_load_explicit(&lr_fdopts[fd], memory_order_relaxed) | 1u << bit,
				      memory_order_relaxed);
}

LR_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	if (level != SOL_SOCKET || (name != SO_REUSEADDR && name != SO_REUSEPORT) || !val ||
	    len < (socklen_t)sizeof(int) || (unsigned)fd >= LR_FD_TRACKED) {
		note_option(fd, level, name);
		return lr_real.setsockopt(fd, level, name, val, len);
	}
	_Atomic uint16_t *slot = &lr_fdstate[fd];
	uint16_t st = atomic_load_explicit(slot, memory_order_relaxed);
	if (!(st & LR_SOCK_KNOWN))
		return lr_real.setsockopt(fd, level, name, val, len);
	int on;
	memcpy(&on, val, sizeof(on));
	if (lr_sock_reuse_forced(st, name, on) || lr_state_logs_calls())
		return reuse_option_logged(fd, st, name, val, len);
	/* The common case, kept short: the record, then the call. What is
	 * recorded is the program's choice, which stands whatever the kernel
	 * said (on a socket the hooks saw made, it says yes). */
	uint16_t clear, set;
	lr_sock_reuse_bits(name, on, &clear, &set);
	atomic_store_explicit(slot, (uint16_t)((st & ~clear) | set), memory_order_relaxed);
	return lr_real.setsockopt(fd, level, name, val, len);
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
	/* In a libc it was not built for the library rules nothing: until the
	 * rules are loaded every bind and connect comes this way. */
	if (lr_libc_foreign || lr_sockaddr_read(addr, len, &c.addr, &c.port) != 0 ||
	    !sockinfo(fd, &si, &c.proto) || !(l = lr_state_enter(&g))) {
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

/* A bind or connect the gate let through that failed: the full path's
 * conflict line, if one is due. Off the short way, as failures are rare. */
static __attribute__((noinline, cold)) int failed_short(uint8_t op, int fd,
							const struct sockaddr *addr, socklen_t len,
							int ret)
{
	int e = errno;
	/* At a level below "all" (which the gate never lets by), only a
	 * conflict is said: a connect under way (EINPROGRESS) is not one. */
	if (!lr_is_conflict(e))
		return ret;
	struct lr_call c;
	struct lr_sockinfo si;
	struct lr_guard g;
	struct lr_loaded *l;
	if (lr_sockaddr_read(addr, len, &c.addr, &c.port) == 0 && sockinfo(fd, &si, &c.proto) &&
	    (l = lr_state_enter(&g))) {
		c.op = op;
		lr_act_unruled(l, &lr_shim, fd, &c, &si, ret, e);
		lr_state_leave(&g);
	}
	errno = e;
	return ret;
}

/* The options a settled verdict (a gate's code, gate.h) injects into fd,
 * recorded as the full path records them (act.c). False: the socket is not
 * one the verdict can settle, and the full path decides. */
static __attribute__((noinline)) bool inject_settled(int fd, unsigned code)
{
	unsigned v = code ^ LR_VERDICT_PASS;
	uint16_t st = lr_fd_get(fd);
	unsigned n = (st & LR_SOCK_TCP) ? v : (st & LR_SOCK_UDP) ? v >> LR_VERDICT_UDP_SHIFT : 0;
	if (!(n & LR_VERDICT_SETTLED))
		return false;
	unsigned want = lr_options_to_inject(n & 3, n & LR_VERDICT_FORCE,
					     (st >> LR_SOCK_PROG_ON_SHIFT) & 3u,
					     (st >> LR_SOCK_PROG_OFF_SHIFT) & 3u);
	if (!want)
		return true;
	int saved = errno, one = 1;
	unsigned done = 0;
	if ((want & LR_OPT_REUSEADDR) &&
	    lr_real.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0)
		done |= LR_OPT_REUSEADDR;
	if ((want & LR_OPT_REUSEPORT) &&
	    lr_real.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0)
		done |= LR_OPT_REUSEPORT;
	errno = saved;
	lr_fd_set(fd, (uint16_t)(st | done << LR_SOCK_INJECTED_SHIFT |
				 ((n & LR_VERDICT_FORCE) && done ? LR_SOCK_FORCED : 0)));
	return true;
}

LR_EXPORT LR_SHORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	unsigned code = lr_gate_bind_code(addr, len);
	if (code != LR_GATE_FULL && !lr_state_check_due() &&
	    (code == 0 || inject_settled(fd, code))) {
		/* Not recorded as bound: the one reader, a connect's source
		 * rule, asks the kernel when the record says no. */
		int ret = lr_real.bind(fd, addr, len);
		if (__builtin_expect(ret != 0, 0))
			return failed_short(LR_OP_BIND, fd, addr, len, ret);
		return 0;
	}
	return intercept(LR_OP_BIND, lr_real.bind, lr_act_bind, fd, addr, len);
}

LR_EXPORT LR_SHORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (lr_gate_connect_passes(addr, len) && !lr_state_check_due()) {
		int ret = lr_real.connect(fd, addr, len);
		if (__builtin_expect(ret != 0, 0))
			return failed_short(LR_OP_CONNECT, fd, addr, len, ret);
		return 0;
	}
	return intercept(LR_OP_CONNECT, lr_real.connect, lr_act_connect, fd, addr, len);
}

LR_EXPORT int listen(int fd, int backlog)
{
	int ret = lr_real.listen(fd, backlog);
	uint16_t st = lr_fd_get(fd);
	if (!(st & LR_SOCK_KNOWN) || (!(ret == 0 && (st & LR_SOCK_KEEP)) && !lr_state_logs_calls()))
		return ret;
	int e = errno;
	struct lr_guard g;
	struct lr_loaded *l = lr_state_enter(&g);
	if (l) {
		lr_act_listened(l, &lr_shim, fd, st, backlog, ret, e);
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

/* A send, as the three calls make it: the hooks share one full path. */
struct send_args {
	int kind; /* 0 sendto, 1 sendmsg, 2 sendmmsg */
	int fd, flags;
	const void *buf;
	size_t n;
	const struct sockaddr *to;
	socklen_t tolen;
	const struct msghdr *msg;
	struct mmsghdr *vec;
	unsigned int vlen;
};

static ssize_t send_real(const struct send_args *a)
{
	switch (a->kind) {
	case 0: return lr_real.sendto(a->fd, a->buf, a->n, a->flags, a->to, a->tolen);
	case 1: return lr_real.sendmsg(a->fd, a->msg, a->flags);
	default: return lr_real.sendmmsg(a->fd, a->vec, a->vlen, a->flags);
	}
}

/* The datagram went, so the kernel bound the socket if nothing had: its
 * next datagrams take the short way. */
static ssize_t send_recorded(const struct send_args *a)
{
	ssize_t ret = send_real(a);
	if (ret >= 0) {
		int e = errno;
		lr_fd_or(a->fd, LR_SOCK_BOUND);
		errno = e;
	}
	return ret;
}

/* Where message i of a send goes (sendto and sendmsg have one). */
static const void *send_dest(const struct send_args *a, unsigned i, socklen_t *len)
{
	if (a->kind != 2) {
		*len = a->tolen;
		return a->to;
	}
	*len = a->vec[i].msg_hdr.msg_namelen;
	return a->vec[i].msg_hdr.msg_name;
}

/* Messages a send names a destination in; a sendmmsg's vector is cut
 * where the kernel cuts it. */
static unsigned send_count(const struct send_args *a)
{
	return a->kind != 2 ? 1 : a->vlen < 1024 ? a->vlen : 1024;
}

/* Whether a send names a destination fd's sender was not said to send to. */
static bool send_has_new(const struct send_args *a)
{
	for (unsigned i = 0, n = send_count(a); i < n; i++) {
		socklen_t len;
		const void *to = send_dest(a, i, &len);
		uint64_t key = lr_senddest_key(to, len);
		if (key && !lr_senddest_known(a->fd, key))
			return true;
	}
	return false;
}

/* The line of each destination the send (outcome ret, e) went to that its
 * sender was not said to send to, from message `from` on; each remembered
 * (at most LR_SEND_DESTS: past that, the oldest may be said again). */
static void say_new_dests(struct lr_loaded *l, const struct send_args *a,
			  const struct lr_sockinfo *si, uint8_t proto, unsigned from, ssize_t ret,
			  int e)
{
	for (unsigned i = from, n = send_count(a); i < n; i++) {
		/* sendmmsg: ret messages went; a failure is the first's. */
		if (a->kind == 2 && (ret < 0 ? i > 0 : i >= (size_t)ret))
			break;
		socklen_t len;
		const struct sockaddr *to = send_dest(a, i, &len);
		uint64_t key = lr_senddest_key(to, len);
		struct lr_call c;
		if (!key || lr_senddest_known(a->fd, key) ||
		    lr_sockaddr_read(to, len, &c.addr, &c.port) != 0)
			continue;
		lr_senddest_add(a->fd, key);
		c.op = LR_OP_SEND;
		c.proto = proto;
		lr_act_sent_to(l, &lr_shim, a->fd, &c, si, ret < 0 ? -1 : 0, e);
	}
}

/* A UDP socket's first datagram to an address, while the socket is not
 * recorded bound: once per socket. At level "all" its destination is the
 * first the socket is followed by (a sendmmsg's others are said too). */
static ssize_t send_first(const struct send_args *a)
{
	if (!atomic_load_explicit(&lr_gate_send, memory_order_relaxed) && !lr_state_check_due())
		return send_recorded(a);
	struct lr_call c;
	struct lr_sockinfo si;
	struct lr_guard g;
	struct lr_loaded *l;
	if (lr_sockaddr_read(a->to, a->tolen, &c.addr, &c.port) != 0 || !sockinfo(a->fd, &si, &c.proto) ||
	    !(l = lr_state_enter(&g)))
		return send_recorded(a);
	c.op = LR_OP_SEND;
	bool said;
	ssize_t ret;
	int e;
	if (lr_act_send(l, &lr_shim, a->fd, &c, &si, &said) != 0) {
		ret = -1;
		e = errno;
	} else {
		ret = send_recorded(a);
		e = errno;
		if (said) {
			lr_act_sent(l, &lr_shim, a->fd, &c, &si, true, ret < 0 ? -1 : 0, e);
			/* Followed from here, afresh: whatever a socket closed
			 * behind the hooks' back left at the number goes. */
			uint64_t key = lr_senddest_key(a->to, a->tolen);
			lr_senddest_forget(a->fd);
			if (key)
				lr_senddest_add(a->fd, key);
			say_new_dests(l, a, &si, c.proto, 1, ret, e);
		}
	}
	lr_state_leave(&g);
	errno = e;
	return ret;
}

/* A datagram of a socket already bound, at level "all" (the mask sends
 * them here): said only if its sender is followed and it names a new
 * destination; otherwise the lookup of a few keys, and the call. */
static ssize_t send_again(const struct send_args *a)
{
	if (!lr_senddest_followed(a->fd) || !send_has_new(a))
		return send_real(a);
	struct lr_sockinfo si;
	uint8_t proto;
	struct lr_guard g;
	struct lr_loaded *l;
	if (!sockinfo(a->fd, &si, &proto) || !(l = lr_state_enter(&g)))
		return send_real(a);
	ssize_t ret = send_real(a);
	int e = errno;
	say_new_dests(l, a, &si, proto, 0, ret, e);
	lr_state_leave(&g);
	errno = e;
	return ret;
}

static __attribute__((noinline, cold)) ssize_t send_full(const struct send_args *a)
{
	return (lr_fd_get(a->fd) & LR_SOCK_BOUND) ? send_again(a) : send_first(a);
}

/* Whether a send to `to` on fd leaves the short way: it names an address
 * (a connected socket's need not), the socket is UDP, and not recorded
 * bound unless every call is logged (lr_gate_send_mask). Every other
 * datagram pays this and the real call. */
static inline bool send_watched(int fd, const void *to)
{
	return to && (unsigned)fd < LR_FD_TRACKED &&
	       (atomic_load_explicit(&lr_fdstate[fd], memory_order_relaxed) &
		atomic_load_explicit(&lr_gate_send_mask, memory_order_relaxed)) == LR_SOCK_UDP;
}

/* At level "all": a bound socket's datagram to its newest destination, or
 * a socket not followed, has nothing to say (the usual case: an SNMP
 * poller's or metrics client's one peer), and goes without the rest. */
static inline bool send_nothing_new(int fd, const void *to, socklen_t len)
{
	if (!(lr_fd_get(fd) & LR_SOCK_BOUND))
		return false;
	uint64_t newest = atomic_load_explicit(&lr_senddests[fd][0], memory_order_relaxed);
	return !newest || lr_senddest_key(to, len) == newest;
}

/* The full paths' entries: the send's arguments gathered on their own
 * frame, so the hooks' short ways hold no buffer and pay no canary. */
static __attribute__((noinline, cold)) ssize_t sendto_full(int fd, const void *buf, size_t n,
							   int flags, const struct sockaddr *to,
							   socklen_t tolen)
{
	struct send_args a = { .kind = 0, .fd = fd, .flags = flags, .buf = buf, .n = n,
			       .to = to, .tolen = tolen };
	return send_full(&a);
}

static __attribute__((noinline, cold)) ssize_t sendmsg_full(int fd, const struct msghdr *msg,
							    int flags)
{
	struct send_args a = { .kind = 1, .fd = fd, .flags = flags, .msg = msg,
			       .to = msg->msg_name, .tolen = msg->msg_namelen };
	return send_full(&a);
}

static __attribute__((noinline, cold)) int sendmmsg_full(int fd, struct mmsghdr *vec,
							 unsigned int vlen, int flags)
{
	struct send_args a = { .kind = 2, .fd = fd, .flags = flags, .vec = vec, .vlen = vlen,
			       .to = vec[0].msg_hdr.msg_name, .tolen = vec[0].msg_hdr.msg_namelen };
	return (int)send_full(&a);
}

/* A watched datagram: at level "all" most have nothing new to say, and go
 * from here, on a frame with no buffer. */
static __attribute__((noinline)) LR_SHORT ssize_t sendto_watched(int fd, const void *buf, size_t n,
								int flags,
								const struct sockaddr *to,
								socklen_t tolen)
{
	if (send_nothing_new(fd, to, tolen))
		return lr_real.sendto(fd, buf, n, flags, to, tolen);
	return sendto_full(fd, buf, n, flags, to, tolen);
}

static __attribute__((noinline)) LR_SHORT ssize_t sendmsg_watched(int fd, const struct msghdr *msg,
								 int flags)
{
	if (send_nothing_new(fd, msg->msg_name, msg->msg_namelen))
		return lr_real.sendmsg(fd, msg, flags);
	return sendmsg_full(fd, msg, flags);
}

LR_EXPORT LR_SHORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
				  const struct sockaddr *to, socklen_t tolen)
{
	if (__builtin_expect(send_watched(fd, to), 0))
		return sendto_watched(fd, buf, n, flags, to, tolen);
	return lr_real.sendto(fd, buf, n, flags, to, tolen);
}

LR_EXPORT LR_SHORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (__builtin_expect(msg && send_watched(fd, msg->msg_name), 0))
		return sendmsg_watched(fd, msg, flags);
	return lr_real.sendmsg(fd, msg, flags);
}

/* The first message's destination is where the kernel binds the socket
 * (the rest go from the same source). */
LR_EXPORT LR_SHORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, lr_mmsg_flags flags)
{
	if (__builtin_expect(vec && vlen && send_watched(fd, vec[0].msg_hdr.msg_name), 0))
		return sendmmsg_full(fd, vec, vlen, (int)flags);
	return lr_real.sendmmsg(fd, vec, vlen, flags);
}

/* The addresses real.c compares its lookups with (see real.h). */
LR_HOOKED(LR_SELF_ALIAS)

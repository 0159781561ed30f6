#include "handle.h"

#include "abi.h"
#include "act.h"
#include "front.h"
#include "notify.h"
#include "pool.h"
#include "procs.h"
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Calls that found the program's socket, ready for the core. */
struct ready {
	struct lr_trapped t;
	struct lr_proc proc;
	struct lr_caller who;
	uint16_t st; /* LR_SOCK_* bits */
	bool gone;   /* its kept pidfd named a process no longer there */
};

/* Answers, and when the program had given the call up (a signal: it will
 * make it again) records that on the socket, so that the next attempt
 * finds the first one's effect as its own. The duplicate goes first: a
 * program that closes its socket as soon as the call returns and binds
 * the port again must find it free, not held by our copy. */
static void answer(struct ready *r, int ret, int err)
{
	if (r->t.dup >= 0) {
		close(r->t.dup);
		r->t.dup = -1;
	}
	/* The duplicate is closed: the inode, if not asked yet, from /proc. */
	if (lr_notify_return(r->t.listener, r->t.id, ret, ret < 0 ? err : 0) != 0 && errno == ENOENT)
		lr_front_update(r->t.ino ? r->t.ino : lr_front_ino_at(r->t.tgid, r->t.target), 0,
				LR_SOCK_RETRIED);
}

static void release(struct ready *r)
{
	if (r->t.dup >= 0)
		close(r->t.dup);
	lr_notify_pidfd_put(r->t.pidfd, r->gone);
}

/* Reaches the program's socket fd for call req: its process, a duplicate,
 * what is known of it. False when the call is not ours to change (the fd
 * is not an IP socket, no rules apply, the process is gone): then the
 * caller lets it run as the program asked. */
static bool reach(int listener, const struct seccomp_notif *req, int fd, struct ready *r)
{
	memset(r, 0, sizeof(*r));
	r->t.listener = listener;
	r->t.id = req->id;
	r->t.target = fd;
	r->t.dup = -1;
	r->t.pidfd = lr_notify_pidfd_take((pid_t)req->pid, &r->t.tgid);
	r->t.dup = r->t.pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, r->t.pidfd, fd, 0);
	if (r->t.dup < 0 && errno == ESRCH) {
		/* A kept pidfd of a thread that is gone (its number now another
		 * thread's, which made this call): open the caller's afresh. */
		lr_notify_pidfd_put(r->t.pidfd, true);
		r->t.pidfd = lr_notify_pidfd_take((pid_t)req->pid, &r->t.tgid);
		r->t.dup = r->t.pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, r->t.pidfd, fd, 0);
	}
	/* Only now is the pid known to be the caller's: the call still waits. */
	if (r->t.pidfd < 0 || !lr_notify_valid(listener, req->id))
		return false;
	if (lr_proc_get(r->t.tgid, &r->proc) != 0 || !r->proc.loaded)
		return false;
	if (r->t.dup < 0)
		return false;
	/* A record is found by the socket's inode; until any socket has one
	 * there is none to find, and the kind, asked below, says whether this
	 * is an IP socket at all: one system call a trap fewer. */
	r->st = 0;
	if (lr_front_any()) {
		if (!lr_front_ino(&r->t))
			return false;
		r->st = lr_front_get(r->t.ino);
	}
	if (!(r->st & LR_SOCK_KNOWN)) {
		/* Added to what may be recorded already: the options the
		 * program set on it before (setsockopt_call). */
		uint16_t kind;
		if (!lr_front_kind(r->t.dup, &kind))
			return false;
		r->st |= kind;
		lr_front_update(r->t.ino, 0, kind);
	}
	r->t.udp = (r->st & LR_SOCK_UDP) != 0;
	r->t.retried = (r->st & LR_SOCK_RETRIED) != 0;
	if (r->t.retried)
		lr_front_update(r->t.ino, LR_SOCK_RETRIED, 0);
	lr_front_caller(&r->who, &r->t, r->proc.argv0[0] ? r->proc.argv0 : r->proc.exe, r->proc.euid);
	return true;
}

/* A bind or connect, its address copied out of the program. */
struct address_call {
	struct ready r;
	struct sockaddr_storage ss;
	socklen_t len;
	struct lr_call c;
};

static void finish(struct address_call *a)
{
	struct lr_sockinfo si;
	lr_sockinfo_of(a->r.st, &si, &a->c.proto);
	int ret = (a->c.op == LR_OP_BIND ? lr_act_bind : lr_act_connect)(
		a->r.proc.loaded, &a->r.who, a->r.t.dup, (struct sockaddr *)&a->ss, a->len, &a->c, &si);
	answer(&a->r, ret, errno);
	release(&a->r);
}

/* On a pool thread: the caller it acts for is its own copy's. */
static void finish_elsewhere(void *arg)
{
	struct address_call *a = arg;
	lr_front_caller(&a->r.who, &a->r.t, a->r.who.program, a->r.who.euid);
	finish(a);
	free(a);
}

/* Whether acting may block this thread: a connect on a blocking socket
 * (until it connects), a bind under rules that retry. */
static bool may_block(const struct address_call *a)
{
	if (a->c.op == LR_OP_BIND) {
		const struct lr_table *t = a->r.proc.loaded->table;
		for (size_t i = 0; i < t->nactions; i++)
			if (t->actions[i].retry_ms)
				return true;
		return false;
	}
	int fl = fcntl(a->r.t.dup, F_GETFL);
	return fl >= 0 && !(fl & O_NONBLOCK);
}

/* Whether a rule of l could change call c, whatever its socket's protocol
 * (not read yet): decided on the copied address alone. */
static bool rule_concerns(const struct lr_loaded *l, const struct lr_call *c)
{
	const struct lr_table *t = l->table;
	if (t->keep_all && c->op == LR_OP_BIND && c->port != 0)
		return true;
	struct lr_call p = *c;
	p.proto = LR_PROTO_TCP;
	if (lr_table_match(t, &p))
		return true;
	p.proto = LR_PROTO_UDP;
	return lr_table_match(t, &p) != NULL;
}

/* Whether a line may be due after a call no rule changes: its outcome is
 * then learnt (watch.h). A rule that matched may say what it would have
 * done (a dry run); else only a conflict, or at level "all" any call, is
 * said. */
static bool outcome_needed(const struct lr_loaded *l, bool matched)
{
	return matched || l->table->log.level >= LR_LOG_CONFLICTS;
}

/* A bind or connect no rule changes: the program makes it itself, in its
 * own thread (CONTINUE), so the kernel sees exactly the call it would see
 * without libreuse — its CPU, its credentials, its LSM and cgroup checks.
 * dup: the socket if reached already, else -1. Where a line may be due,
 * the outcome is learnt afterwards from a duplicate of the socket. */
static void program_makes(int listener, const struct seccomp_notif *req, int fd,
			  struct address_call *a, const struct lr_proc *proc, pid_t tgid, int pidfd,
			  int dup, bool matched)
{
	if (!outcome_needed(proc->loaded, matched)) {
		if (dup >= 0)
			close(dup);
		lr_notify_continue(listener, req->id);
		return;
	}
	struct lr_watch w;
	memset(&w, 0, sizeof(w));
	w.dup = dup >= 0 ? dup : (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (w.dup < 0 && errno == ESRCH) {
		/* A kept pidfd of a thread that is gone (as in reach): the
		 * caller's afresh. */
		pid_t again;
		int fresh = lr_notify_pidfd((pid_t)req->pid, &again);
		if (fresh >= 0) {
			w.dup = again == tgid ? (int)syscall(SYS_pidfd_getfd, fresh, fd, 0) : -1;
			close(fresh);
		}
	}
	if (w.dup < 0) {
		lr_notify_continue(listener, req->id);
		return;
	}
	w.tid = (pid_t)req->pid;
	w.tgid = tgid;
	w.euid = proc->euid;
	snprintf(w.program, sizeof(w.program), "%s", proc->argv0[0] ? proc->argv0 : proc->exe);
	w.loaded = proc->loaded;
	w.c = a->c;
	memcpy(&w.ss, &a->ss, sizeof(w.ss));
	w.len = a->len;
	w.nr = req->data.nr;
	w.arg0 = req->data.args[0];
	w.arg1 = req->data.args[1];
	w.matched = matched;
	if (proc->loaded->table->log.level >= LR_LOG_ALL || matched) {
		struct sockaddr_storage ss;
		socklen_t n = sizeof(ss);
		struct lr_addr addr;
		uint16_t port = 0;
		if (a->c.op == LR_OP_BIND)
			w.was_bound = getsockname(w.dup, (struct sockaddr *)&ss, &n) == 0 &&
				      lr_sockaddr_read((struct sockaddr *)&ss, n, &addr, &port) == 0 && port;
		else
			w.was_connected = getpeername(w.dup, (struct sockaddr *)&ss, &n) == 0;
	}
	if (a->c.op == LR_OP_CONNECT) {
		int fl = fcntl(w.dup, F_GETFL);
		w.nonblock = fl >= 0 && (fl & O_NONBLOCK);
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	w.since_ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
	/* Answered first: the program waits for nothing the log needs. A call
	 * given up meanwhile (a signal) comes again as a new one. */
	lr_watch_expect();
	if (lr_notify_continue(listener, req->id) != 0) {
		close(w.dup);
		lr_watch_unexpect();
		return;
	}
	lr_watch_add(&w);
}

/* bind and connect: the address is copied out of the program and decided
 * on first; only a call a rule changes reaches further (the socket, what
 * is known of it), is checked still waiting, and is made by the supervisor
 * on the copy — every other call the program makes itself. */
static void address_call(int listener, const struct seccomp_notif *req, const struct lr_syscall *sc)
{
	struct address_call a = { .r = { .t = { .dup = -1, .pidfd = -1 } } };
	a.len = (socklen_t)sc->arg[2];
	if (sc->arg[2] > sizeof(a.ss) || a.len < sizeof(sa_family_t) ||
	    lr_notify_read((pid_t)req->pid, sc->arg[1], &a.ss, a.len) != 0 ||
	    lr_sockaddr_read((struct sockaddr *)&a.ss, a.len, &a.c.addr, &a.c.port) != 0) {
		lr_notify_continue(listener, req->id);
		return;
	}
	a.c.op = sc->op == LR_SC_BIND ? LR_OP_BIND : LR_OP_CONNECT;
	pid_t tgid;
	struct lr_proc proc;
	int pidfd = lr_notify_pidfd_take((pid_t)req->pid, &tgid);
	if (pidfd < 0 || lr_proc_get(tgid, &proc) != 0 || !proc.loaded) {
		if (pidfd >= 0)
			lr_notify_pidfd_put(pidfd, false);
		lr_notify_continue(listener, req->id);
		return;
	}
	if (!rule_concerns(proc.loaded, &a.c)) {
		program_makes(listener, req, (int)sc->arg[0], &a, &proc, tgid, pidfd, -1, false);
		lr_notify_pidfd_put(pidfd, false);
		return;
	}
	lr_notify_pidfd_put(pidfd, false);
	if (!reach(listener, req, (int)sc->arg[0], &a.r)) {
		release(&a.r);
		lr_notify_continue(listener, req->id);
		return;
	}
	struct lr_sockinfo si;
	lr_sockinfo_of(a.r.st, &si, &a.c.proto);
	if (!lr_act_changes(a.r.proc.loaded, a.r.t.dup, &a.c, &si)) {
		int dup = a.r.t.dup;
		a.r.t.dup = -1;
		program_makes(listener, req, (int)sc->arg[0], &a, &a.r.proc, a.r.t.tgid, a.r.t.pidfd,
			      dup, true);
		release(&a.r);
		return;
	}
	struct address_call *slow;
	if (may_block(&a) && (slow = malloc(sizeof(*slow)))) {
		*slow = a;
		lr_pool_run(finish_elsewhere, slow);
		return;
	}
	finish(&a);
}

/* Where a send's datagram goes, as the program passed it: sendto's
 * address, or the name of (the first) msghdr, whose layout is the ABI's.
 * False when it names none (a connected socket) or cannot be read. */
static bool send_destination(const struct seccomp_notif *req, const struct lr_syscall *sc,
			     uint64_t *name, uint32_t *len)
{
	if (sc->op == LR_SC_SENDTO) {
		*name = sc->arg[4];
		*len = (uint32_t)sc->arg[5];
		return *name != 0;
	}
	if (sc->op == LR_SC_SENDMMSG && sc->arg[2] == 0)
		return false;
	/* msghdr (and mmsghdr, which begins with one): the name's pointer,
	 * then its length — 8 + 4 bytes, or 4 + 4 for a 32-bit ABI. */
	unsigned char head[12];
	size_t n = sc->compat ? 8 : 12;
	if (sc->arg[1] == 0 || lr_notify_read((pid_t)req->pid, sc->arg[1], head, n) != 0)
		return false;
	if (sc->compat) {
		uint32_t p;
		memcpy(&p, head, 4);
		*name = p;
		memcpy(len, head + 4, 4);
	} else {
		memcpy(name, head, 8);
		memcpy(len, head + 8, 4);
	}
	return *name != 0;
}

/* sendto, sendmsg, sendmmsg, trapped because a rule has op = "send": only
 * a UDP socket's first datagram, while the socket is unbound, is acted on
 * (a deny, or the source bind before the kernel's own); the datagram
 * itself the program always sends, in its own thread (CONTINUE). Every
 * other datagram costs the reads that tell it is not a first one. */
static void send_call(int listener, const struct seccomp_notif *req, const struct lr_syscall *sc)
{
	struct address_call a = { .r = { .t = { .dup = -1, .pidfd = -1 } } };
	uint64_t name;
	uint32_t len;
	if (!send_destination(req, sc, &name, &len) || len > sizeof(a.ss) || len < sizeof(sa_family_t) ||
	    lr_notify_read((pid_t)req->pid, name, &a.ss, len) != 0 ||
	    lr_sockaddr_read((struct sockaddr *)&a.ss, len, &a.c.addr, &a.c.port) != 0) {
		lr_notify_continue(listener, req->id);
		return;
	}
	a.len = len;
	a.c.op = LR_OP_SEND;
	a.c.proto = LR_PROTO_UDP;
	pid_t tgid;
	struct lr_proc proc;
	int pidfd = lr_notify_pidfd_take((pid_t)req->pid, &tgid);
	bool concerned = pidfd >= 0 && lr_proc_get(tgid, &proc) == 0 && proc.loaded &&
			 lr_table_match(proc.loaded->table, &a.c);
	if (pidfd >= 0)
		lr_notify_pidfd_put(pidfd, false);
	if (!concerned || !reach(listener, req, (int)sc->arg[0], &a.r) ||
	    (a.r.st & (LR_SOCK_UDP | LR_SOCK_BOUND)) != LR_SOCK_UDP) {
		release(&a.r);
		lr_notify_continue(listener, req->id);
		return;
	}
	struct lr_sockinfo si;
	uint8_t proto;
	lr_sockinfo_of(a.r.st, &si, &proto);
	bool said;
	if (lr_act_send(a.r.proc.loaded, &a.r.who, a.r.t.dup, &a.c, &si, &said) != 0) {
		answer(&a.r, -1, errno);
		release(&a.r);
		return;
	}
	/* The kernel binds it now if nothing did: its next datagrams are not
	 * first ones. */
	lr_front_update(lr_front_ino(&a.r.t), 0, LR_SOCK_BOUND);
	if (lr_notify_continue(listener, req->id) == 0 && said)
		lr_act_sent(a.r.proc.loaded, &a.r.who, a.r.t.dup, &a.c, &si, false, 0, 0);
	release(&a.r);
}

/* Whether the rules of l make anything of the program's own SO_REUSEADDR
 * and SO_REUSEPORT but a record for later lines: a rule that injects them
 * (what the program set, on or off, decides what is injected), forces
 * them (turning one off is then ignored), or keeps a listener; or a level
 * that says every call. */
static bool options_ruled(const struct lr_loaded *l)
{
	const struct lr_table *t = l->table;
	if (t->keep_all || t->max_level >= LR_LOG_ALL)
		return true;
	for (size_t i = 0; i < t->nactions; i++) {
		const struct lr_action *a = &t->actions[i];
		if (a->reuseaddr || a->reuseport || a->force || a->keep)
			return true;
	}
	return false;
}

/* A reuse option no rule makes anything of: the program sets it itself
 * (CONTINUE), and the socket's record says it set it, for the lines of
 * its later calls (who set which option, and why a bind was refused). The
 * socket is named by its inode from /proc, not reached: what is recorded
 * changes no decision under these rules. False when the rules do make
 * something of it. */
static bool option_recorded(int listener, const struct seccomp_notif *req, const struct lr_syscall *sc, int val)
{
	pid_t tgid;
	struct lr_proc proc;
	int pidfd = lr_notify_pidfd_take((pid_t)req->pid, &tgid);
	bool ruled = pidfd < 0 || lr_proc_get(tgid, &proc) != 0 || !proc.loaded || options_ruled(proc.loaded);
	lr_notify_pidfd_put(pidfd, false);
	if (ruled)
		return false;
	ino_t ino = lr_front_ino_at((pid_t)req->pid, (int)sc->arg[0]);
	if (ino) {
		uint16_t clear, set;
		lr_sock_reuse_bits((int)sc->arg[2], val, &clear, &set);
		lr_front_update(ino, clear, set);
	}
	lr_notify_continue(listener, req->id);
	return true;
}

static void setsockopt_call(int listener, const struct seccomp_notif *req, const struct lr_syscall *sc)
{
	int val;
	struct ready r = { .t = { .dup = -1, .pidfd = -1 } };
	/* socketcall's setsockopt is trapped whatever its level: the filter
	 * cannot read the block the level is in. */
	if ((int)sc->arg[1] != SOL_SOCKET || ((int)sc->arg[2] != SO_REUSEADDR && (int)sc->arg[2] != SO_REUSEPORT) ||
	    sc->arg[3] == 0 || (uint32_t)sc->arg[4] < sizeof(int) ||
	    lr_notify_read((pid_t)req->pid, sc->arg[3], &val, sizeof(val)) != 0) {
		lr_notify_continue(listener, req->id);
		return;
	}
	if (option_recorded(listener, req, sc, val))
		return;
	if (!reach(listener, req, (int)sc->arg[0], &r)) {
		release(&r);
		lr_notify_continue(listener, req->id);
		return;
	}
	int ret = lr_act_reuse_option(r.proc.loaded, &r.who, r.t.dup, r.st, (int)sc->arg[2], &val,
				      sizeof(val));
	answer(&r, ret, errno);
	release(&r);
}

static void listen_call(int listener, const struct seccomp_notif *req, const struct lr_syscall *sc)
{
	struct ready r = { .t = { .dup = -1, .pidfd = -1 } };
	if (!reach(listener, req, (int)sc->arg[0], &r)) {
		release(&r);
		lr_notify_continue(listener, req->id);
		return;
	}
	int backlog = (int)sc->arg[1];
	int ret = listen(r.t.dup, backlog);
	int e = errno;
	lr_act_listened(r.proc.loaded, &r.who, r.t.dup, r.st, backlog, ret, e);
	answer(&r, ret, e);
	release(&r);
}

static void shutdown_call(int listener, const struct seccomp_notif *req, const struct lr_syscall *sc)
{
	struct ready r = { .t = { .dup = -1, .pidfd = -1 } };
	if (reach(listener, req, (int)sc->arg[0], &r) && (r.st & LR_SOCK_KEPT) &&
	    lr_act_shutdown(r.proc.loaded, &r.who, r.t.dup, r.st))
		answer(&r, 0, 0);
	else
		lr_notify_continue(listener, req->id);
	release(&r);
}

/* A call on no socket (io_uring_setup), or one not understood: the
 * process's rules and names, for the line and the answer. NULL when it is
 * gone, or no rules apply to it. */
static struct lr_loaded *process_of(const struct seccomp_notif *req, struct lr_proc *proc,
				    struct lr_trapped *t, struct lr_caller *who)
{
	memset(t, 0, sizeof(*t));
	t->dup = -1;
	t->pidfd = lr_notify_pidfd((pid_t)req->pid, &t->tgid);
	if (t->pidfd < 0)
		return NULL;
	close(t->pidfd);
	t->pidfd = -1;
	if (lr_proc_get(t->tgid, proc) != 0)
		return NULL;
	lr_front_caller(who, t, proc->argv0[0] ? proc->argv0 : proc->exe, proc->euid);
	return proc->loaded;
}

static void io_uring_call(int listener, const struct seccomp_notif *req)
{
	struct lr_proc proc;
	struct lr_trapped t;
	struct lr_caller who;
	struct lr_loaded *l = process_of(req, &proc, &t, &who);
	if (l && lr_notify_valid(listener, req->id) &&
	    lr_act_io_uring(l, &who, lr_proc_first(t.tgid, LR_SAID_IO_URING)))
		lr_notify_return(listener, req->id, -1, ENOSYS);
	else
		lr_notify_continue(listener, req->id);
}

/* Never let through unseen: the call may be a socket call by a way the
 * supervisor does not read. */
static void undecoded_call(int listener, const struct seccomp_notif *req, const struct lr_syscall *sc)
{
	struct lr_proc proc;
	struct lr_trapped t;
	struct lr_caller who;
	struct lr_loaded *l = process_of(req, &proc, &t, &who);
	if (l)
		lr_act_undecoded(l, &who, sc->what);
	lr_notify_return(listener, req->id, -1, ENOSYS);
}

void lr_handle(int listener, const struct seccomp_notif *req)
{
	struct lr_syscall sc;
	lr_abi_decode(req, &sc);
	/* This thread is past its previous call: that call's outcome is said
	 * first, so a thread's lines keep its order. */
	lr_watch_thread_next((pid_t)req->pid, req->data.nr, req->data.args[0], req->data.args[1]);
	if (sc.op == LR_SC_BIND)
		lr_watch_shown();
	switch (sc.op) {
	case LR_SC_BIND:
	case LR_SC_CONNECT:
		address_call(listener, req, &sc);
		break;
	case LR_SC_SETSOCKOPT:
		setsockopt_call(listener, req, &sc);
		break;
	case LR_SC_SENDTO:
	case LR_SC_SENDMSG:
	case LR_SC_SENDMMSG:
		send_call(listener, req, &sc);
		break;
	case LR_SC_LISTEN:
		listen_call(listener, req, &sc);
		break;
	case LR_SC_SHUTDOWN:
		shutdown_call(listener, req, &sc);
		break;
	case LR_SC_EXECVE: {
		/* Another program from here on: its names, and rules, anew. */
		pid_t tgid;
		int pidfd = lr_notify_pidfd((pid_t)req->pid, &tgid);
		if (pidfd >= 0) {
			lr_proc_forget(tgid);
			close(pidfd);
		}
		lr_notify_continue(listener, req->id);
		break;
	}
	case LR_SC_IO_URING_SETUP:
		io_uring_call(listener, req);
		break;
	case LR_SC_UNDECODED:
		undecoded_call(listener, req, &sc);
		break;
	case LR_SC_OTHER:
		lr_notify_continue(listener, req->id);
		break;
	}
}

/* Calls on a socket with no address of their own, that no rule decides:
 * the program's own SO_REUSEADDR/SO_REUSEPORT (a forced one kept), listen
 * (a kept listener to the keeper, and the verdict), and shutdown of a kept
 * socket. Apart from bind's steps: their facts are the socket's record
 * (sock_start), not a call's. */
#include "act.h"
#include "actstep.h"

#include "fmt.h"

#include <errno.h>
#include <string.h>

/* The facts of a call on a socket recorded as st, with no address of its
 * own (listen, setsockopt, shutdown). No rule decides there: its keep
 * lines follow the file's level. */
static void sock_start(struct act *a, struct lr_loaded *l, const struct lr_caller *who, int fd,
		       uint16_t st)
{
	a->l = l;
	a->who = who;
	a->c = NULL;
	lr_sockinfo_of(st, &a->si, &a->proto);
	a->op = NULL;
	a->fd = fd;
	memset(&a->d, 0, sizeof(a->d));
	if (l)
		a->d.level = (int)l->table->log.level;
	a->ev.op = NULL;
}

static bool logs_calls(const struct lr_loaded *l)
{
	return l->table->log.level >= LR_LOG_ALL;
}

/* A call that no rule acts on (listen, setsockopt), at level "all";
 * backlog is listen's as the program asked it (the kernel caps it at
 * net.core.somaxconn), NULL for any other call. */
static void say_call(const struct act *a, const char *op, int result, int err, const char *message,
		     const int *backlog)
{
	if (!logs_calls(a->l))
		return;
	struct lr_event ev;
	sock_event(&ev, a, LR_EV_CALL, op);
	ev.result = result;
	ev.err = err;
	ev.message = message;
	if (backlog) {
		ev.backlog = *backlog;
		ev.has_backlog = true;
	}
	lr_log_event(&a->l->sink, &ev);
}

/* The program's own option (name) set to on, made and recorded. */
static int set_own_option(const struct lr_caller *who, int fd, int name, const void *val,
			  socklen_t len, int on)
{
	int ret = who->ops->setsockopt(fd, SOL_SOCKET, name, val, len);
	if (ret == 0) {
		int saved = errno;
		uint16_t clear, set;
		lr_sock_reuse_bits(name, on, &clear, &set);
		who->ops->mark(who, fd, clear, set);
		errno = saved;
	}
	return ret;
}

/* The words of its line: set to 0 or 1, or a forced option's 0 ignored. */
static const char *reuse_option_words(int name, int on, bool forced_off)
{
	static const char *const what[2][3] = {
		{ "SO_REUSEADDR=0", "SO_REUSEADDR=1", "SO_REUSEADDR=0 ignored: forced by rule" },
		{ "SO_REUSEPORT=0", "SO_REUSEPORT=1", "SO_REUSEPORT=0 ignored: forced by rule" },
	};
	unsigned bit = name == SO_REUSEADDR ? LR_OPT_REUSEADDR : LR_OPT_REUSEPORT;
	return what[bit - 1][forced_off ? 2 : on != 0];
}

int lr_act_reuse_option(struct lr_loaded *l, const struct lr_caller *who, int fd, uint16_t st,
			int name, const void *val, socklen_t len)
{
	int on;
	memcpy(&on, val, sizeof(on));
	/* A `force` rule injected this option: the program's attempt to turn
	 * it off is ignored (and said so), and it sees success. */
	bool forced_off = lr_sock_reuse_forced(st, name, on);
	int ret = forced_off ? 0 : set_own_option(who, fd, name, val, len, on);
	int e = errno;
	if (l && logs_calls(l)) {
		struct act a;
		sock_start(&a, l, who, fd, st);
		say_call(&a, "setsockopt", ret, forced_off ? 0 : e, reuse_option_words(name, on, forced_off),
			 NULL);
	}
	errno = e;
	return ret;
}

/* The verdict's words: whether the program sets each option itself, what
 * it cannot do without, and whether libreuse makes up for it. */
static void verdict_words(struct lr_buf *b, const struct lr_sockinfo *si)
{
	if (si->prog_on & LR_OPT_REUSEADDR)
		lr_buf_str(b, "sets SO_REUSEADDR itself: it can restart at once");
	else
		lr_buf_str(b, "never sets SO_REUSEADDR: it cannot restart while TIME_WAIT lingers "
			      "(rule: reuseaddr = true)");
	if (si->prog_on & LR_OPT_REUSEPORT)
		lr_buf_str(b, "; sets SO_REUSEPORT itself: instances can share its port");
	else
		lr_buf_str(b, "; never sets SO_REUSEPORT: a second instance cannot share its port "
			      "(rule: reuseport = true)");
	if (si->injected)
		lr_buf_str(b, "; under these rules libreuse injects what it lacks");
}

/* Once, at the first TCP listener at level "all": the options the program
 * sets itself decide whether it can restart at once and share its port. */
static void give_verdict(const struct act *a)
{
	if (a->proto != LR_PROTO_TCP || !logs_calls(a->l) || !first_for(a->who, LR_SAID_VERDICT))
		return;
	char msg[512];
	struct lr_buf b = LR_BUF(msg);
	verdict_words(&b, &a->si);
	struct lr_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.kind = LR_EV_VERDICT;
	ev.program = a->who->program;
	ev.pid = a->who->pid;
	ev.op = "listen";
	ev.proto = a->proto;
	ev.set_by_program = a->si.prog_on;
	ev.injected = a->si.injected;
	ev.message = msg;
	lr_log_event(&a->l->sink, &ev);
}

void lr_act_listened(struct lr_loaded *l, const struct lr_caller *who, int fd, uint16_t st,
		     int backlog, int ret, int err)
{
	struct act a;
	sock_start(&a, l, who, fd, st);
	if (ret == 0 && (st & LR_SOCK_KEEP)) {
		/* A listener a keep rule bound, now listening: to the keeper. */
		who->ops->mark(who, fd, LR_SOCK_KEEP, 0);
		sock_event(&a.ev, &a, LR_EV_ACTION, "listen");
		keep_offer(&a);
	}
	say_call(&a, "listen", ret, err, NULL, &backlog);
	if (ret == 0)
		give_verdict(&a);
}

/* Still the socket that was kept? The fd number may have been reused
 * without a close() libreuse saw: only a listener or a UDP socket is left
 * alone. */
static bool still_kept(int fd)
{
	int v = 0, saved = errno;
	socklen_t len = sizeof(v);
	bool listening = getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v;
	len = sizeof(v);
	bool dgram = !listening && getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == 0 && v == SOCK_DGRAM;
	errno = saved;
	return listening || dgram;
}

bool lr_act_shutdown(struct lr_loaded *l, const struct lr_caller *who, int fd, uint16_t st)
{
	if (!still_kept(fd)) {
		who->ops->mark(who, fd, LR_SOCK_KEPT, 0);
		return false;
	}
	if (l) {
		struct act a;
		sock_start(&a, l, who, fd, st);
		sock_event(&a.ev, &a, LR_EV_ACTION, "shutdown");
		log_action(&a, NULL, "shutdown ignored",
			   "a kept socket: shutting it down would stop it for the next instance too");
	}
	return true;
}

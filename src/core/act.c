#include "act.h"

#include "conflict.h"
#include "errname.h"
#include "fmt.h"
#include "pages.h"
#include "ratelimit.h"
#include "tally.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

/* Longest single wait between bind retries: short enough to take a port
 * within a quarter second of its holder letting go. */
#define LR_RETRY_MAX_STEP_MS 250

/* The log rate limit of this address space, shared by every thread (see
 * ratelimit.h); it outlives reloads, so a new rule file does not reset a
 * flood. Under the supervisor it serves every program at once: a line's key
 * holds its process (admit), so one program's flood holds back its own
 * lines, not another's. */
LR_ZERO_PAGES static struct lr_ratelimit rate;

/* Whether a line said once a process is due for who's: the front end
 * keeps what its processes were told (a process here is the one the call
 * came from: the library's own, or one of the supervisor's many). Without
 * a front end's record, every time. */
static bool first_for(const struct lr_caller *who, unsigned said)
{
	return !who->ops || !who->ops->first || who->ops->first(who, said);
}

/* One call being carried out: the facts the front end gave, what the
 * policy decided on them, the line being built, and the address the call
 * is made with. It lives on the stack of one lr_act_* call. Only the facts
 * are set at the start; the rest is filled by the step that needs it, so a
 * bind at the default level zeroes no event. */
struct act {
	struct lr_loaded *l; /* NULL only for setsockopt and shutdown, which then say nothing */
	const struct lr_caller *who;
	const struct lr_call *c; /* NULL: a call with no address of its own (listen...) */
	struct lr_sockinfo si;   /* a connect's `bound` as the kernel says, for a source rule */
	const char *op;          /* what the lines call it: "bind", "connect", "send" */
	int fd;
	uint8_t proto;
	struct lr_decision d;
	/* The call's line, built by act_event (ev.op set) at the first step
	 * that says something. */
	struct lr_event ev;
	/* The address the call is made with: the program's, or a rewrite (ss). */
	const struct sockaddr *use;
	socklen_t use_len;
	struct sockaddr_storage ss;
};

static const char *op_name(uint8_t op)
{
	return op == LR_OP_BIND ? "bind" : op == LR_OP_SEND ? "send" : "connect";
}

/* The facts of a bind, connect or send; the decision comes after, once
 * the facts are complete (act_decide). */
static void act_start(struct act *a, struct lr_loaded *l, const struct lr_caller *who, int fd,
		      const struct lr_call *c, const struct lr_sockinfo *si)
{
	a->l = l;
	a->who = who;
	a->c = c;
	a->si = *si;
	a->op = op_name(c->op);
	a->fd = fd;
	a->proto = c->proto;
	a->ev.op = NULL;
}

static void act_decide(struct act *a)
{
	lr_decide(a->l->table, a->c, &a->si, &a->d);
}

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

/* ---- Saying it: events, the rate limit, the sink ---- */

/* A non-blocking connect under way (EINPROGRESS) is no failure: every
 * such connect is logged, not cut after the fifth. */
static bool is_failure(const struct lr_event *ev)
{
	return ev->kind == LR_EV_CONFLICT ||
	       (ev->kind == LR_EV_CALL && ev->result < 0 && ev->err != EINPROGRESS);
}

/* Failures and actions are rate-limited per (process, kind, op, address,
 * errno or action); successful calls and libreuse's own errors are not. */
static bool admit(struct lr_event *ev)
{
	uint32_t burst = is_failure(ev)		   ? LR_RATE_BURST_FAILURE
			 : ev->kind == LR_EV_ACTION ? LR_RATE_BURST_ACTION
						    : 0;
	if (!burst)
		return true;
	uint64_t key = LR_RATE_HASH_INIT;
	int what = ev->kind == LR_EV_ACTION ? 0 : ev->err;
	key = lr_rate_hash(key, &ev->pid, sizeof(ev->pid));
	key = lr_rate_hash(key, &ev->kind, sizeof(ev->kind));
	key = lr_rate_hash(key, ev->op, strlen(ev->op));
	if (ev->action)
		key = lr_rate_hash(key, ev->action, strlen(ev->action));
	key = lr_rate_hash(key, &what, sizeof(what));
	key = lr_rate_hash(key, &ev->addr, sizeof(ev->addr));
	key = lr_rate_hash(key, &ev->port, sizeof(ev->port));
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	if (lr_rate_admit(&rate, key, now.tv_sec, burst, &ev->suppressed))
		return true;
	lr_tally_add(LR_TALLY_SUPPRESSED); /* rare: a flood is being cut */
	return false;
}

static void emit(struct lr_loaded *l, int level, enum lr_level at, struct lr_event *ev)
{
	if ((int)at <= level && admit(ev)) {
		ev->said_at = (uint8_t)at;
		lr_log_event(&l->sink, ev);
	}
}

/* The event of a bind, connect or send: built once, at the first line
 * that needs it. */
static struct lr_event *act_event(struct act *a)
{
	struct lr_event *ev = &a->ev;
	if (ev->op)
		return ev;
	memset(ev, 0, sizeof(*ev));
	ev->program = a->who->program;
	ev->pid = a->who->pid;
	ev->op = a->op;
	ev->proto = a->proto;
	ev->has_addr = true;
	ev->addr = a->c->addr;
	ev->port = a->c->port;
	ev->rule = a->d.rule ? a->d.rule->index + 1 : 0;
	ev->dry_run = a->d.dry_run;
	ev->set_by_program = a->si.prog_on;
	ev->injected = a->si.injected;
	return ev;
}

/* The event of a call on a socket with no address of its own (listen,
 * setsockopt, shutdown): the address is the one it is bound to. */
static void sock_event(struct lr_event *ev, const struct act *a, enum lr_event_kind kind,
		       const char *op)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->program = a->who->program;
	ev->pid = a->who->pid;
	ev->op = op;
	ev->proto = a->proto;
	ev->set_by_program = a->si.prog_on;
	ev->injected = a->si.injected;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	uint16_t port;
	int saved = errno;
	if (getsockname(a->fd, (struct sockaddr *)&ss, &len) == 0 &&
	    lr_sockaddr_read((struct sockaddr *)&ss, len, &ev->addr, &port) == 0) {
		ev->has_addr = true;
		ev->port = port;
	}
	errno = saved;
}

/* Counts an action for the exit summary: what was done, or in a dry run
 * what would have been. Only when the rules in force print a summary: the
 * counters are shared by every thread, and at the default level nobody
 * reads them. */
static void tally(const struct act *a, enum lr_tally_kind k)
{
	if (a->l->table->max_level >= LR_LOG_ACTIONS)
		lr_tally_add(a->d.dry_run ? LR_TALLY_WOULD : k);
}

/* An action's line, about base or (NULL) the call's own event. The event
 * is built and copied only when the line will be written: an injecting
 * bind at the default level pays a compare. */
static void log_action(struct act *a, const struct lr_event *base, const char *action,
		       const char *message)
{
	if (a->d.level < (int)LR_LOG_ACTIONS)
		return;
	struct lr_event ev = base ? *base : *act_event(a);
	ev.kind = LR_EV_ACTION;
	ev.action = action;
	ev.message = message;
	emit(a->l, a->d.level, LR_LOG_ACTIONS, &ev);
}

/* The outcome of the call the program made is a conflict when the kernel
 * refused the address, a plain call otherwise. */
static enum lr_event_kind outcome_kind(int ret, int e)
{
	return ret < 0 && lr_is_conflict(e) ? LR_EV_CONFLICT : LR_EV_CALL;
}

static enum lr_level outcome_level(int ret, int e)
{
	return outcome_kind(ret, e) == LR_EV_CONFLICT ? LR_LOG_CONFLICTS : LR_LOG_ALL;
}

/* Whether say_outcome has anything to do: a line at this level, or a
 * conflict to count. */
static bool outcome_wanted(int level, int ret, int e)
{
	return level >= (int)outcome_level(ret, e) || outcome_kind(ret, e) == LR_EV_CONFLICT;
}

/* A conflict's holders of the port and the reason, into ev (info holds
 * them for as long as ev is used). */
static void explain_conflict(const struct act *a, struct lr_event *ev, int e,
			     struct lr_conflict *info)
{
	bool eff = ev->has_effective;
	lr_conflict_gather(a->fd, strcmp(ev->op, "bind") == 0 ? LR_OP_BIND : LR_OP_CONNECT,
			   ev->proto, eff ? &ev->eff_addr : &ev->addr,
			   (uint16_t)(eff ? ev->eff_port : ev->port), e, a->who->euid, info);
	ev->holders = info->has_holders ? &info->holders : NULL;
	ev->reason = info->reason;
}

/* The outcome (ret, e) of the call ev is about. A conflict is always
 * counted, and its line names the port's holders and the reason — looked
 * up only for a line that will be written. */
static void say_outcome(struct act *a, struct lr_event *ev, int ret, int e)
{
	ev->result = ret;
	ev->err = e;
	ev->kind = outcome_kind(ret, e);
	if (ev->kind == LR_EV_CONFLICT) /* a failed call: rare, always counted */
		lr_tally_add(LR_TALLY_CONFLICT);
	if (a->d.level < (int)outcome_level(ret, e) || !admit(ev))
		return;
	struct lr_conflict info;
	if (ev->kind == LR_EV_CONFLICT)
		explain_conflict(a, ev, e, &info);
	lr_log_event(&a->l->sink, ev);
}

/* The call's own outcome, if a line or a count is due; its event is built
 * only then. */
static void say_call_outcome(struct act *a, int ret, int e)
{
	if (outcome_wanted(a->d.level, ret, e))
		say_outcome(a, act_event(a), ret, e);
}

/* ---- The steps of bind, connect and send ---- */

/* No rule for this bind or connect: the real call, and an event only if
 * it will be logged — the common case costs a lookup and nothing more. */
static int pass(struct act *a)
{
	const struct lr_socket_ops *ops = a->who->ops;
	bool bind = a->c->op == LR_OP_BIND;
	int ret = bind ? ops->bind(a->fd, a->use, a->use_len) : ops->connect(a->fd, a->use, a->use_len);
	int e = errno;
	if (ret == 0 && bind)
		ops->mark(a->who, a->fd, 0, LR_SOCK_BOUND);
	say_call_outcome(a, ret, e);
	errno = e;
	return ret;
}

/* Why the rule's action cannot apply to this socket, at level "errors". */
static void say_problem(struct act *a)
{
	if (!a->d.problem)
		return;
	struct lr_event p = *act_event(a);
	p.kind = LR_EV_ACTION;
	p.action = "skip";
	p.message = a->d.problem;
	emit(a->l, a->d.level, LR_LOG_ERRORS, &p);
}

/* A deny: said, and true when it settles the call (not in a dry run). */
static bool deny(struct act *a)
{
	if (!a->d.deny)
		return false;
	tally(a, LR_TALLY_DENY);
	log_action(a, NULL, "deny", lr_errno_name(a->d.deny));
	return !a->d.dry_run;
}

/* A rewrite: said, and the call made with the rule's address (in a copy:
 * the program's sockaddr is never written). */
static void rewrite(struct act *a)
{
	if (!a->d.rewrite)
		return;
	struct lr_event r = *act_event(a);
	r.has_effective = true;
	r.eff_addr = a->d.addr;
	r.eff_port = a->d.port;
	tally(a, LR_TALLY_REWRITE);
	log_action(a, &r, "rewrite", NULL);
	if (a->d.dry_run)
		return;
	socklen_t n = lr_sockaddr_build(&a->ss, a->si.family, a->use, a->use_len, &a->d.addr,
					a->d.port);
	if (n) {
		a->use = (const struct sockaddr *)&a->ss;
		a->use_len = n;
		a->ev = r;
	}
}

/* The steps every call a rule acts on shares, before it is made: a
 * problem said, a deny, a rewrite. True when a deny settles the call. */
static bool denied(struct act *a)
{
	say_problem(a);
	if (deny(a))
		return true;
	rewrite(a);
	return false;
}

/* The first steps of bind and connect, once decided: a call no rule acts
 * on goes straight through; else problem, deny, rewrite. True when the
 * call is settled, with *ret (and errno) as the program must see them. */
static bool settled_before_the_call(struct act *a, const struct sockaddr *addr, socklen_t len,
				    int *ret)
{
	a->use = addr;
	a->use_len = len;
	if (!a->d.rule && !a->d.keep) {
		*ret = pass(a);
		return true;
	}
	if (denied(a)) {
		*ret = -1;
		errno = a->d.deny;
		return true;
	}
	return false;
}

static const char *option_names(unsigned bits)
{
	static const char *const names[] = { "", "SO_REUSEADDR", "SO_REUSEPORT",
					      "SO_REUSEADDR SO_REUSEPORT" };
	return names[bits & 3];
}

/* Sets the rule's options and records them; returns the ones the kernel
 * accepted. */
static unsigned set_options(const struct act *a)
{
	static const int names[] = { SO_REUSEADDR, SO_REUSEPORT };
	const struct lr_socket_ops *ops = a->who->ops;
	unsigned done = 0;
	int saved = errno, one = 1;
	for (unsigned i = 0; i < 2; i++)
		if ((a->d.inject & (1u << i)) &&
		    ops->setsockopt(a->fd, SOL_SOCKET, names[i], &one, sizeof(one)) == 0)
			done |= 1u << i;
	ops->mark(a->who, a->fd, 0,
		  (uint16_t)(done << LR_SOCK_INJECTED_SHIFT | (a->d.force && done ? LR_SOCK_FORCED : 0)));
	errno = saved;
	return done;
}

/* A bind's injection: counted, said, done (not in a dry run). Returns the
 * options set. */
static unsigned inject(struct act *a)
{
	if (!a->d.inject)
		return 0;
	tally(a, LR_TALLY_INJECT);
	log_action(a, NULL, "inject", option_names(a->d.inject));
	return a->d.dry_run ? 0 : set_options(a);
}

static long long elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - since->tv_sec) * 1000 +
	       (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* After a bind met EADDRINUSE: binds again, the waits doubling from 1 ms
 * to LR_RETRY_MAX_STEP_MS, while the port is held and the rule's retry_ms
 * have not passed. Returns the last bind's result, errno its. */
static int rebind_with_backoff(const struct act *a, const struct sockaddr *sa, socklen_t len)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	long long step = 1;
	int ret = -1;
	for (;;) {
		long long left = (long long)a->d.retry_ms - elapsed_ms(&start);
		if (left <= 0)
			break;
		long long wait = step < left ? step : left;
		struct timespec ts = { .tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000 };
		nanosleep(&ts, NULL);
		ret = a->who->ops->bind(a->fd, sa, len);
		if (ret == 0 || errno != EADDRINUSE)
			break;
		step = step * 2 < LR_RETRY_MAX_STEP_MS ? step * 2 : LR_RETRY_MAX_STEP_MS;
	}
	return ret;
}

/* bind, and while it meets EADDRINUSE again as the rule says, each retry
 * said about ev (NULL: the call's own event); then fails exactly as it
 * would have. */
static int bind_retrying(struct act *a, const struct lr_event *ev, const struct sockaddr *sa,
			 socklen_t len)
{
	int ret = a->who->ops->bind(a->fd, sa, len);
	if (ret == 0 || errno != EADDRINUSE || a->d.retry_ms == 0)
		return ret;
	tally(a, LR_TALLY_RETRY);
	log_action(a, ev, "retry", a->d.dry_run ? "the bind that met EADDRINUSE" :
						    "the bind that met EADDRINUSE, with backoff");
	if (a->d.dry_run)
		return ret;
	ret = rebind_with_backoff(a, sa, len);
	int e = errno;
	log_action(a, ev, "retry", ret == 0 ? "succeeded: the port was let go" :
					      "gave up: the port is still held");
	errno = e;
	return ret;
}

/* ---- Keep: through the front end's adopt and offer ---- */

/* Why a keep did not happen, at level errors: a keeper that refused or is
 * gone, a kept socket that cannot be taken, or no keeper at all (once). */
static void keep_missed(struct act *a, const struct lr_keep_outcome *o)
{
	const char *why = o->why[0] ? o->why : NULL;
	if (!why && o->no_keeper && first_for(a->who, LR_SAID_NO_KEEPER))
		why = "not possible: no keeper (libreuse run --keep) and no socket from systemd; "
		      "sockets are not kept, binds go on as without keep";
	if (!why)
		return;
	struct lr_event ev = *act_event(a);
	ev.kind = LR_EV_ACTION;
	ev.action = "keep";
	ev.message = why;
	emit(a->l, a->d.level, LR_LOG_ERRORS, &ev);
}

/* A keep done: counted, and said with where the socket came from or went. */
static void keep_done(struct act *a, enum lr_tally_kind kind, const char *action,
		      const char *prefix, const struct lr_keep_outcome *o)
{
	tally(a, kind);
	if (a->d.level < (int)LR_LOG_ACTIONS)
		return;
	char msg[sizeof(o->from) + 16];
	struct lr_buf b = LR_BUF(msg);
	lr_buf_str(&b, prefix);
	lr_buf_str(&b, o->from);
	log_action(a, NULL, action, msg);
}

/* Hands the socket, bound (TCP: listening), to the keeper. */
static void keep_offer(struct act *a)
{
	struct lr_keep_outcome o;
	if (a->who->ops->offer(a->who, a->fd, &o)) {
		a->who->ops->mark(a->who, a->fd, 0, LR_SOCK_KEPT);
		keep_done(a, LR_TALLY_KEPT, "kept", "by ", &o);
	} else {
		keep_missed(a, &o);
	}
}

/* Whether the socket will be IPv6-only once bound to addr: set so, or
 * made so by Linux at bind to one IPv6 address (neither :: nor
 * v4-mapped), as a kept one bound there already is. Without this a
 * dual-stack socket's restart on ::1 never found its kept listener. */
static bool v6only_at_bind(int fd, const struct lr_addr *addr)
{
	int v6only = 0, saved = errno;
	socklen_t len = sizeof(v6only);
	getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len);
	errno = saved;
	static const uint8_t any[16];
	bool specific = !lr_addr_is_v4mapped(addr) && memcmp(addr->bytes, any, sizeof(any)) != 0;
	return v6only != 0 || specific;
}

/* What a kept socket must be to stand in for this bind; false when the
 * address cannot be read. */
static bool kept_identity(const struct act *a, struct lr_keep_sock *want)
{
	memset(want, 0, sizeof(*want));
	want->proto = a->proto;
	want->family = (uint8_t)a->si.family;
	if (lr_sockaddr_read(a->use, a->use_len, &want->addr, &want->port) != 0)
		return false;
	if (a->si.family == AF_INET6)
		want->v6only = v6only_at_bind(a->fd, &want->addr);
	return true;
}

/* A keep rule's bind: the kept socket for this address, if there is one,
 * takes the place of the program's. True when it did: the bind is done. */
static bool adopt_kept(struct act *a)
{
	struct lr_keep_sock want;
	if (!kept_identity(a, &want))
		return false;
	if (a->d.dry_run) {
		tally(a, LR_TALLY_ADOPTED);
		log_action(a, NULL, "adopt", "a kept socket for this address, if one is held");
		return false;
	}
	struct lr_keep_outcome o;
	if (!a->who->ops->adopt(a->who, a->fd, &want, a->d.keep_name, &o)) {
		keep_missed(a, &o);
		return false;
	}
	a->who->ops->mark(a->who, a->fd, 0, LR_SOCK_BOUND | LR_SOCK_KEPT);
	keep_done(a, LR_TALLY_ADOPTED, "adopt", "from ", &o);
	return true;
}

/* ---- bind ---- */

/* After the bind (ret, e): recorded; a UDP socket a keep rule bound goes
 * to the keeper now, a TCP one once it listens (so a next instance gets a
 * socket that queues connections); the outcome said, with what this bind
 * injected. */
static void after_bind(struct act *a, int ret, int e, unsigned injected)
{
	bool keep = ret == 0 && a->d.keep && !a->d.dry_run;
	if (ret == 0)
		a->who->ops->mark(a->who, a->fd, 0,
				  LR_SOCK_BOUND | (keep && a->proto == LR_PROTO_TCP ? LR_SOCK_KEEP : 0));
	if (keep && a->proto == LR_PROTO_UDP)
		keep_offer(a);
	if (outcome_wanted(a->d.level, ret, e)) {
		struct lr_event *ev = act_event(a);
		ev->injected |= injected;
		say_outcome(a, ev, ret, e);
	}
}

int lr_act_bind(struct lr_loaded *l, const struct lr_caller *who, int fd,
		const struct sockaddr *addr, socklen_t len, const struct lr_call *c,
		const struct lr_sockinfo *si)
{
	struct act a;
	int ret;
	act_start(&a, l, who, fd, c, si);
	act_decide(&a);
	if (settled_before_the_call(&a, addr, len, &ret))
		return ret;
	if (a.d.keep && adopt_kept(&a))
		return 0;
	unsigned injected = inject(&a);
	ret = bind_retrying(&a, NULL, a.use, a.use_len);
	int e = errno;
	after_bind(&a, ret, e, injected);
	errno = e;
	return ret;
}

void lr_act_unruled(struct lr_loaded *l, const struct lr_caller *who, int fd,
		    const struct lr_call *c, const struct lr_sockinfo *si, int ret, int e)
{
	struct act a;
	act_start(&a, l, who, fd, c, si);
	act_decide(&a);
	say_call_outcome(&a, ret, e);
	errno = e;
}

/* ---- connect and send: a source bound first ---- */

/* Whether fd is bound already: the front ends record only the binds that
 * took their full path (a bind no rule could match goes straight through),
 * so the kernel is asked when the record says no. */
static bool bound_already(int fd)
{
	struct sockaddr_storage ss;
	socklen_t n = sizeof(ss);
	int saved = errno;
	bool bound = getsockname(fd, (struct sockaddr *)&ss, &n) == 0 &&
		     ((ss.ss_family == AF_INET && ((struct sockaddr_in *)&ss)->sin_port) ||
		      (ss.ss_family == AF_INET6 && ((struct sockaddr_in6 *)&ss)->sin6_port));
	errno = saved;
	return bound;
}

/* A connect's si->bound as the kernel says, when a source rule matches
 * (the policy's one use of it) and the record says not bound. */
static void ask_bound_for_source(const struct lr_loaded *l, int fd, const struct lr_call *c,
				 struct lr_sockinfo *si)
{
	const struct lr_entry *r;
	if (c->op != LR_OP_BIND && !si->bound && (r = lr_table_match(l->table, c)) &&
	    lr_table_action(l->table, r)->has_source)
		si->bound = bound_already(fd);
}

bool lr_act_changes(struct lr_loaded *l, int fd, const struct lr_call *c,
		    const struct lr_sockinfo *known)
{
	struct lr_sockinfo sock = *known;
	ask_bound_for_source(l, fd, c, &sock);
	struct lr_decision d;
	lr_decide(l->table, c, &sock, &d);
	if (d.dry_run)
		return false;
	/* A retry changes only a bind that meets EADDRINUSE, which cannot be
	 * known before: whoever makes it must be ready to make it again. */
	return d.deny || d.rewrite || d.source || d.inject || d.keep || d.retry_ms;
}

/* The source bind's event: the call's, about the rule's source address. */
static void source_event(struct act *a, struct lr_event *sev)
{
	*sev = *act_event(a);
	sev->op = "bind";
	sev->has_addr = true;
	sev->addr = a->d.src_addr;
	sev->port = a->d.src_port;
	sev->has_effective = false;
}

/* The source bind failed: said as a conflict, with its holders and the
 * reason, and what it came before. errno is kept. */
static void source_failed(struct act *a, struct lr_event *sev, const char *before, int ret)
{
	int e = errno;
	char msg[64];
	struct lr_buf b = LR_BUF(msg);
	lr_buf_str(&b, "source bind ");
	lr_buf_str(&b, before);
	sev->message = msg;
	say_outcome(a, sev, ret, e);
	errno = e;
}

/* The source bind a decision asks for, before the call (a connect, or a
 * socket's first datagram) that would otherwise bind it where the kernel
 * picks: the options, then the bind, retried as the rule says. 0 when done
 * (or only said, in a dry run); -1 with errno when the address is not to be
 * had, and said as a conflict with its holders and the reason. */
static int source_bind(struct act *a, const char *before)
{
	struct sockaddr_storage src;
	socklen_t src_len = lr_sockaddr_build(&src, a->si.family, NULL, 0, &a->d.src_addr,
					      a->d.src_port);
	struct lr_event sev;
	source_event(a, &sev);
	tally(a, LR_TALLY_SOURCE);
	log_action(a, &sev, "source", before);
	if (a->d.dry_run)
		return 0;
	if (a->d.inject)
		sev.injected |= set_options(a);
	int ret = bind_retrying(a, &sev, (const struct sockaddr *)&src, src_len);
	if (ret < 0) {
		source_failed(a, &sev, before, ret);
		return ret;
	}
	a->who->ops->mark(a->who, a->fd, 0, LR_SOCK_BOUND);
	a->ev.injected = sev.injected;
	return 0;
}

int lr_act_connect(struct lr_loaded *l, const struct lr_caller *who, int fd,
		   const struct sockaddr *addr, socklen_t len, const struct lr_call *c,
		   const struct lr_sockinfo *known)
{
	struct act a;
	int ret;
	act_start(&a, l, who, fd, c, known);
	ask_bound_for_source(l, fd, c, &a.si);
	act_decide(&a);
	if (settled_before_the_call(&a, addr, len, &ret))
		return ret;
	if (a.d.source && source_bind(&a, "before connect") != 0)
		/* The connect does not happen: the rule said where it must come
		 * from, and that address is not to be had. */
		return -1;
	ret = who->ops->connect(fd, a.use, a.use_len);
	int e = errno;
	say_call_outcome(&a, ret, e);
	errno = e;
	return ret;
}

int lr_act_send(struct lr_loaded *l, const struct lr_caller *who, int fd, const struct lr_call *c,
		const struct lr_sockinfo *si, bool *said)
{
	*said = false;
	/* Bound already (by a bind the record did not see): not a first send
	 * the kernel binds; recorded, so the socket's next datagrams go
	 * straight on. */
	if (si->bound || bound_already(fd)) {
		who->ops->mark(who, fd, 0, LR_SOCK_BOUND);
		return 0;
	}
	struct act a;
	act_start(&a, l, who, fd, c, si);
	act_decide(&a);
	*said = a.d.level >= (int)LR_LOG_ALL;
	if (!a.d.rule)
		return 0;
	a.use = NULL;
	a.use_len = 0;
	if (denied(&a)) {
		errno = a.d.deny;
		*said = false; /* the datagram does not go: the deny was the line */
		return -1;
	}
	if (a.d.source && source_bind(&a, "before send") != 0) {
		/* Another thread's first datagram on the same socket bound it
		 * meanwhile (to the rule's source, or the kernel's port): the
		 * kernel would have sent this one from there too. */
		if (errno == EINVAL && bound_already(fd))
			return 0;
		*said = false;
		return -1;
	}
	return 0;
}

void lr_act_sent(struct lr_loaded *l, const struct lr_caller *who, int fd, const struct lr_call *c,
		 const struct lr_sockinfo *si, bool known, int ret, int e)
{
	struct act a;
	act_start(&a, l, who, fd, c, si);
	act_decide(&a);
	struct lr_event *ev = act_event(&a);
	if (known) {
		say_outcome(&a, ev, ret, e);
	} else {
		/* Under the supervisor the program sends the datagram itself:
		 * what is said is that it went to the kernel, not how it fared. */
		ev->kind = LR_EV_ACTION;
		ev->action = "passed";
		ev->message = "(the socket's first datagram, sent by the program itself)";
		emit(l, a.d.level, LR_LOG_ALL, ev);
	}
	errno = e;
}

void lr_act_sent_to(struct lr_loaded *l, const struct lr_caller *who, int fd,
		    const struct lr_call *c, const struct lr_sockinfo *si, int ret, int e)
{
	struct act a;
	act_start(&a, l, who, fd, c, si);
	/* No rule decides a later datagram: none is named, and the file's
	 * level says whether it is told. */
	memset(&a.d, 0, sizeof(a.d));
	a.d.level = (int)l->table->log.level;
	if (outcome_wanted(a.d.level, ret, e)) {
		struct lr_event *ev = act_event(&a);
		ev->message = "a new destination of the socket";
		say_outcome(&a, ev, ret, e);
	}
	errno = e;
}

/* ---- Calls on a socket: setsockopt, listen, shutdown ---- */

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

/* ---- Lines of their own: io_uring, undecoded calls, the summary ---- */

/* A line about the caller alone, no socket, at the file's level. */
static void plain_action(struct lr_loaded *l, const struct lr_caller *who, enum lr_level at,
			 const char *op, const char *action, const char *message)
{
	struct lr_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.kind = LR_EV_ACTION;
	ev.program = who->program;
	ev.pid = who->pid;
	ev.op = op;
	ev.action = action;
	ev.message = message;
	emit(l, (int)l->table->log.level, at, &ev);
}

bool lr_act_io_uring(struct lr_loaded *l, const struct lr_caller *who, bool first)
{
	if (l->table->io_uring_refuse) {
		plain_action(l, who, LR_LOG_ACTIONS, "io_uring_setup", "refused",
			     "with ENOSYS (io_uring = \"refuse\"): the program is left the socket calls "
			     "libreuse sees");
		return true;
	}
	if (first)
		plain_action(l, who, LR_LOG_ACTIONS, "io_uring_setup", "passed",
			     "(said once per process): socket operations submitted through the ring "
			     "(connect; bind and listen since Linux 6.11) are not seen, and no rule applies "
			     "to them; io_uring = \"refuse\" (run --no-io-uring) makes the program fall "
			     "back to plain calls");
	return false;
}

void lr_act_undecoded(struct lr_loaded *l, const struct lr_caller *who, const char *what)
{
	char msg[256];
	struct lr_buf b = LR_BUF(msg);
	lr_buf_str(&b, "with ENOSYS: ");
	lr_buf_str(&b, what);
	lr_buf_str(&b, ", which libreuse cannot decode, and does not let pass unseen");
	plain_action(l, who, LR_LOG_ERRORS, "syscall", "refused", msg);
}

/* The counts so far, and the lines the sink dropped; false when there is
 * nothing to tell. */
static bool gather_summary(const struct lr_loaded *l, struct lr_summary *sum)
{
	bool any = false;
	for (int k = 0; k < LR_TALLY_KINDS; k++) {
		sum->counts[k] = atomic_load_explicit(&lr_tally[k], memory_order_relaxed);
		any = any || sum->counts[k];
	}
	sum->dropped = atomic_load_explicit(&l->sink.dropped, memory_order_relaxed);
	return any || sum->dropped;
}

static void summary(struct lr_loaded *l, const struct lr_caller *who, bool failures_only)
{
	struct lr_summary sum;
	sum.failures_only = failures_only;
	/* A program libreuse neither acted on nor saw fail gets no line: under
	 * a system-wide install that is almost every program. */
	if (!gather_summary(l, &sum))
		return;
	struct lr_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.kind = LR_EV_SUMMARY;
	ev.program = who->program;
	ev.pid = who->pid;
	ev.summary = &sum;
	lr_log_event(&l->sink, &ev);
	if (sum.dropped && l->sink.kind != LR_TARGET_STDERR) {
		/* A full disk or a stalled syslog lost lines: say so where a
		 * person will see it, since the sink itself may not take it. */
		struct lr_sink err;
		lr_sink_stderr(&err);
		err.format = l->sink.format;
		lr_log_event(&err, &ev);
	}
}

void lr_act_summary(struct lr_loaded *l, const struct lr_caller *who)
{
	if (l->table->max_level >= LR_LOG_ACTIONS)
		summary(l, who, false);
	else if (atomic_load_explicit(&lr_tally[LR_TALLY_SUPPRESSED], memory_order_relaxed) ||
		 atomic_load_explicit(&l->sink.dropped, memory_order_relaxed))
		/* Lines the rate limit held back are said at exit, whatever the
		 * level: a flood that ended within the window is otherwise never
		 * counted anywhere. */
		summary(l, who, true);
}

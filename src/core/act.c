/* bind: its steps, which connect and send share too (pass, problem, deny,
 * rewrite; inject and retry with backoff), and the entry points that are
 * bind's own. What the steps say is act_say.c's; keep, act_keep.c's; a
 * source bound before connect or send, act_source.c's. */
#include "act.h"
#include "actstep.h"

#include "errname.h"

#include <errno.h>
#include <time.h>

/* Longest single wait between bind retries: short enough to take a port
 * within a quarter second of its holder letting go. */
#define LR_RETRY_MAX_STEP_MS 250

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
bool denied(struct act *a)
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
bool settled_before_the_call(struct act *a, const struct sockaddr *addr, socklen_t len,
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
unsigned set_options(const struct act *a)
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
int bind_retrying(struct act *a, const struct lr_event *ev, const struct sockaddr *sa,
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

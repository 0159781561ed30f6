/* Saying what a call did: its event, built once; the log rate limit
 * every line passes; the action and outcome lines, a conflict's with its
 * holders and the reason. Apart from the steps so that what is said, and
 * how often, has one room: the steps only ask for a line. */
#include "actstep.h"

#include "conflict.h"
#include "pages.h"
#include "ratelimit.h"
#include "tally.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* The log rate limit of this address space, shared by every thread (see
 * ratelimit.h); it outlives reloads, so a new rule file does not reset a
 * flood. Under the supervisor it serves every program at once: a line's key
 * holds its process (admit), so one program's flood holds back its own
 * lines, not another's. */
LR_ZERO_PAGES static struct lr_ratelimit rate;

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

void emit(struct lr_loaded *l, int level, enum lr_level at, struct lr_event *ev)
{
	if ((int)at <= level && admit(ev)) {
		ev->said_at = (uint8_t)at;
		lr_log_event(&l->sink, ev);
	}
}

/* The event of a bind, connect or send: built once, at the first line
 * that needs it. */
struct lr_event *act_event(struct act *a)
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
void sock_event(struct lr_event *ev, const struct act *a, enum lr_event_kind kind,
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

/* An action's line, about base or (NULL) the call's own event. The event
 * is built and copied only when the line will be written: an injecting
 * bind at the default level pays a compare. */
void log_action(struct act *a, const struct lr_event *base, const char *action,
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
void say_outcome(struct act *a, struct lr_event *ev, int ret, int e)
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

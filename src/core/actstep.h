/* What act*.c share, and nothing else includes: the one call being
 * carried out (struct act), its start, and the steps and lines one file
 * calls in another. Its own to the act*.c files of src/core; the front ends
 * reach them only through act.h, so this may change with them. The small
 * helpers every path takes are inline here, as they were within one file:
 * the injecting bind pays no call for a compare. */
#ifndef LIBREUSE_ACTSTEP_H
#define LIBREUSE_ACTSTEP_H

#include "act.h"
#include "tally.h"

/* Whether a line said once a process is due for who's: the front end
 * keeps what its processes were told (a process here is the one the call
 * came from: the library's own, or one of the supervisor's many). Without
 * a front end's record, every time. */
static inline bool first_for(const struct lr_caller *who, unsigned said)
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

static inline const char *op_name(uint8_t op)
{
	return op == LR_OP_BIND ? "bind" : op == LR_OP_SEND ? "send" : "connect";
}

/* The facts of a bind, connect or send; the decision comes after, once
 * the facts are complete (act_decide). */
static inline void act_start(struct act *a, struct lr_loaded *l, const struct lr_caller *who,
			     int fd, const struct lr_call *c, const struct lr_sockinfo *si)
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

static inline void act_decide(struct act *a)
{
	lr_decide(a->l->table, a->c, &a->si, &a->d);
}

/* ---- Saying it (act_say.c) ---- */

void emit(struct lr_loaded *l, int level, enum lr_level at, struct lr_event *ev);

struct lr_event *act_event(struct act *a);

void sock_event(struct lr_event *ev, const struct act *a, enum lr_event_kind kind,
		const char *op);

/* Counts an action for the exit summary: what was done, or in a dry run
 * what would have been. Only when the rules in force print a summary: the
 * counters are shared by every thread, and at the default level nobody
 * reads them. */
static inline void tally(const struct act *a, enum lr_tally_kind k)
{
	if (a->l->table->max_level >= LR_LOG_ACTIONS)
		lr_tally_add(a->d.dry_run ? LR_TALLY_WOULD : k);
}

void log_action(struct act *a, const struct lr_event *base, const char *action,
		const char *message);

/* The outcome of the call the program made is a conflict when the kernel
 * refused the address, a plain call otherwise. */
static inline enum lr_event_kind outcome_kind(int ret, int e)
{
	return ret < 0 && lr_is_conflict(e) ? LR_EV_CONFLICT : LR_EV_CALL;
}

static inline enum lr_level outcome_level(int ret, int e)
{
	return outcome_kind(ret, e) == LR_EV_CONFLICT ? LR_LOG_CONFLICTS : LR_LOG_ALL;
}

/* Whether say_outcome has anything to do: a line at this level, or a
 * conflict to count. */
static inline bool outcome_wanted(int level, int ret, int e)
{
	return level >= (int)outcome_level(ret, e) || outcome_kind(ret, e) == LR_EV_CONFLICT;
}

void say_outcome(struct act *a, struct lr_event *ev, int ret, int e);

/* The call's own outcome, if a line or a count is due; its event is built
 * only then. */
static inline void say_call_outcome(struct act *a, int ret, int e)
{
	if (outcome_wanted(a->d.level, ret, e))
		say_outcome(a, act_event(a), ret, e);
}

/* ---- The steps of bind, connect and send (act.c) ---- */

bool denied(struct act *a);

bool settled_before_the_call(struct act *a, const struct sockaddr *addr, socklen_t len,
			     int *ret);

unsigned set_options(const struct act *a);

int bind_retrying(struct act *a, const struct lr_event *ev, const struct sockaddr *sa,
		  socklen_t len);

/* ---- Keep (act_keep.c) ---- */

void keep_offer(struct act *a);

bool adopt_kept(struct act *a);

#endif

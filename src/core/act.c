#include "act.h"

#include "conflict.h"
#include "errname.h"
#include "fmt.h"
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
static struct lr_ratelimit rate;

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

static void event_base(struct lr_event *ev, const struct lr_caller *who, const char *op,
		       const struct lr_call *c, const struct lr_decision *d, const struct lr_sockinfo *si)
{
	memset(ev, 0, sizeof(*ev));
	ev->program = who->program;
	ev->pid = who->pid;
	ev->op = op;
	ev->proto = c->proto;
	ev->has_addr = true;
	ev->addr = c->addr;
	ev->port = c->port;
	ev->rule = d->rule ? d->rule->index + 1 : 0;
	ev->dry_run = d->dry_run;
	ev->set_by_program = si->prog_on;
	ev->injected = si->injected;
}

/* Counts an action for the exit summary: what was done, or in a dry run
 * what would have been. Only when the rules in force print a summary: the
 * counters are shared by every thread, and at the default level nobody
 * reads them. */
static void tally(const struct lr_loaded *l, const struct lr_decision *d, enum lr_tally_kind k)
{
	if (l->table->max_level >= LR_LOG_ACTIONS)
		lr_tally_add(d->dry_run ? LR_TALLY_WOULD : k);
}

/* An action's line. The event is copied only when the line will be
 * written: an injecting bind at the default level pays a compare. */
static void log_action(struct lr_loaded *l, const struct lr_decision *d,
		       const struct lr_event *base, const char *action, const char *message)
{
	if (d->level < (int)LR_LOG_ACTIONS)
		return;
	struct lr_event ev = *base;
	ev.kind = LR_EV_ACTION;
	ev.action = action;
	ev.message = message;
	emit(l, d->level, LR_LOG_ACTIONS, &ev);
}

static const char *option_names(unsigned bits)
{
	static const char *const names[] = { "", "SO_REUSEADDR", "SO_REUSEPORT",
					      "SO_REUSEADDR SO_REUSEPORT" };
	return names[bits & 3];
}

/* Sets the options; returns the ones the kernel accepted. */
static unsigned inject(const struct lr_caller *who, int fd, unsigned bits, bool force)
{
	static const int names[] = { SO_REUSEADDR, SO_REUSEPORT };
	unsigned done = 0;
	int saved = errno, one = 1;
	for (unsigned i = 0; i < 2; i++)
		if ((bits & (1u << i)) &&
		    who->ops->setsockopt(fd, SOL_SOCKET, names[i], &one, sizeof(one)) == 0)
			done |= 1u << i;
	who->ops->mark(who, fd, 0,
		       (uint16_t)(done << LR_SOCK_INJECTED_SHIFT | (force && done ? LR_SOCK_FORCED : 0)));
	errno = saved;
	return done;
}

static long long elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - since->tv_sec) * 1000 +
	       (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* bind, and while it meets EADDRINUSE, again with exponential backoff until
 * retry_ms have passed; then fails exactly as it would have. */
static int bind_retrying(struct lr_loaded *l, const struct lr_caller *who,
			 const struct lr_decision *d, const struct lr_event *ev, int fd,
			 const struct sockaddr *sa, socklen_t len)
{
	int ret = who->ops->bind(fd, sa, len);
	if (ret == 0 || errno != EADDRINUSE || d->retry_ms == 0)
		return ret;
	tally(l, d, LR_TALLY_RETRY);
	log_action(l, d, ev, "retry", d->dry_run ? "the bind that met EADDRINUSE" :
					      "the bind that met EADDRINUSE, with backoff");
	if (d->dry_run)
		return ret;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	long long step = 1;
	for (;;) {
		long long left = (long long)d->retry_ms - elapsed_ms(&start);
		if (left <= 0)
			break;
		long long wait = step < left ? step : left;
		struct timespec ts = { .tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000 };
		nanosleep(&ts, NULL);
		ret = who->ops->bind(fd, sa, len);
		if (ret == 0 || errno != EADDRINUSE)
			break;
		step = step * 2 < LR_RETRY_MAX_STEP_MS ? step * 2 : LR_RETRY_MAX_STEP_MS;
	}
	int e = errno;
	log_action(l, d, ev, "retry", ret == 0 ? "succeeded: the port was let go" :
						 "gave up: the port is still held");
	errno = e;
	return ret;
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

/* Whether log_outcome has anything to do: a line at this level, or a
 * conflict to count. */
static bool outcome_wanted(int level, int ret, int e)
{
	return level >= (int)outcome_level(ret, e) || outcome_kind(ret, e) == LR_EV_CONFLICT;
}

/* The call's outcome. A conflict also names the port's holders and the
 * reason — looked up only for a line that will be written. */
static void log_outcome(struct lr_loaded *l, const struct lr_caller *who, int level,
			struct lr_event *ev, int fd, int ret, int e)
{
	ev->result = ret;
	ev->err = e;
	ev->kind = outcome_kind(ret, e);
	if (ev->kind == LR_EV_CONFLICT) /* a failed call: rare, always counted */
		lr_tally_add(LR_TALLY_CONFLICT);
	if (level < (int)outcome_level(ret, e) || !admit(ev))
		return;
	struct lr_conflict info;
	if (ev->kind == LR_EV_CONFLICT) {
		bool eff = ev->has_effective;
		lr_conflict_gather(fd, strcmp(ev->op, "bind") == 0 ? LR_OP_BIND : LR_OP_CONNECT,
				   ev->proto, eff ? &ev->eff_addr : &ev->addr,
				   (uint16_t)(eff ? ev->eff_port : ev->port), e, who->euid, &info);
		ev->holders = info.has_holders ? &info.holders : NULL;
		ev->reason = info.reason;
	}
	lr_log_event(&l->sink, ev);
}

/* The shared first steps of bind and connect: a problem to report, a deny,
 * a rewrite. Returns 1 when the call is settled (denied) with *ret set. */
static int prepare(struct lr_loaded *l, const struct lr_decision *d, struct lr_event *ev,
		   int family, const struct sockaddr *addr, socklen_t len,
		   struct sockaddr_storage *ss, const struct sockaddr **use, socklen_t *use_len,
		   int *ret)
{
	*use = addr;
	*use_len = len;
	if (d->problem) {
		struct lr_event p = *ev;
		p.kind = LR_EV_ACTION;
		p.action = "skip";
		p.message = d->problem;
		emit(l, d->level, LR_LOG_ERRORS, &p);
	}
	if (d->deny) {
		tally(l, d, LR_TALLY_DENY);
		log_action(l, d, ev, "deny", lr_errno_name(d->deny));
		if (!d->dry_run) {
			*ret = -1;
			return 1;
		}
	}
	if (d->rewrite) {
		struct lr_event r = *ev;
		r.has_effective = true;
		r.eff_addr = d->addr;
		r.eff_port = d->port;
		tally(l, d, LR_TALLY_REWRITE);
		log_action(l, d, &r, "rewrite", NULL);
		if (!d->dry_run) {
			socklen_t n = lr_sockaddr_build(ss, family, addr, len, &d->addr, d->port);
			if (n) {
				*use = (const struct sockaddr *)ss;
				*use_len = n;
				*ev = r;
			}
		}
	}
	return 0;
}

/* A call no rule matched, done: its line, if one is due (a conflict). */
static void unruled_outcome(struct lr_loaded *l, const struct lr_caller *who,
			    const struct lr_decision *d, const char *op, int fd,
			    const struct lr_call *c, const struct lr_sockinfo *si, int ret, int e)
{
	if (outcome_wanted(d->level, ret, e)) {
		struct lr_event ev;
		event_base(&ev, who, op, c, d, si);
		log_outcome(l, who, d->level, &ev, fd, ret, e);
	}
}

/* No rule for this call: the real call, and an event only if it will be
 * logged — the common case costs a lookup and nothing more. */
static int pass(struct lr_loaded *l, const struct lr_caller *who, const struct lr_decision *d,
		const char *op, int fd, const struct sockaddr *addr, socklen_t len,
		const struct lr_call *c, const struct lr_sockinfo *si)
{
	int ret = c->op == LR_OP_BIND ? who->ops->bind(fd, addr, len) : who->ops->connect(fd, addr, len);
	int e = errno;
	if (ret == 0 && c->op == LR_OP_BIND)
		who->ops->mark(who, fd, 0, LR_SOCK_BOUND);
	unruled_outcome(l, who, d, op, fd, c, si, ret, e);
	errno = e;
	return ret;
}

void lr_act_unruled(struct lr_loaded *l, const struct lr_caller *who, int fd,
		    const struct lr_call *c, const struct lr_sockinfo *si, int ret, int e)
{
	struct lr_decision d;
	lr_decide(l->table, c, si, &d);
	unruled_outcome(l, who, &d, c->op == LR_OP_BIND ? "bind" : "connect", fd, c, si, ret, e);
	errno = e;
}

/* The first steps of bind and connect: decide; pass an unmatched call
 * straight through; report a problem, deny, rewrite. Returns 1 when the call
 * is settled, with *ret (and errno) as the program must see them. */
static int begin(struct lr_loaded *l, const struct lr_caller *who, struct lr_decision *d,
		 struct lr_event *ev, const char *op, int fd, const struct sockaddr *addr,
		 socklen_t len, const struct lr_call *c, const struct lr_sockinfo *si,
		 struct sockaddr_storage *ss, const struct sockaddr **use, socklen_t *use_len,
		 int *ret)
{
	lr_decide(l->table, c, si, d);
	if (!d->rule && !d->keep) {
		*ret = pass(l, who, d, op, fd, addr, len, c, si);
		return 1;
	}
	/* The event is built now only when a line may need it before the
	 * outcome (an action, a problem, a deny, a rewrite, a source bind);
	 * else at the outcome, if that is logged: an injecting bind at the
	 * default level never builds one. */
	ev->op = NULL;
	if (d->level >= (int)LR_LOG_ACTIONS || d->problem || d->deny || d->rewrite || d->source ||
	    d->keep)
		event_base(ev, who, op, c, d, si);
	if (prepare(l, d, ev, si->family, addr, len, ss, use, use_len, ret)) {
		errno = d->deny;
		return 1;
	}
	return 0;
}

/* Whether a line said once a process is due for who's: the front end
 * keeps what its processes were told (a process here is the one the call
 * came from: the library's own, or one of the supervisor's many). Without
 * a front end's record, every time. */
static bool first_for(const struct lr_caller *who, unsigned said)
{
	return !who->ops || !who->ops->first || who->ops->first(who, said);
}

/* Why a keep did not happen, at level errors: a keeper that refused or is
 * gone, a kept socket that cannot be taken, or no keeper at all (once). */
static void keep_missed(struct lr_loaded *l, const struct lr_caller *who, int level,
			const struct lr_event *base, const struct lr_keep_outcome *o)
{
	const char *why = o->why[0] ? o->why : NULL;
	if (!why && o->no_keeper && first_for(who, LR_SAID_NO_KEEPER))
		why = "not possible: no keeper (libreuse run --keep) and no socket from systemd; "
		      "sockets are not kept, binds go on as without keep";
	if (!why)
		return;
	struct lr_event ev = *base;
	ev.kind = LR_EV_ACTION;
	ev.action = "keep";
	ev.message = why;
	emit(l, level, LR_LOG_ERRORS, &ev);
}

static void keep_done(struct lr_loaded *l, const struct lr_decision *d, const struct lr_event *ev,
		      enum lr_tally_kind kind, const char *action, const char *prefix,
		      const struct lr_keep_outcome *o)
{
	tally(l, d, kind);
	if (d->level < (int)LR_LOG_ACTIONS)
		return;
	char msg[sizeof(o->from) + 16];
	struct lr_buf b = LR_BUF(msg);
	lr_buf_str(&b, prefix);
	lr_buf_str(&b, o->from);
	log_action(l, d, ev, action, msg);
}

/* Hands fd, bound (TCP: listening), to the keeper. */
static void keep_offer(struct lr_loaded *l, const struct lr_caller *who,
		       const struct lr_decision *d, const struct lr_event *ev, int fd)
{
	struct lr_keep_outcome o;
	if (who->ops->offer(who, fd, &o)) {
		who->ops->mark(who, fd, 0, LR_SOCK_KEPT);
		keep_done(l, d, ev, LR_TALLY_KEPT, "kept", "by ", &o);
	} else {
		keep_missed(l, who, d->level, ev, &o);
	}
}

/* A keep rule's bind: the kept socket for this address, if there is one,
 * takes the place of the program's. True when it did: the bind is done. */
static bool keep_adopt(struct lr_loaded *l, const struct lr_caller *who,
		       const struct lr_decision *d, const struct lr_event *ev, int fd,
		       const struct sockaddr *use, socklen_t use_len, uint8_t proto, int family)
{
	struct lr_keep_sock want;
	memset(&want, 0, sizeof(want));
	want.proto = proto;
	want.family = (uint8_t)family;
	if (lr_sockaddr_read(use, use_len, &want.addr, &want.port) != 0)
		return false;
	if (family == AF_INET6) {
		int v6only = 0, saved = errno;
		socklen_t len = sizeof(v6only);
		getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len);
		/* Linux makes a socket bound to one IPv6 address (neither :: nor
		 * v4-mapped) IPv6-only at bind: the kept one already is, this one
		 * will be. Without this a dual-stack socket's restart on ::1 never
		 * found its kept listener. */
		static const uint8_t any[16];
		bool specific = !lr_addr_is_v4mapped(&want.addr) &&
				memcmp(want.addr.bytes, any, sizeof(any)) != 0;
		want.v6only = v6only != 0 || specific;
		errno = saved;
	}
	if (d->dry_run) {
		tally(l, d, LR_TALLY_ADOPTED);
		log_action(l, d, ev, "adopt", "a kept socket for this address, if one is held");
		return false;
	}
	struct lr_keep_outcome o;
	if (!who->ops->adopt(who, fd, &want, d->keep_name, &o)) {
		keep_missed(l, who, d->level, ev, &o);
		return false;
	}
	who->ops->mark(who, fd, 0, LR_SOCK_BOUND | LR_SOCK_KEPT);
	keep_done(l, d, ev, LR_TALLY_ADOPTED, "adopt", "from ", &o);
	return true;
}

int lr_act_bind(struct lr_loaded *l, const struct lr_caller *who, int fd,
		const struct sockaddr *addr, socklen_t len, const struct lr_call *c,
		const struct lr_sockinfo *si)
{
	struct lr_decision d;
	struct lr_event ev;
	struct sockaddr_storage ss;
	const struct sockaddr *use;
	socklen_t use_len;
	int ret;
	if (begin(l, who, &d, &ev, "bind", fd, addr, len, c, si, &ss, &use, &use_len, &ret))
		return ret;
	if (d.keep && keep_adopt(l, who, &d, &ev, fd, use, use_len, c->proto, si->family))
		return 0;
	unsigned injected = 0;
	if (d.inject) {
		tally(l, &d, LR_TALLY_INJECT);
		log_action(l, &d, &ev, "inject", option_names(d.inject));
		if (!d.dry_run)
			injected = inject(who, fd, d.inject, d.force);
	}
	ret = bind_retrying(l, who, &d, &ev, fd, use, use_len);
	int e = errno;
	/* A kept listener goes to the keeper once it listens (so a next
	 * instance gets a socket that queues connections); a UDP socket now. */
	bool keep = ret == 0 && d.keep && !d.dry_run;
	if (ret == 0)
		who->ops->mark(who, fd, 0,
			       LR_SOCK_BOUND | (keep && c->proto == LR_PROTO_TCP ? LR_SOCK_KEEP : 0));
	if (keep && c->proto == LR_PROTO_UDP) {
		keep_offer(l, who, &d, &ev, fd);
		errno = e;
	}
	if (outcome_wanted(d.level, ret, e)) {
		if (!ev.op)
			event_base(&ev, who, "bind", c, &d, si);
		ev.injected |= injected;
		log_outcome(l, who, d.level, &ev, fd, ret, e);
	}
	errno = e;
	return ret;
}

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

bool lr_act_changes(struct lr_loaded *l, int fd, const struct lr_call *c,
		    const struct lr_sockinfo *known)
{
	struct lr_sockinfo sock = *known;
	const struct lr_entry *r;
	if (c->op != LR_OP_BIND && !sock.bound && (r = lr_table_match(l->table, c)) &&
	    lr_table_action(l->table, r)->has_source)
		sock.bound = bound_already(fd);
	struct lr_decision d;
	lr_decide(l->table, c, &sock, &d);
	if (d.dry_run)
		return false;
	/* A retry changes only a bind that meets EADDRINUSE, which cannot be
	 * known before: whoever makes it must be ready to make it again. */
	return d.deny || d.rewrite || d.source || d.inject || d.keep || d.retry_ms;
}

/* The source bind a decision asks for, before the call (a connect, or a
 * socket's first datagram) that would otherwise bind it where the kernel
 * picks: the options, then the bind, retried as the rule says. 0 when done
 * (or only said, in a dry run); -1 with errno when the address is not to be
 * had, and said as a conflict with its holders and the reason. */
static int source_bind(struct lr_loaded *l, const struct lr_caller *who, struct lr_decision *d,
		       struct lr_event *ev, int fd, int family, const char *before)
{
	struct sockaddr_storage src;
	socklen_t src_len = lr_sockaddr_build(&src, family, NULL, 0, &d->src_addr, d->src_port);
	struct lr_event sev = *ev;
	sev.op = "bind";
	sev.has_addr = true;
	sev.addr = d->src_addr;
	sev.port = d->src_port;
	sev.has_effective = false;
	tally(l, d, LR_TALLY_SOURCE);
	log_action(l, d, &sev, "source", before);
	if (d->dry_run)
		return 0;
	if (d->inject)
		sev.injected |= inject(who, fd, d->inject, d->force);
	int ret = bind_retrying(l, who, d, &sev, fd, (const struct sockaddr *)&src, src_len);
	if (ret < 0) {
		int e = errno;
		char msg[64];
		struct lr_buf b = LR_BUF(msg);
		lr_buf_str(&b, "source bind ");
		lr_buf_str(&b, before);
		sev.message = msg;
		log_outcome(l, who, d->level, &sev, fd, ret, e);
		errno = e;
		return ret;
	}
	who->ops->mark(who, fd, 0, LR_SOCK_BOUND);
	ev->injected = sev.injected;
	return 0;
}

int lr_act_connect(struct lr_loaded *l, const struct lr_caller *who, int fd,
		   const struct sockaddr *addr, socklen_t len, const struct lr_call *c,
		   const struct lr_sockinfo *known)
{
	struct lr_sockinfo sock = *known;
	const struct lr_sockinfo *si = &sock;
	/* Only a source rule asks (the policy's one use of it). */
	const struct lr_entry *r;
	if (!sock.bound && (r = lr_table_match(l->table, c)) && lr_table_action(l->table, r)->has_source)
		sock.bound = bound_already(fd);
	struct lr_decision d;
	struct lr_event ev;
	struct sockaddr_storage ss;
	const struct sockaddr *use;
	socklen_t use_len;
	int ret;
	if (begin(l, who, &d, &ev, "connect", fd, addr, len, c, si, &ss, &use, &use_len, &ret))
		return ret;
	if (d.source && source_bind(l, who, &d, &ev, fd, si->family, "before connect") != 0)
		/* The connect does not happen: the rule said where it must come
		 * from, and that address is not to be had. */
		return -1;
	ret = who->ops->connect(fd, use, use_len);
	int e = errno;
	if (outcome_wanted(d.level, ret, e)) {
		if (!ev.op)
			event_base(&ev, who, "connect", c, &d, si);
		log_outcome(l, who, d.level, &ev, fd, ret, e);
	}
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
	struct lr_decision d;
	struct lr_event ev;
	lr_decide(l->table, c, si, &d);
	*said = d.level >= (int)LR_LOG_ALL;
	if (!d.rule)
		return 0;
	event_base(&ev, who, "send", c, &d, si);
	struct sockaddr_storage ss;
	const struct sockaddr *use;
	socklen_t use_len;
	int ret;
	if (prepare(l, &d, &ev, si->family, NULL, 0, &ss, &use, &use_len, &ret)) {
		errno = d.deny;
		*said = false; /* the datagram does not go: the deny was the line */
		return -1;
	}
	if (d.source && source_bind(l, who, &d, &ev, fd, si->family, "before send") != 0) {
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
	struct lr_decision d;
	struct lr_event ev;
	lr_decide(l->table, c, si, &d);
	event_base(&ev, who, "send", c, &d, si);
	if (known) {
		log_outcome(l, who, d.level, &ev, fd, ret, e);
	} else {
		/* Under the supervisor the program sends the datagram itself:
		 * what is said is that it went to the kernel, not how it fared. */
		ev.kind = LR_EV_ACTION;
		ev.action = "passed";
		ev.message = "(the socket's first datagram, sent by the program itself)";
		emit(l, d.level, LR_LOG_ALL, &ev);
	}
	errno = e;
}

/* An event for a call on a socket that carries no address of its own
 * (listen, setsockopt, shutdown): the address is the one it is bound to. */
static void sock_event(struct lr_event *ev, const struct lr_caller *who, enum lr_event_kind kind,
		       const char *op, int fd, uint8_t proto, const struct lr_sockinfo *si)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->program = who->program;
	ev->pid = who->pid;
	ev->op = op;
	ev->proto = proto;
	ev->set_by_program = si->prog_on;
	ev->injected = si->injected;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	uint16_t port;
	int saved = errno;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    lr_sockaddr_read((struct sockaddr *)&ss, len, &ev->addr, &port) == 0) {
		ev->has_addr = true;
		ev->port = port;
	}
	errno = saved;
}

static bool logs_calls(const struct lr_loaded *l)
{
	return l->table->log.level >= LR_LOG_ALL;
}

/* A call that no rule acts on (listen, setsockopt), at level "all". */
static void log_call(struct lr_loaded *l, const struct lr_caller *who, const char *op, int fd,
		     uint8_t proto, int result, int err, const struct lr_sockinfo *si,
		     const char *message)
{
	if (!logs_calls(l))
		return;
	struct lr_event ev;
	sock_event(&ev, who, LR_EV_CALL, op, fd, proto, si);
	ev.result = result;
	ev.err = err;
	ev.message = message;
	lr_log_event(&l->sink, &ev);
}

/* No rule decides at listen or shutdown: their keep lines follow the file's
 * level. */
static void file_decision(const struct lr_loaded *l, struct lr_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->level = (int)l->table->log.level;
}

int lr_act_reuse_option(struct lr_loaded *l, const struct lr_caller *who, int fd, uint16_t st,
			int name, const void *val, socklen_t len)
{
	unsigned bit = name == SO_REUSEADDR ? LR_OPT_REUSEADDR : LR_OPT_REUSEPORT;
	int on;
	memcpy(&on, val, sizeof(on));
	bool forced_off = lr_sock_reuse_forced(st, name, on);
	int ret, e;
	if (forced_off) {
		/* A `force` rule injected this option: the program's attempt to
		 * turn it off is ignored (and said so), and it sees success. */
		ret = 0;
		e = errno;
	} else {
		ret = who->ops->setsockopt(fd, SOL_SOCKET, name, val, len);
		e = errno;
		if (ret == 0) {
			uint16_t clear, set;
			lr_sock_reuse_bits(name, on, &clear, &set);
			who->ops->mark(who, fd, clear, set);
		}
	}
	if (l && logs_calls(l)) {
		/* [option][0: set to 0, 1: set to 1, 2: forced off ignored] */
		static const char *const what[2][3] = {
			{ "SO_REUSEADDR=0", "SO_REUSEADDR=1", "SO_REUSEADDR=0 ignored: forced by rule" },
			{ "SO_REUSEPORT=0", "SO_REUSEPORT=1", "SO_REUSEPORT=0 ignored: forced by rule" },
		};
		struct lr_sockinfo si;
		uint8_t proto;
		lr_sockinfo_of(st, &si, &proto);
		log_call(l, who, "setsockopt", fd, proto, ret, forced_off ? 0 : e, &si,
				what[bit - 1][forced_off ? 2 : on != 0]);
	}
	errno = e;
	return ret;
}

/* A listener a keep rule bound, now listening: to the keeper. */
static void keep_listener(struct lr_loaded *l, const struct lr_caller *who, int fd, uint8_t proto,
			  const struct lr_sockinfo *si)
{
	struct lr_decision d;
	struct lr_event ev;
	file_decision(l, &d);
	sock_event(&ev, who, LR_EV_ACTION, "listen", fd, proto, si);
	keep_offer(l, who, &d, &ev, fd);
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
		struct lr_decision d;
		struct lr_event ev;
		struct lr_sockinfo si;
		uint8_t proto;
		lr_sockinfo_of(st, &si, &proto);
		file_decision(l, &d);
		sock_event(&ev, who, LR_EV_ACTION, "shutdown", fd, proto, &si);
		log_action(l, &d, &ev, "shutdown ignored",
			   "a kept socket: shutting it down would stop it for the next instance too");
	}
	return true;
}

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

/* listen's line at level "all", and once per process the verdict on what
 * the program never does. */
static void listen_lines(struct lr_loaded *l, const struct lr_caller *who, int fd, uint8_t proto,
			 int ret, int err, const struct lr_sockinfo *si)
{
	log_call(l, who, "listen", fd, proto, ret, err, si, NULL);
	if (ret != 0 || proto != LR_PROTO_TCP || !logs_calls(l) ||
	    !first_for(who, LR_SAID_VERDICT))
		return;
	/* Once per process, at its first listener: the options it sets itself
	 * decide whether it can restart at once and share its port. */
	char msg[512];
	struct lr_buf b = LR_BUF(msg);
	struct lr_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.kind = LR_EV_VERDICT;
	ev.program = who->program;
	ev.pid = who->pid;
	ev.op = "listen";
	ev.proto = proto;
	ev.set_by_program = si->prog_on;
	ev.injected = si->injected;
	if (si->prog_on & LR_OPT_REUSEADDR)
		lr_buf_str(&b, "sets SO_REUSEADDR itself: it can restart at once");
	else
		lr_buf_str(&b, "never sets SO_REUSEADDR: it cannot restart while TIME_WAIT lingers "
			       "(rule: reuseaddr = true)");
	if (si->prog_on & LR_OPT_REUSEPORT)
		lr_buf_str(&b, "; sets SO_REUSEPORT itself: instances can share its port");
	else
		lr_buf_str(&b, "; never sets SO_REUSEPORT: a second instance cannot share its port "
			       "(rule: reuseport = true)");
	if (si->injected)
		lr_buf_str(&b, "; under these rules libreuse injects what it lacks");
	ev.message = msg;
	lr_log_event(&l->sink, &ev);
}

static void summary(struct lr_loaded *l, const struct lr_caller *who, bool failures_only)
{
	struct lr_summary sum;
	sum.failures_only = failures_only;
	bool any = false;
	for (int k = 0; k < LR_TALLY_KINDS; k++) {
		sum.counts[k] = atomic_load_explicit(&lr_tally[k], memory_order_relaxed);
		any = any || sum.counts[k];
	}
	sum.dropped = atomic_load_explicit(&l->sink.dropped, memory_order_relaxed);
	/* A program libreuse neither acted on nor saw fail gets no line: under
	 * a system-wide install that is almost every program. */
	if (!any && !sum.dropped)
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

void lr_act_listened(struct lr_loaded *l, const struct lr_caller *who, int fd, uint16_t st, int ret,
		     int err)
{
	struct lr_sockinfo si;
	uint8_t proto;
	lr_sockinfo_of(st, &si, &proto);
	if (ret == 0 && (st & LR_SOCK_KEEP)) {
		who->ops->mark(who, fd, LR_SOCK_KEEP, 0);
		keep_listener(l, who, fd, proto, &si);
	}
	listen_lines(l, who, fd, proto, ret, err, &si);
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

/* What a record of LR_SOCK_* bits says of a socket. */
void lr_sockinfo_of(uint16_t st, struct lr_sockinfo *si, uint8_t *proto)
{
	si->family = (st & LR_SOCK_V6) ? AF_INET6 : AF_INET;
	si->prog_on = (st >> LR_SOCK_PROG_ON_SHIFT) & 3u;
	si->prog_off = (st >> LR_SOCK_PROG_OFF_SHIFT) & 3u;
	si->bound = (st & LR_SOCK_BOUND) != 0;
	si->injected = (st >> LR_SOCK_INJECTED_SHIFT) & 3u;
	*proto = (st & LR_SOCK_TCP) ? LR_PROTO_TCP : (st & LR_SOCK_UDP) ? LR_PROTO_UDP : 0;
}

bool lr_sock_ask(int fd, uint16_t *bits)
{
	int domain, type, protocol, saved = errno;
	socklen_t l1 = sizeof(int), l2 = sizeof(int), l3 = sizeof(int);
	bool ok = getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l1) == 0 &&
		  getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l2) == 0 &&
		  getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &l3) == 0 &&
		  (domain == AF_INET || domain == AF_INET6);
	errno = saved;
	if (ok)
		*bits = lr_sock_bits(domain, type, protocol);
	return ok;
}

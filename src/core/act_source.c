/* connect and send: a source rule's address bound first, with the bind's
 * steps (act.c); a socket's first datagram and the later ones; and whether
 * a rule would change a call at all (lr_act_changes, which asks the kernel
 * whether the socket is bound, as a source rule needs). */
#include "act.h"
#include "actstep.h"

#include "fmt.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

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

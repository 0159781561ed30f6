/* Keep, through the front end's adopt and offer: a keep rule's bind takes
 * the kept socket for its address, and a socket it bound goes to the
 * keeper (UDP at bind, TCP at listen). Apart because only keep rules come
 * here, and the keeper's side of it is src/keep's. */
#include "actstep.h"

#include "fmt.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

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
void keep_offer(struct act *a)
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
bool adopt_kept(struct act *a)
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

#include "policy.h"

#include <string.h>
#include <sys/socket.h>

/* Can an address of this family be used on a socket of sock_family?
 * IPv4 goes on IPv6 sockets as v4-mapped; IPv6 never on IPv4 sockets. */
static bool fits(const struct lr_addr *a, int sock_family)
{
	return sock_family == AF_INET6 || a->family == AF_INET || lr_addr_is_v4mapped(a);
}

static unsigned options_to_inject(const struct lr_action *r, const struct lr_sockinfo *s)
{
	unsigned want = (r->reuseaddr ? LR_OPT_REUSEADDR : 0u) | (r->reuseport ? LR_OPT_REUSEPORT : 0u);
	return lr_options_to_inject(want, r->force, s->prog_on, s->prog_off);
}

void lr_decide(const struct lr_table *t, const struct lr_call *c,
	       const struct lr_sockinfo *s, struct lr_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->level = (int)t->log.level;
	d->dry_run = t->dry_run;
	/* A top-level keep = true keeps every listener, whatever rule matches. */
	bool keep_all = t->keep_all && c->op == LR_OP_BIND;
	d->keep = keep_all && c->port != 0;
	const struct lr_entry *e = lr_table_match(t, c);
	if (!e)
		return;
	d->rule = e;
	const struct lr_action *r = lr_table_action(t, e);
	if (r->log_level >= 0)
		d->level = r->log_level;
	d->dry_run = t->dry_run || r->dry_run;
	d->force = r->force;
	if (r->deny) {
		d->deny = r->deny;
		d->keep = false;
		return;
	}
	if (r->has_rewrite) {
		d->addr = r->rewrite.has_addr ? r->rewrite.addr : c->addr;
		d->port = r->rewrite.has_port ? r->rewrite.port : c->port;
		if (fits(&d->addr, s->family))
			d->rewrite = true;
		else
			d->problem = "rewrite to an IPv6 address cannot apply to an IPv4 socket";
	}
	if (c->op == LR_OP_BIND) {
		d->inject = options_to_inject(r, s);
		d->retry_ms = r->retry_ms;
		d->keep = (r->keep || keep_all) && (d->rewrite ? d->port : c->port) != 0;
		d->keep_name = d->keep ? lr_table_str(t, r->keep_name) : NULL;
		return;
	}
	/* connect, and a socket's first send: options and retry belong to the
	 * source bind, if there is one. */
	if (r->has_source) {
		if (s->bound) {
			d->problem = "socket already bound: source not applied";
			return;
		}
		if (r->source.has_addr)
			d->src_addr = r->source.addr;
		else
			lr_addr_any(&d->src_addr, s->family);
		d->src_port = r->source.has_port ? r->source.port : 0;
		if (!fits(&d->src_addr, s->family)) {
			d->problem = "source with an IPv6 address cannot apply to an IPv4 socket";
			return;
		}
		d->source = true;
		d->inject = options_to_inject(r, s);
		d->retry_ms = r->retry_ms;
	}
}

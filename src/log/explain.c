#include "explain.h"

#include "fmt.h"
#include "rules.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

/* One side of an overlap test: an IPv4 address (plain or v4-mapped), the
 * IPv6 wildcard (which takes IPv4 too unless v6only), or another IPv6. */
struct side {
	enum { V4, V6_ANY, V6 } kind;
	bool v6only;
	uint8_t b[16];
};

static struct side side_of(const struct lr_addr *a, bool v6only)
{
	struct side s = { .v6only = v6only };
	static const uint8_t zero[16];
	if (a->family == AF_INET) {
		s.kind = V4;
		memcpy(s.b, a->bytes, 4);
	} else if (lr_addr_is_v4mapped(a)) {
		s.kind = V4;
		memcpy(s.b, a->bytes + 12, 4);
	} else {
		s.kind = memcmp(a->bytes, zero, 16) == 0 ? V6_ANY : V6;
		memcpy(s.b, a->bytes, 16);
	}
	return s;
}

static bool v4_any(const struct side *s)
{
	return s->kind == V4 && !s->b[0] && !s->b[1] && !s->b[2] && !s->b[3];
}

static bool sides_overlap(const struct side *x, const struct side *y)
{
	if (x->kind == V6_ANY)
		return y->kind != V4 || !x->v6only;
	if (y->kind == V6_ANY)
		return x->kind != V4 || !y->v6only;
	if (x->kind == V4 && y->kind == V4)
		return v4_any(x) || v4_any(y) || memcmp(x->b, y->b, 4) == 0;
	if (x->kind == V6 && y->kind == V6)
		return memcmp(x->b, y->b, 16) == 0;
	return false;
}

bool lr_holder_overlaps(const struct lr_holder *h, const struct lr_addr *a, bool v6only)
{
	struct side x = side_of(&h->addr, h->v6only), y = side_of(a, v6only);
	return sides_overlap(&x, &y);
}

static bool same_addr(const struct lr_addr *a, const struct lr_addr *b)
{
	struct side x = side_of(a, false), y = side_of(b, false);
	return x.kind == y.kind && memcmp(x.b, y.b, x.kind == V4 ? 4 : 16) == 0;
}

static void put_endpoint(struct lr_buf *b, const struct lr_addr *a, int port)
{
	char tmp[64];
	lr_format_addr(tmp, sizeof(tmp), a, port);
	lr_buf_str(b, tmp);
}

/* "pid 12 (nginx)", or the socket's owner as far as it is known. */
static void put_who(struct lr_buf *b, const struct lr_holder *h)
{
	if (h->pid) {
		lr_holder_put_process(b, h);
	} else if (h->has_uid) {
		lr_buf_str(b, "a socket of uid ");
		lr_buf_u64(b, h->uid);
	} else {
		lr_buf_str(b, "no process");
	}
}

/* put_who, with the uid when the owner is a known process. */
static void put_who_uid(struct lr_buf *b, const struct lr_holder *h)
{
	put_who(b, h);
	if (h->pid) {
		lr_buf_str(b, ", uid ");
		lr_buf_u64(b, h->uid);
	}
}

static void put_options(struct lr_buf *b, unsigned opts)
{
	lr_buf_str(b, opts == (LR_OPT_REUSEADDR | LR_OPT_REUSEPORT) ? "SO_REUSEADDR and SO_REUSEPORT"
		      : opts == LR_OPT_REUSEPORT		     ? "SO_REUSEPORT"
								     : "SO_REUSEADDR");
}

/* The first holder that overlaps the address asked for and passes want. */
static const struct lr_holder *find(const struct lr_holders *h, const struct lr_refusal *r,
				    bool (*want)(const struct lr_holder *))
{
	if (!h)
		return NULL;
	for (size_t i = 0; i < h->n; i++)
		if (want(&h->h[i]) && lr_holder_overlaps(&h->h[i], &r->addr, r->v6only))
			return &h->h[i];
	return NULL;
}

static bool is_listener(const struct lr_holder *h)
{
	return h->state == LR_ST_LISTEN;
}

static bool is_time_wait(const struct lr_holder *h)
{
	return h->state == LR_ST_TIME_WAIT;
}

static bool is_other(const struct lr_holder *h)
{
	return h->state != LR_ST_LISTEN && h->state != LR_ST_TIME_WAIT;
}

static bool is_any(const struct lr_holder *h)
{
	(void)h;
	return true;
}

static bool other_user(const struct lr_holder *x, const struct lr_refusal *r)
{
	return x->has_uid && x->uid != r->uid;
}

/* A wildcard and a specific address on one port: the refusal that
 * surprises people, so it is named as such. */
static bool put_overlap(struct lr_buf *b, const struct lr_holder *x, const struct lr_refusal *r,
			const char *fix)
{
	if (same_addr(&x->addr, &r->addr))
		return false;
	lr_buf_str(b, "a wildcard and a specific address overlap: ");
	put_endpoint(b, &r->addr, r->port);
	lr_buf_str(b, " asked for, ");
	put_endpoint(b, &x->addr, x->port);
	lr_buf_str(b, " held by ");
	put_who(b, x);
	lr_buf_str(b, fix);
	return true;
}

/* No holders at all: not looked up (out of file descriptors, /proc not
 * readable) is not the same as none found. */
static bool put_unknown(struct lr_buf *b, const struct lr_refusal *r, const struct lr_holders *h)
{
	if (h)
		return false;
	lr_buf_str(b, "the sockets holding port ");
	lr_buf_u64(b, r->port);
	lr_buf_str(b, " could not be looked up (no file descriptor left, or /proc and "
		      "sock_diag unreadable)");
	return true;
}

static void explain_tcp_in_use(struct lr_buf *b, const struct lr_refusal *r,
			       const struct lr_holders *h)
{
	const struct lr_holder *x;
	if (put_unknown(b, r, h))
		return;
	if ((x = find(h, r, is_listener))) {
		if ((r->opts & LR_OPT_REUSEPORT) && other_user(x, r)) {
			lr_buf_str(b, "a listener of another user holds it (");
			put_who_uid(b, x);
			lr_buf_str(b, "): SO_REUSEPORT sharing is refused across users; run both as one user");
			return;
		}
		if (put_overlap(b, x, r, ": a listening port is shared only when every socket sets "
					 "SO_REUSEPORT, under one user"))
			return;
		put_who(b, x);
		if (!(r->opts & LR_OPT_REUSEPORT)) {
			lr_buf_str(b, " is listening on it and this socket has no SO_REUSEPORT: sharing a "
				      "port needs it on every socket, under one user (rule: reuseport = "
				      "true, for both programs)");
		} else {
			lr_buf_str(b, " is listening on it without SO_REUSEPORT: every socket sharing a "
				      "port needs it (start that program under libreuse with reuseport = "
				      "true too)");
		}
		return;
	}
	/* Not listening: sockets still bound to the port (connections, or bound
	 * only) and TIME_WAIT give way when both sides set SO_REUSEADDR. */
	bool tw = false;
	if (!(x = find(h, r, is_other)))
		tw = (x = find(h, r, is_time_wait)) != NULL;
	if (!x) {
		lr_buf_str(b, "no socket this process can see holds port ");
		lr_buf_u64(b, r->port);
		lr_buf_str(b, ": it may belong to another network namespace, or was let go since");
		return;
	}
	if (tw && !(r->opts & LR_OPT_REUSEADDR)) {
		lr_buf_str(b, "TIME_WAIT left by an earlier connection holds it and this socket has no "
			      "SO_REUSEADDR: set it (rule: reuseaddr = true), or retry until TIME_WAIT "
			      "ends");
	} else if (tw) {
		lr_buf_str(b, "TIME_WAIT left by an earlier connection whose socket had no "
			      "SO_REUSEADDR (both old and new need it: run the daemon under libreuse "
			      "from its first start, or retry)");
	} else {
		lr_buf_str(b, "a socket in state ");
		lr_buf_str(b, lr_holder_state_name(x));
		lr_buf_str(b, " (");
		put_who(b, x);
		lr_buf_str(b, ") still holds it");
		lr_buf_str(b, !(r->opts & LR_OPT_REUSEADDR)
				      ? " and this socket has no SO_REUSEADDR: set it (rule: reuseaddr = true)"
				      : " and had no SO_REUSEADDR when it was bound (both old and new need "
					"it: run the program under libreuse from its first start, or retry)");
	}
}

static void explain_udp_in_use(struct lr_buf *b, const struct lr_refusal *r,
			       const struct lr_holders *h)
{
	if (put_unknown(b, r, h))
		return;
	const struct lr_holder *x = find(h, r, is_any);
	if (!x) {
		lr_buf_str(b, "no socket this process can see holds port ");
		lr_buf_u64(b, r->port);
		lr_buf_str(b, ": it may belong to another network namespace, or was let go since");
		return;
	}
	if (!(r->opts & (LR_OPT_REUSEADDR | LR_OPT_REUSEPORT))) {
		if (put_overlap(b, x, r, ": they can share the port only when both set SO_REUSEADDR "
					 "(or SO_REUSEPORT)"))
			return;
		put_who(b, x);
		lr_buf_str(b, " has it bound and this socket has neither SO_REUSEADDR nor SO_REUSEPORT: "
			      "UDP sockets share a port when both set one of them (rule: reuseaddr = "
			      "true)");
		return;
	}
	if (r->opts == LR_OPT_REUSEPORT && other_user(x, r)) {
		lr_buf_str(b, "a socket of another user holds it (");
		put_who_uid(b, x);
		lr_buf_str(b, "): SO_REUSEPORT sharing is refused across users (SO_REUSEADDR on both "
			      "would do)");
		return;
	}
	put_who(b, x);
	lr_buf_str(b, " has ");
	put_endpoint(b, &x->addr, x->port);
	lr_buf_str(b, " bound without ");
	put_options(b, r->opts);
	lr_buf_str(b, ": both sockets need the same option (start that program under libreuse "
		      "too)");
}

/* " (net.ipv4.ip_local_port_range LO-HI", left open for the caller to
 * finish; false (nothing written) when the range is unknown. */
static bool put_range(struct lr_buf *b, const struct lr_refusal *r)
{
	if (!r->eph_lo || r->eph_hi < r->eph_lo)
		return false;
	lr_buf_str(b, " (net.ipv4.ip_local_port_range ");
	lr_buf_u64(b, r->eph_lo);
	lr_buf_char(b, '-');
	lr_buf_u64(b, r->eph_hi);
	return true;
}

size_t lr_explain(char *buf, size_t n, const struct lr_refusal *r, const struct lr_holders *h)
{
	struct lr_buf b = { .p = buf, .len = 0, .cap = n };
	buf[0] = '\0';
	bool connect = r->op == LR_OP_CONNECT;
	switch (r->err) {
	case EACCES:
		if (connect) {
			lr_buf_str(&b, "the kernel refused this destination: a firewall rule, or a "
				       "broadcast address without SO_BROADCAST");
		} else if (r->unprivileged_start >= 0 && r->port && r->port < r->unprivileged_start) {
			lr_buf_str(&b, "port ");
			lr_buf_u64(&b, r->port);
			lr_buf_str(&b, " is below net.ipv4.ip_unprivileged_port_start (");
			lr_buf_u64(&b, (uint64_t)r->unprivileged_start);
			lr_buf_str(&b, ") and this process lacks CAP_NET_BIND_SERVICE: move it above "
				       "with a rewrite rule, or grant the capability");
		} else {
			lr_buf_str(&b, "refused by a security policy (an LSM or seccomp), not by "
				       "another socket");
		}
		break;
	case EADDRNOTAVAIL:
		if (!connect) {
			put_endpoint(&b, &r->addr, -1);
			lr_buf_str(&b, " is not an address of this host: bind needs a local address "
				       "(or IP_FREEBIND, or net.ipv4.ip_nonlocal_bind = 1); a rewrite "
				       "rule can move it");
		} else if (r->has_local && r->local_port) {
			lr_buf_str(&b, "this socket is bound to ");
			put_endpoint(&b, &r->local, r->local_port);
			lr_buf_str(&b, " and a connection from there to ");
			put_endpoint(&b, &r->addr, r->port);
			lr_buf_str(&b, " already exists: a shared source port reaches each "
				       "destination once");
		} else {
			lr_buf_str(&b, "the ephemeral port range is exhausted: no free local port "
				       "reaches ");
			put_endpoint(&b, &r->addr, r->port);
			if (put_range(&b, r)) {
				lr_buf_str(&b, ", ");
				lr_buf_u64(&b, (uint64_t)(r->eph_hi - r->eph_lo + 1));
				lr_buf_str(&b, " ports, all in use towards it)");
			}
			lr_buf_str(&b, ": widen the range, or reuse connections");
		}
		break;
	case EADDRINUSE:
		if (connect) {
			lr_buf_str(&b, "the local address of this socket is already in use by a "
				       "connection to ");
			put_endpoint(&b, &r->addr, r->port);
		} else if (r->port == 0) {
			lr_buf_str(&b, "no port is left in the ephemeral range for a bind to port 0");
			if (put_range(&b, r))
				lr_buf_char(&b, ')');
		} else if (r->proto == LR_PROTO_UDP) {
			explain_udp_in_use(&b, r, h);
		} else {
			explain_tcp_in_use(&b, r, h);
		}
		break;
	default:
		break;
	}
	return b.len;
}

/* Why Linux refused: each clause from the facts that lead to it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "explain.h"
#include "addrparse.h"
#include "rules.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

static struct lr_holder holder(const char *addr, uint16_t port, uint8_t proto, uint8_t state,
			       uint32_t uid, int pid)
{
	struct lr_holder h;
	memset(&h, 0, sizeof(h));
	assert_int_equal(lr_parse_addr(addr, &h.addr), 0);
	h.port = port;
	h.proto = proto;
	h.state = state;
	h.has_uid = state != LR_ST_TIME_WAIT;
	h.uid = uid;
	h.pid = pid;
	if (pid)
		strcpy(h.program, "nginx");
	return h;
}

static struct lr_refusal bind_refusal(const char *addr, uint16_t port, uint8_t proto,
				      unsigned opts)
{
	struct lr_refusal r;
	memset(&r, 0, sizeof(r));
	r.op = LR_OP_BIND;
	r.proto = proto;
	r.err = EADDRINUSE;
	assert_int_equal(lr_parse_addr(addr, &r.addr), 0);
	r.port = port;
	r.opts = opts;
	r.uid = 1000;
	r.unprivileged_start = 1024;
	return r;
}

static const char *explain(const struct lr_refusal *r, const struct lr_holders *h)
{
	static char buf[512];
	size_t n = lr_explain(buf, sizeof(buf), r, h);
	assert_int_equal(n, strlen(buf));
	return buf;
}

static void one(struct lr_holders *hs, struct lr_holder h)
{
	memset(hs, 0, sizeof(*hs));
	hs->h[0] = h;
	hs->n = hs->total = 1;
}

static void time_wait_without_reuseaddr(void **state)
{
	(void)state;
	struct lr_holders hs;
	one(&hs, holder("127.0.0.1", 8080, LR_PROTO_TCP, LR_ST_TIME_WAIT, 0, 0));
	struct lr_refusal r = bind_refusal("127.0.0.1", 8080, LR_PROTO_TCP, 0);
	assert_non_null(strstr(explain(&r, &hs), "TIME_WAIT left by an earlier connection holds it "
						 "and this socket has no SO_REUSEADDR"));
	r.opts = LR_OPT_REUSEADDR;
	assert_non_null(strstr(explain(&r, &hs), "TIME_WAIT left by an earlier connection whose "
						 "socket had no SO_REUSEADDR (both old and new need it"));
}

static void listener_without_reuseport(void **state)
{
	(void)state;
	struct lr_holders hs;
	one(&hs, holder("127.0.0.1", 80, LR_PROTO_TCP, LR_ST_LISTEN, 1000, 77));
	struct lr_refusal r = bind_refusal("127.0.0.1", 80, LR_PROTO_TCP, LR_OPT_REUSEADDR);
	assert_string_equal(explain(&r, &hs),
			    "pid 77 (nginx) is listening on it and this socket has no SO_REUSEPORT: "
			    "sharing a port needs it on every socket, under one user (rule: "
			    "reuseport = true, for both programs)");
	r.opts = LR_OPT_REUSEPORT;
	assert_non_null(strstr(explain(&r, &hs), "pid 77 (nginx) is listening on it without "
						 "SO_REUSEPORT"));
}

static void listener_of_another_user(void **state)
{
	(void)state;
	struct lr_holders hs;
	one(&hs, holder("127.0.0.1", 80, LR_PROTO_TCP, LR_ST_LISTEN, 65534, 0));
	struct lr_refusal r = bind_refusal("127.0.0.1", 80, LR_PROTO_TCP, LR_OPT_REUSEPORT);
	assert_string_equal(explain(&r, &hs),
			    "a listener of another user holds it (a socket of uid 65534): "
			    "SO_REUSEPORT sharing is refused across users; run both as one user");
	hs.h[0].pid = 4;
	strcpy(hs.h[0].program, "srv");
	assert_non_null(strstr(explain(&r, &hs), "(pid 4 (srv), uid 65534)"));
}

static void wildcard_and_specific(void **state)
{
	(void)state;
	struct lr_holders hs;
	one(&hs, holder("0.0.0.0", 80, LR_PROTO_TCP, LR_ST_LISTEN, 1000, 5));
	struct lr_refusal r = bind_refusal("127.0.0.1", 80, LR_PROTO_TCP, 0);
	assert_non_null(strstr(explain(&r, &hs), "a wildcard and a specific address overlap: "
						 "127.0.0.1:80 asked for, 0.0.0.0:80 held by pid 5 (nginx)"));
	/* A dual-stack IPv6 wildcard covers IPv4 too; an IPv6-only one does not. */
	one(&hs, holder("::", 80, LR_PROTO_TCP, LR_ST_LISTEN, 1000, 5));
	assert_non_null(strstr(explain(&r, &hs), "[::]:80 held by pid 5"));
	hs.h[0].v6only = true;
	assert_non_null(strstr(explain(&r, &hs), "no socket this process can see holds port 80"));
}

static void udp_sharing(void **state)
{
	(void)state;
	struct lr_holders hs;
	one(&hs, holder("127.0.0.1", 53, LR_PROTO_UDP, LR_ST_CLOSE, 1000, 9));
	struct lr_refusal r = bind_refusal("127.0.0.1", 53, LR_PROTO_UDP, 0);
	assert_non_null(strstr(explain(&r, &hs), "pid 9 (nginx) has it bound and this socket has "
						 "neither SO_REUSEADDR nor SO_REUSEPORT"));
	r.opts = LR_OPT_REUSEADDR;
	assert_non_null(strstr(explain(&r, &hs), "has 127.0.0.1:53 bound without SO_REUSEADDR: "
						 "both sockets need the same option"));
	hs.h[0].uid = 0;
	r.opts = LR_OPT_REUSEPORT;
	assert_non_null(strstr(explain(&r, &hs), "SO_REUSEPORT sharing is refused across users"));
}

static void connections_left_behind(void **state)
{
	(void)state;
	struct lr_holders hs;
	one(&hs, holder("127.0.0.1", 80, LR_PROTO_TCP, LR_ST_ESTABLISHED, 1000, 12));
	struct lr_refusal r = bind_refusal("127.0.0.1", 80, LR_PROTO_TCP, 0);
	assert_non_null(strstr(explain(&r, &hs), "a socket in state ESTABLISHED (pid 12 (nginx)) "
						 "still holds it and this socket has no SO_REUSEADDR"));
}

static void nobody_visible(void **state)
{
	(void)state;
	struct lr_refusal r = bind_refusal("127.0.0.1", 80, LR_PROTO_TCP, 0);
	struct lr_holders none;
	memset(&none, 0, sizeof(none));
	assert_non_null(strstr(explain(&r, &none), "no socket this process can see holds port 80"));
	/* Not looked up at all is said differently. */
	assert_non_null(strstr(explain(&r, NULL), "the sockets holding port 80 could not be looked up"));
	r.proto = LR_PROTO_UDP;
	assert_non_null(strstr(explain(&r, NULL), "could not be looked up"));
}

static void ephemeral_exhausted(void **state)
{
	(void)state;
	struct lr_refusal r = bind_refusal("10.1.2.3", 443, LR_PROTO_TCP, 0);
	r.op = LR_OP_CONNECT;
	r.err = EADDRNOTAVAIL;
	r.eph_lo = 40000;
	r.eph_hi = 40001;
	assert_string_equal(explain(&r, NULL),
			    "the ephemeral port range is exhausted: no free local port reaches "
			    "10.1.2.3:443 (net.ipv4.ip_local_port_range 40000-40001, 2 ports, all in "
			    "use towards it): widen the range, or reuse connections");
	r.has_local = true;
	assert_int_equal(lr_parse_addr("127.0.0.1", &r.local), 0);
	r.local_port = 12345;
	assert_non_null(strstr(explain(&r, NULL), "bound to 127.0.0.1:12345 and a connection from "
						  "there to 10.1.2.3:443 already exists"));
}

static void other_errors(void **state)
{
	(void)state;
	struct lr_refusal r = bind_refusal("127.0.0.1", 80, LR_PROTO_TCP, 0);
	r.err = EACCES;
	assert_non_null(strstr(explain(&r, NULL), "port 80 is below "
						  "net.ipv4.ip_unprivileged_port_start (1024)"));
	r.port = 8080;
	assert_non_null(strstr(explain(&r, NULL), "security policy"));
	r.err = EADDRNOTAVAIL;
	assert_non_null(strstr(explain(&r, NULL), "127.0.0.1 is not an address of this host"));
	r.err = EADDRINUSE;
	r.port = 0;
	assert_non_null(strstr(explain(&r, NULL), "no port is left in the ephemeral range"));
	r.err = EINVAL;
	assert_string_equal(explain(&r, NULL), "");
}

static void truncates_safely(void **state)
{
	(void)state;
	struct lr_holders hs;
	one(&hs, holder("127.0.0.1", 80, LR_PROTO_TCP, LR_ST_LISTEN, 1000, 77));
	struct lr_refusal r = bind_refusal("127.0.0.1", 80, LR_PROTO_TCP, 0);
	char small[16];
	memset(small, 'x', sizeof(small));
	size_t n = lr_explain(small, sizeof(small), &r, &hs);
	assert_int_equal(n, 15);
	assert_int_equal(small[15], '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(time_wait_without_reuseaddr),
		cmocka_unit_test(listener_without_reuseport),
		cmocka_unit_test(listener_of_another_user),
		cmocka_unit_test(wildcard_and_specific),
		cmocka_unit_test(udp_sharing),
		cmocka_unit_test(connections_left_behind),
		cmocka_unit_test(nobody_visible),
		cmocka_unit_test(ephemeral_exhausted),
		cmocka_unit_test(other_errors),
		cmocka_unit_test(truncates_safely),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

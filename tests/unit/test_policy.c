/* Decisions, from compiled rules and the facts of a call, with no socket. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "act.h"
#include "addrparse.h"
#include "compiled.h"
#include "policy.h"
#include "verdicts.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

static void decide(const struct lr_table *t, uint8_t op, const char *addr, uint16_t port,
		   const struct lr_sockinfo *si, struct lr_decision *d)
{
	struct lr_call c = { .op = op, .proto = LR_PROTO_TCP, .port = port };
	assert_int_equal(lr_parse_addr(addr, &c.addr), 0);
	lr_decide(t, &c, si, d);
}

static const struct lr_sockinfo v4 = { .family = AF_INET };
static const struct lr_sockinfo v6 = { .family = AF_INET6 };

static void no_rule_passes_through(void **state)
{
	(void)state;
	struct lr_table *t = compile("rules = ( { match = { port = 1; }; reuseaddr = true; } );");
	struct lr_decision d;
	decide(t, LR_OP_BIND, "0.0.0.0", 2, &v4, &d);
	assert_null(d.rule);
	assert_int_equal(d.inject, 0);
	assert_false(d.rewrite);
	assert_int_equal(d.level, LR_LOG_CONFLICTS);
	lr_table_free(t);
}

static void injection_respects_the_program(void **state)
{
	(void)state;
	struct lr_table *t = compile("rules = ( { match = { port = 80; }; reuseaddr = true; reuseport = true; },"
				     " { match = { port = 81; }; reuseaddr = true; force = true; } );");
	struct lr_decision d;
	decide(t, LR_OP_BIND, "0.0.0.0", 80, &v4, &d);
	assert_int_equal(d.inject, LR_OPT_REUSEADDR | LR_OPT_REUSEPORT);
	/* Set by the program already: nothing to add. */
	struct lr_sockinfo si = { .family = AF_INET, .prog_on = LR_OPT_REUSEADDR };
	decide(t, LR_OP_BIND, "0.0.0.0", 80, &si, &d);
	assert_int_equal(d.inject, LR_OPT_REUSEPORT);
	/* Turned off by the program: its choice wins... */
	si = (struct lr_sockinfo){ .family = AF_INET, .prog_off = LR_OPT_REUSEPORT };
	decide(t, LR_OP_BIND, "0.0.0.0", 80, &si, &d);
	assert_int_equal(d.inject, LR_OPT_REUSEADDR);
	/* ...unless the rule says force. */
	si = (struct lr_sockinfo){ .family = AF_INET, .prog_off = LR_OPT_REUSEADDR };
	decide(t, LR_OP_BIND, "0.0.0.0", 81, &si, &d);
	assert_int_equal(d.inject, LR_OPT_REUSEADDR);
	assert_true(d.force);
	lr_table_free(t);
}

static void rewrites(void **state)
{
	(void)state;
	struct lr_table *t = compile("rules = ( { match = { port = 80; }; rewrite = \"127.0.0.1:8080\"; },"
				     " { match = { port = 81; }; rewrite = \":9090\"; },"
				     " { match = { port = 82; }; rewrite = \"[::1]\"; } );");
	struct lr_decision d;
	char buf[64];
	decide(t, LR_OP_BIND, "0.0.0.0", 80, &v4, &d);
	assert_true(d.rewrite);
	lr_format_addr(buf, sizeof(buf), &d.addr, d.port);
	assert_string_equal(buf, "127.0.0.1:8080");
	decide(t, LR_OP_BIND, "10.1.1.1", 81, &v4, &d); /* only the port changes */
	lr_format_addr(buf, sizeof(buf), &d.addr, d.port);
	assert_string_equal(buf, "10.1.1.1:9090");
	decide(t, LR_OP_BIND, "::", 80, &v6, &d); /* IPv4 target on an IPv6 socket: allowed */
	assert_true(d.rewrite);
	decide(t, LR_OP_BIND, "0.0.0.0", 82, &v4, &d); /* IPv6 target on IPv4: a problem */
	assert_false(d.rewrite);
	assert_non_null(d.problem);
	decide(t, LR_OP_CONNECT, "10.0.0.1", 80, &v4, &d); /* op defaults to bind */
	assert_null(d.rule);
	lr_table_free(t);
}

static void deny_source_retry_dry_run(void **state)
{
	(void)state;
	struct lr_table *t = compile(
		"rules = ( { match = { port = \"1-1023\"; }; deny = \"EACCES\"; log = \"actions\"; },"
		" { match = { op = \"connect\"; address = \"10.0.0.0/8\"; }; source = \"127.0.0.1:12345\"; reuseport = true; retry = 100; },"
		" { match = { op = \"connect\"; port = 9; }; source = \":4000\"; },"
		" { match = { port = 5432; }; retry = 60000; dry_run = true; } );");
	struct lr_decision d;
	decide(t, LR_OP_BIND, "0.0.0.0", 80, &v4, &d);
	assert_int_equal(d.deny, EACCES);
	assert_int_equal(d.level, LR_LOG_ACTIONS);
	decide(t, LR_OP_CONNECT, "10.2.3.4", 443, &v4, &d);
	assert_true(d.source);
	assert_int_equal(d.src_port, 12345);
	assert_int_equal(d.inject, LR_OPT_REUSEPORT);
	assert_int_equal(d.retry_ms, 100);
	struct lr_sockinfo bound = { .family = AF_INET, .bound = true };
	decide(t, LR_OP_CONNECT, "10.2.3.4", 443, &bound, &d);
	assert_false(d.source);
	assert_non_null(d.problem);
	decide(t, LR_OP_CONNECT, "::1", 9, &v6, &d); /* port only: wildcard of the socket's family */
	assert_true(d.source);
	assert_int_equal(d.src_addr.family, AF_INET6);
	assert_int_equal(d.src_port, 4000);
	decide(t, LR_OP_BIND, "0.0.0.0", 5432, &v4, &d);
	assert_int_equal(d.retry_ms, 60000);
	assert_true(d.dry_run);
	lr_table_free(t);
}

static void keep_decisions(void **state)
{
	(void)state;
	struct lr_table *t = compile("rules = ( { match = { port = 80; }; keep = true; reuseaddr = true; },"
				     " { match = { port = 81; }; keep = \"web\"; },"
				     " { match = { port = 82; }; rewrite = \":0\"; keep = true; },"
				     " { match = { port = 83; }; reuseport = true; } );");
	struct lr_decision d;
	decide(t, LR_OP_BIND, "0.0.0.0", 80, &v4, &d);
	assert_true(d.keep);
	assert_null(d.keep_name);
	assert_int_equal(d.inject, LR_OPT_REUSEADDR);
	decide(t, LR_OP_BIND, "0.0.0.0", 81, &v4, &d);
	assert_true(d.keep);
	assert_string_equal(d.keep_name, "web");
	/* Port 0 is never kept: no next instance could ask for it again. */
	decide(t, LR_OP_BIND, "0.0.0.0", 82, &v4, &d);
	assert_false(d.keep);
	decide(t, LR_OP_BIND, "0.0.0.0", 83, &v4, &d);
	assert_false(d.keep);
	decide(t, LR_OP_BIND, "0.0.0.0", 0, &v4, &d);
	assert_false(d.keep);
	lr_table_free(t);

	/* Top-level keep: every bind to a port, matched by a rule or not;
	 * never a connect, never a denied bind. */
	t = compile("keep = true; rules = ( { match = { port = 83; }; reuseport = true; },"
		    " { match = { port = 84; }; deny = \"EACCES\"; } );");
	decide(t, LR_OP_BIND, "0.0.0.0", 83, &v4, &d);
	assert_true(d.keep);
	assert_int_equal(d.inject, LR_OPT_REUSEPORT);
	decide(t, LR_OP_BIND, "127.0.0.1", 9999, &v4, &d);
	assert_null(d.rule);
	assert_true(d.keep);
	decide(t, LR_OP_BIND, "127.0.0.1", 0, &v4, &d);
	assert_false(d.keep);
	decide(t, LR_OP_BIND, "127.0.0.1", 84, &v4, &d);
	assert_false(d.keep);
	decide(t, LR_OP_CONNECT, "127.0.0.1", 83, &v4, &d);
	assert_false(d.keep);
	lr_table_free(t);
}

/* A settled verdict is lr_decide's answer for every address, family and
 * socket of its protocol: checked over every port of tables that mix
 * plain injections with what is not plain. */
static void verdicts_agree_with_decide(void **state)
{
	(void)state;
	static const char *const files[] = {
		"rules = ( { match = { port = \"100-199\"; proto = \"tcp\"; }; reuseaddr = true; reuseport = true; },"
		" { match = { port = 150; }; deny = \"EACCES\"; },"
		" { match = { port = 250; }; deny = \"EACCES\"; },"
		" { match = { port = \"250-260\"; proto = \"udp\"; }; reuseport = true; force = true; },"
		" { match = { port = 270; address = \"127.0.0.0/8\"; }; reuseaddr = true; },"
		" { match = { port = 280; family = \"ipv6\"; }; reuseport = true; },"
		" { match = { port = 290; }; rewrite = \":9290\"; },"
		" { match = { port = 200; program = \"prog\"; }; reuseport = true; },"
		" { match = { port = 201; program = \"other\"; }; reuseport = true; },"
		" { match = { port = 292; }; reuseport = true; retry = 10; },"
		" { match = { port = 294; }; keep = true; },"
		" { match = { port = 295; }; reuseaddr = true; dry_run = true; },"
		" { match = { port = 296; op = \"connect\"; }; deny = \"EACCES\"; },"
		" { match = { port = 0; }; reuseaddr = true; } );",
		"rules = ( { match = { port = 300; }; reuseport = true; },"
		" { match = { port = 301; }; reuseport = true; log = \"actions\"; } );",
		"keep = true; rules = ( { match = { port = 400; }; reuseport = true; } );",
		"log = { level = \"all\"; }; rules = ( { match = { port = 500; }; reuseport = true; } );",
		"rules = ( );",
	};
	static const char *const addrs[] = { "0.0.0.0", "127.0.0.1", "10.1.2.3", "::", "::1",
					     "::ffff:127.0.0.1" };
	static const struct lr_sockinfo socks[] = {
		{ .family = AF_INET },
		{ .family = AF_INET6 },
		{ .family = AF_INET, .prog_on = LR_OPT_REUSEADDR },
		{ .family = AF_INET6, .prog_off = LR_OPT_REUSEPORT | LR_OPT_REUSEADDR },
	};
	static uint8_t v[65536];
	size_t settled = 0, injecting = 0;
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		struct lr_table *t = compile(files[f]);
		lr_bind_verdicts(t, v);
		for (uint32_t port = 0; port < 65536; port++) {
			for (int p = 0; p < 2; p++) {
				uint8_t n = (uint8_t)(v[port] >> (p ? LR_VERDICT_UDP_SHIFT : 0)) & 15;
				if (!(n & LR_VERDICT_SETTLED))
					continue;
				settled++;
				injecting += (n & 3) != 0;
				/* Off the rules' ports, one call stands for all. */
				size_t na = port < 1000 ? sizeof(addrs) / sizeof(addrs[0]) : 1;
				size_t ns = port < 1000 ? sizeof(socks) / sizeof(socks[0]) : 1;
				for (size_t a = 0; a < na; a++)
					for (size_t s = 0; s < ns; s++) {
						if (socks[s].family == AF_INET && strchr(addrs[a], ':'))
							continue;
						struct lr_call c = { .op = LR_OP_BIND,
								     .proto = p ? LR_PROTO_UDP : LR_PROTO_TCP,
								     .port = (uint16_t)port };
						assert_int_equal(lr_parse_addr(addrs[a], &c.addr), 0);
						struct lr_decision d;
						lr_decide(t, &c, &socks[s], &d);
						unsigned want = lr_options_to_inject(
							n & 3, n & LR_VERDICT_FORCE, socks[s].prog_on,
							socks[s].prog_off);
						assert_int_equal(d.inject, want);
						assert_int_equal(d.deny, 0);
						assert_false(d.rewrite || d.keep || d.dry_run || d.source);
						assert_int_equal(d.retry_ms, 0);
						assert_null(d.problem);
						assert_true(d.level < LR_LOG_ACTIONS);
						assert_true(t->max_level < LR_LOG_ACTIONS || !d.rule);
						if (d.rule)
							assert_int_equal(d.force, (n & LR_VERDICT_FORCE) != 0);
					}
			}
		}
		/* What must not be settled, is not. */
		if (f == 0) {
			static const uint16_t unsettled[] = { 250, 270, 280, 290, 292, 294, 295 };
			for (size_t i = 0; i < sizeof(unsettled) / sizeof(unsettled[0]); i++)
				assert_false(v[unsettled[i]] & LR_VERDICT_SETTLED);
			assert_int_equal(v[120], LR_VERDICT_PASS | 3);
			/* The earlier TCP rule wins over the later deny; UDP is denied. */
			assert_int_equal(v[150], LR_VERDICT_SETTLED | 3);
			assert_int_equal(v[255] >> LR_VERDICT_UDP_SHIFT, LR_VERDICT_SETTLED | 2 | 4);
			assert_int_equal(v[200], LR_VERDICT_PASS | 2 | 2 << LR_VERDICT_UDP_SHIFT);
			assert_int_equal(v[201], LR_VERDICT_PASS);
			assert_int_equal(v[296], LR_VERDICT_PASS);
			assert_int_equal(v[0], LR_VERDICT_PASS | 1 | 1 << LR_VERDICT_UDP_SHIFT);
		}
		if (f == 1) /* a rule that logs actions counts every action */
			assert_int_equal(v[300], 0);
		if (f >= 2 && f <= 3)
			assert_int_equal(v[9999], 0);
		if (f == 4)
			assert_int_equal(v[9999], LR_VERDICT_PASS);
		lr_table_free(t);
	}
	assert_true(settled > 5 * 65536);
	assert_true(injecting > 100);
}

/* The whole-port map a front end keeps: a port it rules out is one no rule
 * matches on, for rules of every program and of this one alone. */
static void port_maps_agree_with_may_match(void **state)
{
	(void)state;
	static const char *const files[] = {
		"rules = ( { match = { op = \"connect\"; port = \"1000-1999\"; }; deny = \"EACCES\"; },"
		" { match = { port = 80; }; reuseaddr = true; } );",
		"rules = ( { match = { op = \"connect\"; port = 443; program = \"prog\"; }; deny = \"EACCES\"; },"
		" { match = { op = \"connect\"; port = 444; program = \"other\"; }; deny = \"EACCES\"; },"
		" { match = { port = \"5000-5010\"; program = \"pr*\"; }; reuseport = true; } );",
	};
	static uint64_t map[1024];
	for (size_t f = 0; f < 2; f++) {
		struct lr_table *t = compile(files[f]);
		for (int op = 0; op < 2; op++) {
			lr_table_port_map(t, op, map);
			/* A port the map rules out is one no call can match on. */
			for (uint32_t port = 0; port < 65536; port++) {
				if ((map[port >> 6] >> (port & 63)) & 1)
					continue;
				for (int k = 0; k < 4; k++) {
					struct lr_call c = { .op = op ? LR_OP_CONNECT : LR_OP_BIND,
							     .proto = k & 1 ? LR_PROTO_UDP : LR_PROTO_TCP,
							     .port = (uint16_t)port };
					assert_int_equal(lr_parse_addr(k & 2 ? "::1" : "127.0.0.1", &c.addr), 0);
					assert_null(lr_table_match(t, &c));
				}
			}
		}
		lr_table_port_map(t, 1, map);
		if (f == 1) {
			assert_true((map[443 >> 6] >> (443 & 63)) & 1);
			assert_false((map[444 >> 6] >> (444 & 63)) & 1);
			assert_false((map[80 >> 6] >> (80 & 63)) & 1);
			lr_table_port_map(t, 0, map);
			assert_true((map[5005 >> 6] >> (5005 & 63)) & 1);
			assert_false((map[5011 >> 6] >> (5011 & 63)) & 1);
		} else {
			assert_true((map[1500 >> 6] >> (1500 & 63)) & 1);
			assert_false((map[2000 >> 6] >> (2000 & 63)) & 1);
		}
		lr_table_free(t);
	}
}

/* Which calls a front end may leave to the program (the supervisor's
 * CONTINUE): those the decision would not change. */
static bool changes(struct lr_table *t, uint8_t op, uint16_t port, const struct lr_sockinfo *si)
{
	struct lr_loaded l = { .table = t };
	struct lr_call c = { .op = op, .proto = LR_PROTO_TCP, .port = port };
	assert_int_equal(lr_parse_addr("127.0.0.1", &c.addr), 0);
	return lr_act_changes(&l, -1, &c, si);
}

static void what_changes_a_call(void **state)
{
	(void)state;
	struct lr_table *t = compile(
		"rules = ( { match = { port = 1; }; reuseaddr = true; },"
		" { match = { port = 2; }; rewrite = \":3\"; },"
		" { match = { port = 4; }; rewrite = \":3\"; dry_run = true; },"
		" { match = { port = 5; }; deny = \"EACCES\"; },"
		" { match = { port = 6; }; retry = 100; },"
		" { match = { port = 7; }; log = \"all\"; },"
		" { match = { port = 8; }; keep = true; },"
		" { match = { op = \"connect\"; port = 9; }; source = \":4000\"; } );");
	struct lr_sockinfo set = { .family = AF_INET, .prog_on = LR_OPT_REUSEADDR };
	struct lr_sockinfo bound = { .family = AF_INET, .bound = true };
	assert_false(changes(t, LR_OP_BIND, 10, &v4));    /* no rule */
	assert_true(changes(t, LR_OP_BIND, 1, &v4));      /* an option injected */
	assert_false(changes(t, LR_OP_BIND, 1, &set));    /* ...set by the program already */
	assert_true(changes(t, LR_OP_BIND, 2, &v4));      /* rewrite */
	assert_false(changes(t, LR_OP_BIND, 4, &v4));     /* dry run: only said */
	assert_true(changes(t, LR_OP_BIND, 5, &v4));      /* deny */
	assert_true(changes(t, LR_OP_BIND, 6, &v4));      /* retry: whoever binds binds again */
	assert_false(changes(t, LR_OP_BIND, 7, &v4));     /* a rule that only logs */
	assert_true(changes(t, LR_OP_BIND, 8, &v4));      /* keep */
	assert_true(changes(t, LR_OP_CONNECT, 9, &v4));   /* source bind */
	assert_false(changes(t, LR_OP_CONNECT, 9, &bound)); /* ...not on a bound socket */
	assert_false(changes(t, LR_OP_CONNECT, 1, &v4));  /* a bind rule, a connect */
	lr_table_free(t);
}

/* op = "send": a UDP socket's first datagram, matched on its destination;
 * "any" is bind and connect only, so no older rule reaches a send. */
static void sends(void **state)
{
	(void)state;
	struct lr_table *t = compile(
		"rules = ( { match = { op = \"any\"; port = 514; }; reuseaddr = true; },"
		" { match = { op = \"send\"; address = \"10.0.0.0/8\"; port = 514; }; source = \":10514\"; reuseport = true; },"
		" { match = { op = \"send\"; port = 161; }; deny = \"EACCES\"; },"
		" { match = { op = \"send\"; port = 123; }; } );");
	assert_true(t->ops & LR_OP_SEND);
	struct lr_call c = { .op = LR_OP_SEND, .proto = LR_PROTO_UDP, .port = 514 };
	struct lr_decision d;
	assert_int_equal(lr_parse_addr("10.1.2.3", &c.addr), 0);
	lr_decide(t, &c, &v4, &d);
	assert_non_null(d.rule);
	assert_int_equal(d.rule->index, 1);
	assert_true(d.source);
	assert_int_equal(d.src_port, 10514);
	assert_int_equal(d.src_addr.family, AF_INET);
	assert_int_equal(d.inject, LR_OPT_REUSEPORT);
	assert_false(d.rewrite);
	lr_decide(t, &c, &v6, &d); /* an IPv6 socket: the wildcard of its family */
	assert_int_equal(d.src_addr.family, AF_INET6);
	struct lr_sockinfo bound = { .family = AF_INET, .bound = true };
	lr_decide(t, &c, &bound, &d);
	assert_false(d.source);
	assert_int_equal(lr_parse_addr("192.168.1.1", &c.addr), 0);
	lr_decide(t, &c, &v4, &d); /* outside 10/8: rule 1 ("any") is not a send rule */
	assert_null(d.rule);
	c.port = 161;
	lr_decide(t, &c, &v4, &d);
	assert_int_equal(d.deny, EACCES);
	c.port = 123;
	lr_decide(t, &c, &v4, &d);
	assert_non_null(d.rule); /* a rule that only logs */
	assert_false(d.source || d.deny || d.inject);
	c.port = 514;
	assert_true(lr_table_may_match(t, LR_OP_SEND, 514));
	assert_false(lr_table_may_match(t, LR_OP_SEND, 515));
	c.op = LR_OP_CONNECT; /* the same destination by connect: rule 1 */
	lr_decide(t, &c, &v4, &d);
	assert_int_equal(d.rule->index, 0);
	lr_table_free(t);
	/* No send rule: the table says so, and the send index is empty. */
	t = compile("rules = ( { match = { op = \"any\"; }; reuseaddr = true; } );");
	assert_false(t->ops & LR_OP_SEND);
	assert_int_equal(t->index[lr_op_slot(LR_OP_SEND)].nintervals, 0);
	lr_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sends),
		cmocka_unit_test(no_rule_passes_through),
		cmocka_unit_test(injection_respects_the_program),
		cmocka_unit_test(rewrites),
		cmocka_unit_test(deny_source_retry_dry_run),
		cmocka_unit_test(keep_decisions),
		cmocka_unit_test(verdicts_agree_with_decide),
		cmocka_unit_test(port_maps_agree_with_may_match),
		cmocka_unit_test(what_changes_a_call),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}

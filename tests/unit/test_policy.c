/* Decisions, from compiled rules and the facts of a call, with no socket. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "policy.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

static struct lr_table *compile(const char *text)
{
	struct lr_ruleset rs;
	char err[512];
	lr_ruleset_init(&rs);
	if (lr_config_load_text(text, "test", NULL, &rs, err, sizeof(err)) != LR_CONFIG_OK)
		fail_msg("%s", err);
	struct lr_table *t = lr_table_compile(&rs, "prog", "prog");
	lr_ruleset_free(&rs);
	assert_non_null(t);
	return t;
}

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_rule_passes_through),
		cmocka_unit_test(injection_respects_the_program),
		cmocka_unit_test(rewrites),
		cmocka_unit_test(deny_source_retry_dry_run),
		cmocka_unit_test(keep_decisions),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}

/* The compiled table: first match wins, and the port index finds exactly
 * what a plain scan of every rule in file order would. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "compile.h"
#include "addrparse.h"
#include "rules.h"
#include "table.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static struct lr_call call(uint8_t op, uint8_t proto, const char *addr, uint16_t port)
{
	struct lr_call c = { .op = op, .proto = proto, .port = port };
	assert_int_equal(lr_parse_addr(addr, &c.addr), 0);
	return c;
}

static int matched(const struct lr_table *t, struct lr_call c)
{
	const struct lr_entry *r = lr_table_match(t, &c);
	return r ? (int)r->index + 1 : 0;
}

static void first_match_wins(void **state)
{
	(void)state;
	struct lr_ruleset rs;
	lr_ruleset_init(&rs);
	struct lr_rule *r = lr_ruleset_add(&rs);
	r->port_lo = r->port_hi = 8080;
	r->proto = LR_PROTO_TCP;
	r = lr_ruleset_add(&rs);
	r->port_lo = 8000, r->port_hi = 8099;
	r = lr_ruleset_add(&rs); /* no match: everything (bind) */
	r = lr_ruleset_add(&rs);
	r->op = LR_OP_CONNECT;
	assert_int_equal(lr_parse_cidr("10.0.0.0/8", &r->addr), 0);
	r->has_addr = true;
	struct lr_table *t = lr_table_compile(&rs, NULL, NULL);
	assert_non_null(t);
	assert_int_equal(matched(t, call(LR_OP_BIND, LR_PROTO_TCP, "0.0.0.0", 8080)), 1);
	assert_int_equal(matched(t, call(LR_OP_BIND, LR_PROTO_UDP, "0.0.0.0", 8080)), 2);
	assert_int_equal(matched(t, call(LR_OP_BIND, LR_PROTO_UDP, "::", 8099)), 2);
	assert_int_equal(matched(t, call(LR_OP_BIND, LR_PROTO_TCP, "::", 8100)), 3);
	assert_int_equal(matched(t, call(LR_OP_BIND, LR_PROTO_TCP, "::", 0)), 3);
	assert_int_equal(matched(t, call(LR_OP_CONNECT, LR_PROTO_TCP, "10.1.1.1", 443)), 4);
	assert_int_equal(matched(t, call(LR_OP_CONNECT, LR_PROTO_TCP, "::ffff:10.1.1.1", 443)), 4);
	assert_int_equal(matched(t, call(LR_OP_CONNECT, LR_PROTO_TCP, "11.1.1.1", 443)), 0);
	/* Neither TCP nor UDP (raw, SCTP): no rule speaks of it. */
	assert_int_equal(matched(t, call(LR_OP_BIND, 0, "0.0.0.0", 8080)), 0);
	lr_table_free(t);
	lr_ruleset_free(&rs);
}

/* Rules that do the same share an action; rules that differ in anything
 * they do (an option, a rewrite target, a retry time) keep their own. */
static void actions_shared_only_when_equal(void **state)
{
	(void)state;
	struct lr_ruleset rs;
	lr_ruleset_init(&rs);
	const char *targets[] = { "127.0.0.2:80", "127.0.0.2:80", "127.0.0.3:80", "127.0.0.2:81" };
	for (int i = 0; i < 4; i++) {
		struct lr_rule *r = lr_ruleset_add(&rs);
		r->port_lo = r->port_hi = (uint16_t)(1000 + i);
		r->action.has_rewrite = true;
		assert_int_equal(lr_parse_endpoint(targets[i], &r->action.rewrite), 0);
	}
	for (int i = 4; i < 8; i++) {
		struct lr_rule *r = lr_ruleset_add(&rs);
		r->port_lo = r->port_hi = (uint16_t)(1000 + i);
		r->action.reuseaddr = true;
		r->action.retry_ms = i < 6 ? 0 : 500;
		if (i == 5) {
			assert_int_equal(lr_parse_cidr("127.0.0.0/8", &r->addr), 0);
			r->has_addr = true;
		}
	}
	struct lr_table *t = lr_table_compile(&rs, NULL, NULL);
	assert_non_null(t);
	assert_int_equal(t->nactions, 5); /* .2:80 twice, .3:80, .2:81, reuseaddr, +retry */
	assert_int_equal(t->ncidrs, 1);
	for (int i = 0; i < 8; i++) {
		struct lr_call c = call(LR_OP_BIND, LR_PROTO_TCP, "127.0.0.1", (uint16_t)(1000 + i));
		const struct lr_entry *e = lr_table_match(t, &c);
		assert_non_null(e);
		assert_int_equal(e->index, i);
		const struct lr_action *a = lr_table_action(t, e);
		if (i < 4) {
			struct lr_endpoint want;
			assert_int_equal(lr_parse_endpoint(targets[i], &want), 0);
			assert_true(a->has_rewrite && a->rewrite.port == want.port);
			assert_memory_equal(a->rewrite.addr.bytes, want.addr.bytes, 4);
		} else {
			assert_true(a->reuseaddr && !a->has_rewrite);
			assert_int_equal(a->retry_ms, i < 6 ? 0 : 500);
		}
	}
	struct lr_call other = call(LR_OP_BIND, LR_PROTO_TCP, "10.0.0.1", 1005);
	assert_null(lr_table_match(t, &other)); /* rule 6's address block still applies */
	lr_table_free(t);
	lr_ruleset_free(&rs);
}

static void family_and_program(void **state)
{
	(void)state;
	struct lr_ruleset rs;
	lr_ruleset_init(&rs);
	struct lr_rule *r = lr_ruleset_add(&rs);
	r->family = LR_FAM_V6;
	r = lr_ruleset_add(&rs);
	r->program = lr_ruleset_strdup(&rs, "legacy*");
	r = lr_ruleset_add(&rs);
	r->program = lr_ruleset_strdup(&rs, "nginx");
	struct lr_table *t = lr_table_compile(&rs, "python3.11", "python3");
	assert_int_equal(lr_table_count_applying(t), 1); /* only the rule without a program */
	assert_int_equal(matched(t, call(LR_OP_BIND, LR_PROTO_TCP, "::1", 80)), 1);
	assert_int_equal(matched(t, call(LR_OP_BIND, LR_PROTO_TCP, "127.0.0.1", 80)), 0);
	lr_table_free(t);
	t = lr_table_compile(&rs, "legacyd", NULL);
	assert_int_equal(matched(t, call(LR_OP_BIND, LR_PROTO_TCP, "127.0.0.1", 80)), 2);
	assert_int_equal(lr_table_count_applying(t), 2); /* the rule without a program, and legacy* */
	lr_table_free(t);
	t = lr_table_compile(&rs, "nginx.real", "nginx"); /* argv[0] also tried */
	assert_int_equal(matched(t, call(LR_OP_BIND, LR_PROTO_TCP, "127.0.0.1", 80)), 3);
	lr_table_free(t);
	lr_ruleset_free(&rs);
}

static void globs(void **state)
{
	(void)state;
	assert_true(lr_glob_match("*", ""));
	assert_true(lr_glob_match("ng*x", "nginx"));
	assert_true(lr_glob_match("ng?nx", "nginx"));
	assert_true(lr_glob_match("[mn]ginx", "nginx"));
	assert_true(lr_glob_match("[!a]ginx", "nginx"));
	assert_true(lr_glob_match("[a-z]*", "nginx"));
	assert_false(lr_glob_match("[a-m]*", "nginx"));
	assert_false(lr_glob_match("nginx", "nginx2"));
	assert_true(lr_glob_match("*x*y*z", "axbyyz"));
	assert_false(lr_glob_match("*x*y*z", "axbyyzq"));
	assert_true(lr_glob_match("[", "["));
	assert_true(lr_glob_match("[]]", "]"));
	/* A long hostile pattern finishes quickly and without recursion. */
	size_t n = 100 * 1024;
	char *p = malloc(n + 1), *s = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		p[i] = (i % 2) ? '*' : 'a', s[i] = 'a';
	p[n] = s[n] = '\0';
	p[n - 1] = 'b';
	assert_false(lr_glob_match(p, s));
	free(p);
	free(s);
}

/* The property: for random rule sets and random calls, the index answers
 * exactly what a linear first-match scan does. */
static bool naive_matches(const struct lr_rule *r, const struct lr_call *c)
{
	if (!(r->op & c->op) || !(r->proto & c->proto))
		return false;
	if (c->port < r->port_lo || c->port > r->port_hi)
		return false;
	if (!(r->family & (c->addr.family == AF_INET ? LR_FAM_V4 : LR_FAM_V6)))
		return false;
	return !r->has_addr || lr_cidr_match(&r->addr, &c->addr);
}

/* A narrow port space makes overlaps, edges and gaps common; a wider one,
 * more intervals than a small index holds. */
static int port_span = 40;
static uint16_t small_port(void)
{
	return (uint16_t)(rand() % 4 == 0 ? 65535 - rand() % 3 : rand() % port_span);
}

static void random_rule(struct lr_rule *r)
{
	static const char *const addrs[] = { "127.0.0.0/8", "127.0.0.1", "::1", "10.0.0.0/8", "::/0" };
	r->op = (uint8_t)(1 + rand() % 3);
	r->proto = (uint8_t)(1 + rand() % 3);
	r->family = (uint8_t)(1 + rand() % 3);
	if (rand() % 4 == 0) {
		r->port_lo = 0, r->port_hi = 65535;
	} else {
		uint16_t a = small_port(), b = rand() % 2 ? a : small_port();
		r->port_lo = a < b ? a : b, r->port_hi = a < b ? b : a;
	}
	r->has_addr = rand() % 2;
	if (r->has_addr)
		assert_int_equal(lr_parse_cidr(addrs[rand() % 5], &r->addr), 0);
}

static void index_agrees_with_linear_scan(void **state)
{
	(void)state;
	static const char *const addrs[] = { "127.0.0.1", "127.1.2.3", "::1", "10.9.8.7", "::ffff:127.0.0.1", "192.0.2.1" };
	srand(12345);
	/* Small indexes are searched whole, larger ones by block: both. */
	int blocked = 0, whole = 0;
	for (int round = 0; round < 300; round++) {
		struct lr_ruleset rs;
		lr_ruleset_init(&rs);
		port_span = round % 2 ? 40 : 400;
		int n = 1 + rand() % (port_span == 40 ? 40 : 200);
		for (int i = 0; i < n; i++)
			random_rule(lr_ruleset_add(&rs));
		struct lr_table *t = lr_table_compile(&rs, NULL, NULL);
		assert_non_null(t);
		for (int op = 0; op < 2; op++)
			if (t->index[op].nintervals && !t->index[op].linear)
				*(t->index[op].block ? &blocked : &whole) += 1;
		for (int k = 0; k < 400; k++) {
			struct lr_call c = { .op = (uint8_t)(1 + rand() % 2), .proto = (uint8_t)(rand() % 3),
					     .port = small_port() };
			assert_int_equal(lr_parse_addr(addrs[rand() % 6], &c.addr), 0);
			int want = 0;
			for (size_t i = 0; i < rs.nrules && !want; i++)
				if (naive_matches(&rs.rules[i], &c))
					want = rs.rules[i].index + 1;
			assert_int_equal(matched(t, c), want);
		}
		lr_table_free(t);
		lr_ruleset_free(&rs);
	}
	assert_true(blocked > 20 && whole > 20);
	port_span = 40;
}

/* Nested ranges would make the per-interval lists quadratic; past a bound
 * the op falls back to one list, and answers stay right. */
static void pathological_overlap_stays_correct(void **state)
{
	(void)state;
	struct lr_ruleset rs;
	lr_ruleset_init(&rs);
	for (int i = 0; i < 3000; i++) {
		struct lr_rule *r = lr_ruleset_add(&rs);
		r->port_lo = (uint16_t)i;
		r->port_hi = (uint16_t)(65535 - i);
		r->has_addr = true;
		assert_int_equal(lr_parse_cidr(i == 2999 ? "127.0.0.0/8" : "10.0.0.1", &r->addr), 0);
	}
	struct lr_table *t = lr_table_compile(&rs, NULL, NULL);
	assert_non_null(t);
	assert_true(t->index[0].linear);
	assert_int_equal(matched(t, call(LR_OP_BIND, LR_PROTO_TCP, "127.0.0.1", 30000)), 3000);
	assert_int_equal(matched(t, call(LR_OP_BIND, LR_PROTO_TCP, "127.0.0.1", 10)), 0);
	assert_int_equal(matched(t, call(LR_OP_BIND, LR_PROTO_TCP, "10.0.0.1", 10)), 1);
	lr_table_free(t);
	lr_ruleset_free(&rs);
}

static void ten_thousand_exact_ports_index_small(void **state)
{
	(void)state;
	struct lr_ruleset rs;
	lr_ruleset_init(&rs);
	for (int i = 0; i < 10000; i++) {
		struct lr_rule *r = lr_ruleset_add(&rs);
		r->port_lo = r->port_hi = (uint16_t)(20000 + i);
		r->action.reuseaddr = true;
	}
	struct lr_table *t = lr_table_compile(&rs, NULL, NULL);
	assert_false(t->index[0].linear);
	/* Every candidate list holds at most the one rule for its port. */
	for (uint32_t i = 0; i < t->index[0].nintervals; i++)
		assert_true(t->index[0].off[i + 1] - t->index[0].off[i] <= 1);
	assert_int_equal(matched(t, call(LR_OP_BIND, LR_PROTO_TCP, "0.0.0.0", 29999)), 10000);
	assert_int_equal(matched(t, call(LR_OP_BIND, LR_PROTO_TCP, "0.0.0.0", 20000)), 1);
	assert_int_equal(matched(t, call(LR_OP_BIND, LR_PROTO_TCP, "0.0.0.0", 19999)), 0);
	assert_int_equal(t->index[1].nintervals, 0); /* no connect rules at all */
	/* They all do the same: one action, and the table stays small: 24 bytes
	 * an entry, 10 bytes of index a rule (an interval's start, offset and
	 * candidate), the block map and the port map. */
	assert_int_equal(t->nactions, 1);
	assert_int_equal(t->ncidrs, 0);
	assert_true(t->image_len < 10000 * (24 + 10) + (LR_BLOCKS + 1) * 2 + 1024 * 8 + 4096);
	lr_table_free(t);
	lr_ruleset_free(&rs);
}

/* A table of format 3 (before op = "send" had its index) is refused, never
 * misread: a cache written by an older build is compiled again. */
static void an_older_format_is_refused(void **state)
{
	(void)state;
	struct lr_ruleset rs;
	lr_ruleset_init(&rs);
	struct lr_rule *r = lr_ruleset_add(&rs);
	assert_non_null(r);
	r->op = LR_OP_SEND;
	void *image;
	size_t len;
	assert_int_equal(lr_table_build(&rs, NULL, &image, &len), 0);
	struct lr_table t;
	const char *why;
	assert_int_equal(lr_table_open(&t, image, len, NULL, NULL, NULL, &why), 0);
	assert_int_not_equal(t.index[lr_op_slot(LR_OP_SEND)].nintervals, 0);
	lr_table_close(&t);
	((struct lr_tf_header *)image)->version = 3;
	assert_int_equal(lr_table_open(&t, image, len, NULL, NULL, NULL, &why), -1);
	assert_string_equal(why, "a table of another libreuse version");
	free(image);
	lr_ruleset_free(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_older_format_is_refused),
		cmocka_unit_test(first_match_wins),
		cmocka_unit_test(actions_shared_only_when_equal),
		cmocka_unit_test(family_and_program),
		cmocka_unit_test(globs),
		cmocka_unit_test(index_agrees_with_linear_scan),
		cmocka_unit_test(pathological_overlap_stays_correct),
		cmocka_unit_test(ten_thousand_exact_ports_index_small),
	};
	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}

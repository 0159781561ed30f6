/* A damaged table image met by a lookup, not by opening it: a program no
 * glob names opens its table without reading a rule, an action or an
 * address block (issue 27: opening costs the same at 1 rule as at 10,000),
 * so each lookup checks what it reaches. A damaged record matches nothing
 * and is never followed; the same image opened where the gate's runs must
 * be worked out from every rule is refused whole, as before. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "addrparse.h"
#include "compile.h"
#include "rules.h"
#include "table.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { NRULES = 100, BASE = 20000, CIDR_PORT = 30000 };

/* NRULES rules, rule i on TCP port BASE + i; then one on CIDR_PORT for
 * 10.0.0.0/8; then one for a program named "named" on another port. */
static void *image_of(size_t *len)
{
	struct lr_ruleset rs;
	lr_ruleset_init(&rs);
	for (int i = 0; i < NRULES; i++) {
		struct lr_rule *r = lr_ruleset_add(&rs);
		assert_non_null(r);
		r->port_lo = r->port_hi = (uint16_t)(BASE + i);
		r->proto = LR_PROTO_TCP;
		r->action.reuseaddr = true;
	}
	struct lr_rule *r = lr_ruleset_add(&rs);
	r->port_lo = r->port_hi = CIDR_PORT;
	assert_int_equal(lr_parse_cidr("10.0.0.0/8", &r->addr), 0);
	r->has_addr = true;
	r->action.reuseport = true;
	r = lr_ruleset_add(&rs);
	r->port_lo = r->port_hi = CIDR_PORT + 1;
	r->program = lr_ruleset_strdup(&rs, "named");
	void *image;
	assert_int_equal(lr_table_build(&rs, NULL, &image, len), 0);
	lr_ruleset_free(&rs);
	return image;
}

static const struct lr_tf_header *header(const void *image)
{
	return image;
}

static struct lr_entry *entries(void *image)
{
	return (struct lr_entry *)((char *)image + header(image)->rules_at);
}

static int match(const struct lr_table *t, const char *addr, uint16_t port)
{
	struct lr_call c = { .op = LR_OP_BIND, .proto = LR_PROTO_TCP, .port = port };
	assert_int_equal(lr_parse_addr(addr, &c.addr), 0);
	const struct lr_entry *r = lr_table_match(t, &c);
	return r ? (int)r->index : -1;
}

/* Opened for a program no glob names: it opens, the damaged rule matches
 * nothing, every other still matches. Opened for "named" (whose rules
 * change the gate's runs, worked out at load from every rule): refused. */
static void opens_lazily_refuses_whole(void *image, size_t len, const char *addr, int damaged,
				       const char *refusal)
{
	struct lr_table t;
	const char *why = NULL;
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), 0);
	assert_non_null(t.bind_runs);
	for (int i = 0; i < NRULES; i++)
		assert_int_equal(match(&t, addr, (uint16_t)(BASE + i)), i == damaged ? -1 : i);
	lr_table_close(&t);
	assert_int_equal(lr_table_open(&t, image, len, "named", NULL, NULL, &why), -1);
	assert_string_equal(why, refusal);
}

static void a_rule_pointing_outside(void **state)
{
	(void)state;
	size_t len;
	void *image = image_of(&len);
	struct lr_entry *e = entries(image);
	assert_int_equal(e[7].index, 7);
	e[7].action = 0x7fffffff;
	opens_lazily_refuses_whole(image, len, "0.0.0.0", 7, "a rule points outside the table");
	e[7].action = 0;
	e[7].prog = 1000; /* applies[] has nprogs + 1 entries */
	opens_lazily_refuses_whole(image, len, "0.0.0.0", 7, "a rule points outside the table");
	e[7].prog = 0;
	e[7].cidr = 1000;
	opens_lazily_refuses_whole(image, len, "0.0.0.0", 7, "a rule points outside the table");
	free(image);
}

/* One action for all NRULES rules: a flag byte that is no bool, or a log
 * level past the last, and none of them matches. */
static void a_damaged_action(void **state)
{
	(void)state;
	size_t len;
	void *image = image_of(&len);
	struct lr_entry *e = entries(image);
	struct lr_action *a =
		(struct lr_action *)((char *)image + header(image)->actions_at) + e[0].action;
	struct lr_table t;
	const char *why;
	((unsigned char *)a)[offsetof(struct lr_action, reuseport)] = 2;
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), 0);
	for (int i = 0; i < NRULES; i++)
		assert_int_equal(match(&t, "0.0.0.0", (uint16_t)(BASE + i)), -1);
	lr_table_close(&t);
	assert_int_equal(lr_table_open(&t, image, len, "named", NULL, NULL, &why), -1);
	assert_string_equal(why, "an action points outside the table");
	a->reuseport = false;
	a->log_level = 100;
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), 0);
	assert_int_equal(match(&t, "0.0.0.0", BASE), -1);
	lr_table_close(&t);
	a->log_level = -1;
	a->keep_name = header(image)->strings_len + 1;
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), 0);
	assert_int_equal(match(&t, "0.0.0.0", BASE), -1);
	lr_table_close(&t);
	a->keep_name = 0;
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), 0);
	assert_int_equal(match(&t, "0.0.0.0", BASE + 3), 3);
	lr_table_close(&t);
	free(image);
}

/* A prefix longer than its family's address would be compared past it. */
static void a_malformed_address_block(void **state)
{
	(void)state;
	size_t len;
	void *image = image_of(&len);
	const struct lr_tf_header *h = header(image);
	assert_int_equal(h->ncidrs, 1);
	struct lr_table t;
	const char *why;
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), 0);
	assert_int_equal(match(&t, "10.1.2.3", CIDR_PORT), NRULES);
	lr_table_close(&t);
	struct lr_cidr *c = (struct lr_cidr *)((char *)image + h->cidrs_at);
	c->prefix = 200;
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), 0);
	assert_int_equal(match(&t, "10.1.2.3", CIDR_PORT), -1);
	assert_int_equal(match(&t, "10.1.2.3", BASE + 1), 1);
	lr_table_close(&t);
	assert_int_equal(lr_table_open(&t, image, len, "named", NULL, NULL, &why), -1);
	assert_string_equal(why, "an address block is malformed");
	free(image);
}

/* The index itself: a candidate past the rules, offsets running backwards,
 * a block map out of order. The lookup stays inside the image. */
static void a_damaged_index(void **state)
{
	(void)state;
	size_t len;
	void *image = image_of(&len);
	const struct lr_tf_index *x = &header(image)->index[0];
	assert_true(x->nintervals > LR_BLOCKS_FROM);
	assert_int_not_equal(x->block_at, 0);
	uint32_t *cand = (uint32_t *)((char *)image + x->cand_at);
	uint32_t *off = (uint32_t *)((char *)image + x->off_at);
	uint16_t *block = (uint16_t *)((char *)image + x->block_at);
	const uint16_t *bound = (const uint16_t *)((char *)image + x->bound_at);
	/* The interval of port BASE + 9: its one candidate. */
	uint32_t iv = 0;
	while (iv + 1 < x->nintervals && bound[iv + 1] <= BASE + 9)
		iv++;
	assert_int_equal(off[iv + 1] - off[iv], 1);
	uint32_t was = cand[off[iv]];
	cand[off[iv]] = 0xffffffffu;
	opens_lazily_refuses_whole(image, len, "0.0.0.0", 9, "an index points outside the table");
	cand[off[iv]] = was;
	/* Its start past its end (the interval before it then runs one
	 * candidate further: rule 8 still comes first there). */
	uint32_t o = off[iv];
	off[iv] = off[iv + 1] + 1;
	opens_lazily_refuses_whole(image, len, "0.0.0.0", 9, "an index is out of order");
	off[iv] = o;
	uint32_t b = (BASE + 9) >> LR_BLOCK_SHIFT;
	uint16_t lo = block[b], hi = block[b + 1];
	block[b] = (uint16_t)(hi + 1);
	struct lr_table t;
	const char *why;
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), 0);
	assert_int_equal(match(&t, "0.0.0.0", BASE + 9), -1);
	lr_table_close(&t);
	block[b] = lo;
	block[b + 1] = 0xffff;
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), 0);
	assert_int_equal(match(&t, "0.0.0.0", BASE + 9), -1);
	lr_table_close(&t);
	assert_int_equal(lr_table_open(&t, image, len, "named", NULL, NULL, &why), -1);
	assert_string_equal(why, "an index points outside the table");
	block[b + 1] = hi;
	assert_int_equal(lr_table_open(&t, image, len, "named", NULL, NULL, &why), 0);
	assert_int_equal(match(&t, "0.0.0.0", BASE + 9), 9);
	assert_int_equal(lr_table_count_applying(&t), NRULES + 2);
	lr_table_close(&t);
	free(image);
}

/* What opening still refuses, whoever the program: the header, a section
 * or an index that lies outside the image, the bind runs, a bind gate
 * naming a block it does not have or lying outside the image. */
static void the_header_is_checked_at_open(void **state)
{
	(void)state;
	size_t len;
	void *image = image_of(&len);
	struct lr_tf_header *h = image;
	struct lr_table t;
	const char *why;
	uint32_t was = h->nrules;
	h->nrules = 0x10000000u;
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), -1);
	assert_string_equal(why, "an array lies outside the table");
	h->nrules = was;
	was = h->index[0].ncand;
	h->index[0].ncand = 0x10000000u;
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), -1);
	assert_string_equal(why, "an index lies outside the table");
	h->index[0].ncand = was;
	uint32_t *runs = (uint32_t *)((char *)image + h->index[0].runs_at);
	assert_true(runs[0] >= 2);
	was = runs[2];
	runs[2] = 0;
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), -1);
	assert_string_equal(why, "the bind runs are out of order");
	runs[2] = was;
	/* The gate a hook reads in place, unchecked then: every block it
	 * names is its own, and all of it inside. */
	struct lr_tf_index *bx = &h->index[0];
	assert_true(bx->gate_blocks >= 2);
	uint16_t *top = (uint16_t *)((char *)image + bx->gate_at);
	uint16_t block = top[255];
	top[255] = (uint16_t)bx->gate_blocks;
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), -1);
	assert_string_equal(why, "the bind gate points outside itself");
	top[255] = block;
	was = bx->gate_blocks;
	bx->gate_blocks = 257;
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), -1);
	assert_string_equal(why, "the bind gate lies outside the table");
	bx->gate_blocks = (uint32_t)(len / 256);
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), -1);
	assert_string_equal(why, "the bind gate lies outside the table");
	bx->gate_blocks = was;
	was = bx->gate_at;
	bx->gate_at += 4;
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), -1);
	assert_string_equal(why, "the bind gate lies outside the table");
	bx->gate_at = was;
	assert_int_equal(lr_table_open(&t, image, len, "other", NULL, NULL, &why), 0);
	assert_ptr_equal(t.bind_gate, (const uint8_t *)image + bx->gate_at);
	/* Counting reads every rule's program, checked or not. */
	entries(image)[3].prog = 0x7fffffff;
	assert_int_equal(lr_table_count_applying(&t), NRULES + 1 - 1);
	lr_table_close(&t);
	free(image);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_rule_pointing_outside),
		cmocka_unit_test(a_damaged_action),
		cmocka_unit_test(a_malformed_address_block),
		cmocka_unit_test(a_damaged_index),
		cmocka_unit_test(the_header_is_checked_at_open),
	};
	return cmocka_run_group_tests_name("table", tests, NULL, NULL);
}

/* The hooks' gate (src/preload/gate.c, included whole): what a load
 * publishes says exactly what the rules say of every port, a first load
 * reads a compiled table's gate in place and writes nothing, a load
 * without one writes only the ports its rules name, and a reload narrows
 * to what the old and the new rules agree on before it opens to the new. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/preload/gate.c"

#include "compiled.h"

static const char *const files[] = {
	"rules = ( { match = { port = 20000; }; reuseaddr = true; } );",
	"rules = ( { match = { port = \"1024-65535\"; proto = \"tcp\"; }; reuseaddr = true; } );",
	"rules = ( { match = { port = 80; }; reuseport = true; },"
	" { match = { port = 81; address = \"127.0.0.1\"; }; rewrite = \":82\"; },"
	" { match = { op = \"connect\"; port = \"5000-5100\"; }; source = \"127.0.0.2\"; },"
	" { match = { port = 90; program = \"prog\"; }; deny = \"EACCES\"; } );",
	"log = { level = \"all\"; }; rules = ( { match = { port = 500; }; reuseport = true; } );",
	"keep = true;",
	"rules = ( );",
	"rules = ( { match = { op = \"connect\"; port = 443; program = \"prog\"; }; deny = \"EACCES\"; },"
	" { match = { port = 20000; }; reuseport = true; } );",
};
#define NFILES (sizeof(files) / sizeof(files[0]))

/* What the gate says of a port in host order. */
static uint8_t bind_code(uint32_t port)
{
	return (uint8_t)lr_gate_bind_code_of(port);
}

static bool connect_asks(uint32_t port)
{
	uint16_t n = (uint16_t)port;
	return (atomic_load(&lr_gate_connect[n >> 6]) >> (n & 63)) & 1;
}

/* What the rules say: a code per port, and whether a connect must ask. */
struct want {
	uint8_t code[65536];
	bool ask[65536];
};

static void want_of(const struct lr_table *t, struct want *w)
{
	static uint8_t v[65536];
	static uint64_t map[1024];
	lr_bind_verdicts(t, v);
	lr_table_port_map(t, 1, map);
	for (uint32_t p = 0; p < 65536; p++) {
		w->code[p] = lr_gate_code(v[p]);
		w->ask[p] = t->log.level >= LR_LOG_ALL || ((map[p >> 6] >> (p & 63)) & 1);
	}
}

static void fresh_gate(void)
{
	for (uint32_t n = 0; n < 65536; n++)
		atomic_store(&written.code[n], 0);
	atomic_store(&lr_gate_bind_at, (const unsigned char *)&all_pass);
	writing = false;
	for (int i = 0; i < 1024; i++)
		atomic_store(&lr_gate_connect[i], 0);
	bind_dirty = 0;
	connect_dirty = 0;
}

static void assert_says(const struct want *w)
{
	for (uint32_t p = 0; p < 65536; p++) {
		if (bind_code(p) != w->code[p] || connect_asks(p) != w->ask[p])
			fail_msg("port %u: gate %#x/%d, rules %#x/%d", p, bind_code(p), connect_asks(p),
				 w->code[p], w->ask[p]);
	}
}

static void a_load_says_what_the_rules_say(void **state)
{
	(void)state;
	static struct want w;
	for (size_t f = 0; f < NFILES; f++) {
		struct lr_table *t = compile(files[f]);
		fresh_gate();
		assert_int_equal(lr_gate_open(t), t->bind_gate != NULL);
		want_of(t, &w);
		assert_says(&w);
		lr_table_free(t);
	}
	/* No rules: every port passes, and nothing is written. */
	fresh_gate();
	lr_gate_open(NULL);
	assert_int_equal(bind_dirty, 0);
	assert_int_equal(connect_dirty, 0);
}

static size_t ports_written(void)
{
	size_t n = 0;
	for (uint32_t p = 0; p < 65536; p++)
		n += atomic_load(&written.code[p]) != 0;
	return n;
}

/* The first load of a table with its gate compiled (no rule names a
 * program) reads it where it is, and writes nothing. */
static void a_first_load_reads_the_compiled_gate(void **state)
{
	(void)state;
	struct lr_table *t = compile(files[0]);
	assert_non_null(t->bind_gate);
	fresh_gate();
	assert_true(lr_gate_open(t));
	assert_ptr_equal(atomic_load(&lr_gate_bind_at), t->bind_gate);
	assert_int_equal(bind_dirty, 0);
	assert_int_equal(connect_dirty, 0);
	assert_false(writing);
	assert_int_equal(ports_written(), 0);
	assert_int_not_equal(bind_code(20000), 0);
	assert_int_equal(bind_code(20001), 0);
	/* Two blocks: its rule's 256 ports, and every other's. */
	assert_int_equal(((const struct lr_tf_header *)t->image)->index[0].gate_blocks, 2);
	lr_table_free(t);
}

/* Rules naming the program have no compiled gate: the first load of one
 * rule then writes its port, one page of the bind gate and none of the
 * connect gate; the rest stay zero pages. */
static void a_load_writes_only_the_named_ports(void **state)
{
	(void)state;
	struct lr_table *t = compile("rules = ( { match = { port = 20000; program = \"prog\"; }; reuseaddr = true; } );");
	assert_null(t->bind_gate);
	fresh_gate();
	assert_false(lr_gate_open(t));
	assert_int_equal(__builtin_popcount(bind_dirty), 1);
	assert_int_equal(connect_dirty, 0);
	assert_int_equal(ports_written(), 1);
	assert_int_not_equal(bind_code(20000), 0);
	lr_table_free(t);
}

/* Every pair of rule files, one after the other: narrowing leaves a port
 * as it was where both agree and sends it to the full path where they do
 * not; opening then says exactly the new rules. */
static void a_reload_narrows_then_opens(void **state)
{
	(void)state;
	static struct want a, b;
	for (size_t i = 0; i < NFILES; i++)
		for (size_t j = 0; j < NFILES; j++) {
			struct lr_table *ta = compile(files[i]), *tb = compile(files[j]);
			want_of(ta, &a);
			want_of(tb, &b);
			fresh_gate();
			lr_gate_open(ta);
			lr_gate_narrow(tb);
			for (uint32_t p = 0; p < 65536; p++) {
				uint8_t c = bind_code(p);
				if (a.code[p] == b.code[p] ? c != a.code[p] : c != LR_GATE_FULL)
					fail_msg("%zu then %zu: bind port %u narrowed to %#x (old %#x, new %#x)",
						 i, j, p, c, a.code[p], b.code[p]);
				bool ask = connect_asks(p);
				if (a.ask[p] == b.ask[p] ? ask != a.ask[p] : !ask)
					fail_msg("%zu then %zu: connect port %u narrowed to %d", i, j, p, ask);
			}
			lr_gate_open(tb);
			assert_says(&b);
			lr_table_free(ta);
			lr_table_free(tb);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_load_says_what_the_rules_say),
		cmocka_unit_test(a_first_load_reads_the_compiled_gate),
		cmocka_unit_test(a_load_writes_only_the_named_ports),
		cmocka_unit_test(a_reload_narrows_then_opens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

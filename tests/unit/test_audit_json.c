/* The audit's reading of log lines: any bytes in, a count of bad lines out,
 * never a crash; and what a few real lines add up to. The command's sources
 * are included whole (they are not in the core's objects). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/command/audit_json.c"
#include "../../src/command/audit_model.c"

static const char bind_line[] =
	"{\"ts\":\"2026-12-06T20:18:22.848Z\",\"pid\":32292,\"event\":\"call\",\"program\":\"python3\","
	"\"op\":\"bind\",\"proto\":\"tcp\",\"family\":\"ipv4\",\"addr\":\"127.0.0.1\",\"port\":56469,"
	"\"effective_addr\":\"127.0.0.1\",\"effective_port\":56469,\"result\":0,\"errno\":null,"
	"\"rule\":null,\"dry_run\":false,\"set_by_program\":[],\"injected\":[\"SO_REUSEADDR\"],"
	"\"action\":null,\"holders\":[],\"reason\":null,\"suppressed\":0,\"message\":null}";

static void values_and_escapes(void **state)
{
	(void)state;
	const char *t = " {\"a\":\"x\\n\\u00e9\\\"\",\"n\":-12.5e1,\"b\":[true,false,null],\"o\":{}} ";
	struct aj *v = aj_parse(t, strlen(t));
	assert_non_null(v);
	assert_string_equal(aj_str(v, "a"), "x\n\xc3\xa9\"");
	assert_int_equal(aj_int(v, "n", 0), -125);
	assert_int_equal(aj_get(v, "b")->child->next->type, AJ_BOOL);
	assert_null(aj_str(v, "missing"));
	assert_int_equal(aj_int(v, "a", 7), 7); /* a string is no number */
	aj_free(v);
}

static void garbage_is_refused(void **state)
{
	(void)state;
	static const char *const bad[] = { "", "{", "}", "{\"a\"}", "{\"a\":}", "[1,]", "{\"a\":1,}",
					   "\"\\x\"", "\"\\u12\"", "tru", "nul", "1e999", "{} {}",
					   "\"a\nb\"", "[1 2]", "{1:2}", "-", "\"unterminated" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct aj *v = aj_parse(bad[i], strlen(bad[i]));
		if (v)
			fail_msg("parsed: %s", bad[i]);
	}
	/* Nesting deeper than the bound: refused, not a deep recursion. */
	char deep[100001];
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	assert_null(aj_parse(deep, strlen(deep)));
}

/* Every prefix of a real line, and random bytes: counted as bad, never a
 * crash (run under ASan by make check SANITIZE=address). */
static void truncations_and_noise(void **state)
{
	(void)state;
	struct au_model m;
	au_model_init(&m);
	size_t n = strlen(bind_line);
	for (size_t i = 0; i < n; i++)
		au_model_line(&m, bind_line, i);
	assert_int_equal(m.bad, n - 1); /* the empty prefix is a blank line */
	srand(7);
	static const char alphabet[] = "{}[]\",:0123456789.-eEtruefalsn\\u \x01\xff";
	char noise[512];
	for (int k = 0; k < 20000; k++) {
		size_t len = (size_t)(rand() % (int)sizeof(noise));
		for (size_t i = 0; i < len; i++)
			noise[i] = alphabet[(size_t)rand() % (sizeof(alphabet) - 1)];
		au_model_line(&m, noise, len);
	}
	au_model_line(&m, bind_line, n);
	assert_int_equal(m.nprogs, 1);
	au_model_free(&m);
}

static void a_listener_and_a_conflict(void **state)
{
	(void)state;
	struct au_model m;
	au_model_init(&m);
	au_model_line(&m, bind_line, strlen(bind_line));
	const char *listen_line =
		"{\"ts\":\"2026-12-06T20:18:23.000Z\",\"pid\":32292,\"event\":\"call\",\"program\":\"python3\","
		"\"op\":\"listen\",\"proto\":\"tcp\",\"addr\":\"127.0.0.1\",\"port\":56469,\"result\":0}";
	au_model_line(&m, listen_line, strlen(listen_line));
	const char *conflict =
		"{\"ts\":\"2026-12-06T20:18:21.000Z\",\"pid\":40,\"event\":\"conflict\",\"program\":\"python3\","
		"\"op\":\"bind\",\"proto\":\"tcp\",\"addr\":\"127.0.0.1\",\"port\":80,\"result\":-1,"
		"\"errno\":\"EADDRINUSE\",\"holders\":[{\"pid\":9,\"program\":\"nginx\",\"state\":\"LISTEN\"},"
		"{\"pid\":null,\"state\":\"TIME_WAIT\"}],\"reason\":\"held\"}";
	au_model_line(&m, conflict, strlen(conflict));
	au_model_line(&m, conflict, strlen(conflict));
	assert_int_equal(m.bad, 0);
	struct au_prog *p = au_model_find(&m, "python3");
	assert_non_null(p);
	assert_int_equal(p->nprocs, 2);
	assert_string_equal(p->procs[0].first, "2026-12-06T20:18:22.848Z");
	assert_string_equal(p->procs[0].last, "2026-12-06T20:18:23.000Z");
	assert_int_equal(p->nfails, 1);
	assert_int_equal(p->fails[0].count, 2);
	assert_string_equal(p->fails[0].holder, "pid 9 (nginx) LISTEN and 1 more");
	struct au_verdict v;
	au_verdict(p, &v);
	assert_int_equal(v.listeners, 1);
	assert_true(v.restart_at_once); /* SO_REUSEADDR was injected */
	assert_false(v.can_share);
	assert_true(v.loses_connections);
	assert_int_equal(v.conflicts, 2);
	au_model_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(values_and_escapes),
		cmocka_unit_test(garbage_is_refused),
		cmocka_unit_test(truncations_and_noise),
		cmocka_unit_test(a_listener_and_a_conflict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

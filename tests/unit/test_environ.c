/* The environment at start (src/preload/environ.c, included whole): only
 * what libreuse reads is kept, in copies of its own that outlive what the
 * program does to its environment; the first capture wins; a child is
 * given back LIBREUSE_* and LD_PRELOAD alone. One capture per process (it is
 * once by design), so the checks share it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/preload/environ.c"

static char e_config[] = "LIBREUSE_CONFIG=/etc/one.conf";
static char e_rules[] = "LIBREUSE_RULES=rules = ( );";
static char e_preload[] = "LD_PRELOAD=/lib/libreuse.so";
static char e_listen[] = "LISTEN_PID=42";
static char e_xdg[] = "XDG_RUNTIME_DIR=/run/user/0";
static char e_home[] = "HOME=/root";
static char e_empty[] = "LIBREUSE_LOG=";
static char e_near[] = "LIBREUSE_CONFIGX=/nope";
static char *start[] = { e_home, e_config, e_rules, e_preload, e_listen, e_xdg, e_empty, e_near, NULL };

static void captured_then_overwritten(void **state)
{
	(void)state;
	lr_env_capture(start);
	/* What setproctitle does, and a program that clears its environment. */
	memset(e_config, 'x', sizeof(e_config) - 1);
	start[1] = NULL;
	assert_string_equal(lr_env_get("LIBREUSE_CONFIG"), "/etc/one.conf");
	assert_string_equal(lr_env_get("LIBREUSE_RULES"), "rules = ( );");
	assert_string_equal(lr_env_get("LISTEN_PID"), "42");
	assert_string_equal(lr_env_get("XDG_RUNTIME_DIR"), "/run/user/0");
	assert_string_equal(lr_env_get("LIBREUSE_LOG"), "");
	assert_string_equal(lr_env_get("LIBREUSE_CONFIGX"), "/nope");
	assert_true(lr_env_complete());
	assert_false(lr_env_secure());
}

static void only_what_is_read(void **state)
{
	(void)state;
	assert_null(lr_env_get("HOME"));
	assert_null(lr_env_get("LIBREUSE_CONF"));
	assert_null(lr_env_get("LIBREUSE_NOTHING"));
	assert_null(lr_env_get(""));
}

static void first_capture_wins(void **state)
{
	(void)state;
	static char other[] = "LIBREUSE_CONFIG=/other.conf";
	char *later[] = { other, NULL };
	lr_env_capture(later);
	assert_string_equal(lr_env_get("LIBREUSE_CONFIG"), "/etc/one.conf");
}

static void carried_to_children(void **state)
{
	(void)state;
	char *const *c = lr_env_carried();
	const char *want[] = { "LIBREUSE_CONFIG=/etc/one.conf", "LIBREUSE_RULES=rules = ( );",
			       "LD_PRELOAD=/lib/libreuse.so", "LIBREUSE_LOG=",
			       "LIBREUSE_CONFIGX=/nope" };
	size_t n = 0;
	while (c[n])
		n++;
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++)
		assert_string_equal(c[i], want[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(captured_then_overwritten),
		cmocka_unit_test(only_what_is_read),
		cmocka_unit_test(first_capture_wins),
		cmocka_unit_test(carried_to_children),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

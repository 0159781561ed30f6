/* Every example rule file in config/ loads and validates, so an example can
 * never rot. Run from the repository root (tests/run.sh does). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "compile.h"
#include "config.h"

#include <glob.h>
#include <stdio.h>

static void every_example_loads(void **state)
{
	(void)state;
	glob_t g;
	assert_int_equal(glob("config/*.conf", 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 6);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct lr_ruleset rs;
		char err[512];
		lr_ruleset_init(&rs);
		if (lr_config_load_file(g.gl_pathv[i], &rs, err, sizeof(err)) != LR_CONFIG_OK)
			fail_msg("%s", err);
		if (rs.nrules == 0)
			fail_msg("%s has no rules", g.gl_pathv[i]);
		struct lr_table *t = lr_table_compile(&rs, NULL, NULL);
		assert_non_null(t);
		lr_table_free(t);
		lr_ruleset_free(&rs);
	}
	globfree(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_example_loads),
	};
	return cmocka_run_group_tests_name("examples", tests, NULL, NULL);
}

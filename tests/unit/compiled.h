/* For tests of what a table says: rule text compiled and opened for a
 * program called "prog", as the library would see it. */
#ifndef LIBREUSE_TEST_COMPILED_H
#define LIBREUSE_TEST_COMPILED_H

#include "compile.h"
#include "config.h"

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

#endif

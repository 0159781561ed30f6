#include "tablemake.h"

#include "compile.h"
#include "config.h"
#include "table.h"

#include <stdio.h>
#include <string.h>

enum lr_make_result lr_table_make(const struct lr_sources *src, void **image, size_t *len,
				  char *msg, size_t msglen)
{
	char err[1024];
	msg[0] = '\0';
	struct lr_ruleset rs;
	lr_ruleset_init(&rs);
	bool have = false;
	/* LIBREUSE_RULES first: its rules come before the file's and its log
	 * settings are the ones kept (see config.c). */
	if (src->inline_rules) {
		if (lr_config_load_text(src->inline_rules, "LIBREUSE_RULES", NULL, &rs, err,
					sizeof(err)) != LR_CONFIG_OK) {
			snprintf(msg, msglen, "%s; rules not applied, calls pass through", err);
			lr_ruleset_free(&rs);
			return LR_MAKE_ERROR;
		}
		have = true;
	}
	enum lr_config_result r = src->config_fd == LR_CONFIG_FD_ABSENT
					  ? LR_CONFIG_MISSING
					  : lr_config_load_fd(src->config_fd, src->config_path, &rs, err,
							      sizeof(err));
	if (r == LR_CONFIG_ERROR) {
		snprintf(msg, msglen, "%s; rules not applied, calls pass through", err);
		lr_ruleset_free(&rs);
		return LR_MAKE_ERROR;
	}
	if (r == LR_CONFIG_MISSING) {
		if (src->config_from_env)
			snprintf(msg, msglen, "%s: no such rule file (LIBREUSE_CONFIG)%s",
				 src->config_path,
				 have ? "; using LIBREUSE_RULES alone" : "; calls pass through");
		/* Absent, and recorded so: the table is stale once it appears. */
		struct stat none;
		memset(&none, 0, sizeof(none));
		if (have && lr_ruleset_add_source(&rs, src->config_path, &none) != 0)
			goto oom;
	}
	if (!have && r != LR_CONFIG_OK) {
		lr_ruleset_free(&rs);
		return LR_MAKE_NOTHING;
	}
	struct lr_build_info info = { .notes = msg, .inline_hash = src->inline_hash };
	if (lr_table_build(&rs, &info, image, len) != 0)
		goto oom;
	lr_ruleset_free(&rs);
	return LR_MAKE_OK;
oom:
	lr_ruleset_free(&rs);
	snprintf(msg, msglen, "out of memory while loading rules from %s", src->config_path);
	return LR_MAKE_ERROR;
}

#include "load.h"

#include "config.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#ifndef LR_SYSCONFDIR
#define LR_SYSCONFDIR "/etc"
#endif

void lr_sources_find(struct lr_sources *src)
{
	memset(src, 0, sizeof(*src));
	/* Secure execution (setuid, setgid, file capabilities): the caller's
	 * environment is not to be trusted, only the system rule file counts. */
	src->secure = getauxval(AT_SECURE) != 0;
	const char *env = src->secure ? NULL : secure_getenv("LIBREUSE_CONFIG");
	if (env && env[0]) {
		src->config_path = env;
		src->config_from_env = true;
	} else {
		src->config_path = LR_SYSCONFDIR "/libreuse.conf";
	}
	const char *rules = src->secure ? NULL : secure_getenv("LIBREUSE_RULES");
	src->inline_rules = rules && rules[0] ? rules : NULL;
}

void lr_loaded_free(struct lr_loaded *l)
{
	if (!l)
		return;
	lr_sink_close(&l->sink);
	lr_table_free(l->table);
	free(l);
}

struct lr_loaded *lr_load(const struct lr_sources *src, const char *exe, const char *argv0,
			  struct lr_sink *errors)
{
	char err[1024];
	struct lr_ruleset rs;
	lr_ruleset_init(&rs);
	bool have = false;
	/* LIBREUSE_RULES first: its rules come before the file's and its log
	 * settings are the ones kept (see config.c). */
	if (src->inline_rules) {
		if (lr_config_load_text(src->inline_rules, "LIBREUSE_RULES", NULL, &rs, err, sizeof(err)) !=
		    LR_CONFIG_OK) {
			lr_log_parts(errors, err, "; rules not applied, calls pass through", NULL);
			lr_ruleset_free(&rs);
			return NULL;
		}
		have = true;
	}
	enum lr_config_result r = lr_config_load_file(src->config_path, &rs, err, sizeof(err));
	if (r == LR_CONFIG_ERROR) {
		lr_log_parts(errors, err, "; rules not applied, calls pass through", NULL);
		lr_ruleset_free(&rs);
		return NULL;
	}
	if (r == LR_CONFIG_MISSING && src->config_from_env)
		lr_log_parts(errors, src->config_path, ": no such rule file (LIBREUSE_CONFIG)",
		       have ? "; using LIBREUSE_RULES alone" : "; calls pass through");
	have = have || r == LR_CONFIG_OK;
	if (!have) {
		lr_ruleset_free(&rs);
		return NULL;
	}
	struct lr_loaded *l = calloc(1, sizeof(*l));
	if (l)
		l->table = lr_table_compile(&rs, exe && exe[0] ? exe : NULL, argv0);
	lr_ruleset_free(&rs);
	if (!l || !l->table) {
		free(l);
		lr_log_parts(errors, "out of memory while loading rules from ", src->config_path, NULL);
		return NULL;
	}
	/* libconfig's parse tree is freed by now; hand its pages back rather
	 * than leave megabytes of a 10,000-rule file resident in the host. */
	malloc_trim(0);
	lr_sink_open(&l->sink, &l->table->log, err, sizeof(err));
	if (err[0])
		lr_log_message(errors, err);
	return l;
}

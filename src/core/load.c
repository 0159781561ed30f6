#include "load.h"

#include "table.h"

#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#ifndef LR_SYSCONFDIR
#define LR_SYSCONFDIR "/etc"
#endif

const char *lr_getenv_own(const char *name)
{
	return secure_getenv(name);
}

int lr_sources_find(struct lr_sources *src, lr_getenv_fn *env)
{
	memset(src, 0, sizeof(*src));
	src->env = env;
	src->config_fd = LR_CONFIG_FD_PATH;
	/* Secure execution (setuid, setgid, file capabilities): the caller's
	 * environment is not to be trusted, only the system rule file counts. */
	src->secure = getauxval(AT_SECURE) != 0;
	const char *path = src->secure ? NULL : env("LIBREUSE_CONFIG");
	src->config_from_env = path && path[0];
	src->config_path = strdup(src->config_from_env ? path : LR_SYSCONFDIR "/libreuse.conf");
	const char *rules = src->secure ? NULL : env("LIBREUSE_RULES");
	if (rules && rules[0]) {
		src->inline_rules = strdup(rules);
		src->inline_hash = lr_text_hash(rules, 0);
	}
	if (src->config_path && (!rules || !rules[0] || src->inline_rules))
		return 0;
	/* Out of memory: no sources at all, so nothing is loaded. */
	lr_sources_free(src);
	return -1;
}

void lr_sources_free(struct lr_sources *src)
{
	free(src->config_path);
	free(src->inline_rules);
	free(src->cache_dir);
	memset(src, 0, sizeof(*src));
}

void lr_loaded_free(struct lr_loaded *l)
{
	if (!l)
		return;
	lr_sink_close(&l->sink);
	lr_table_free(l->table);
	free(l);
}

struct lr_loaded *lr_loaded_of(struct lr_table *t, struct lr_sink *errors)
{
	struct lr_loaded *l = calloc(1, sizeof(*l));
	if (!l) {
		lr_log_message(errors, "out of memory while loading the rules; rules not applied");
		lr_table_free(t);
		return NULL;
	}
	l->table = t;
	if (t->notes)
		lr_log_message(errors, t->notes);
	char err[1024];
	lr_sink_open(&l->sink, &t->log, err, sizeof(err));
	if (err[0])
		lr_log_message(errors, err);
	return l;
}

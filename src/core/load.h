/* Reading the rules: where they come from (the environment, honouring
 * secure execution), and the rules in force made of a table with its log
 * sink. Shared by the library (which gets its table from the cache or its
 * helper: src/preload/fetch.c) and the command (which compiles it itself:
 * tablemake.h). */
#ifndef LIBREUSE_LOAD_H
#define LIBREUSE_LOAD_H

#include "act.h"
#include "getenv.h"

#include <stdbool.h>
#include <stdint.h>

/* The command's: secure_getenv, typed as lr_getenv_fn. */
const char *lr_getenv_own(const char *name);

/* config_fd: the rule file itself, opened by the one who may read it (the
 * library, for its helper): LR_CONFIG_FD_PATH to open config_path instead,
 * LR_CONFIG_FD_ABSENT when it was found missing. */
#define LR_CONFIG_FD_PATH (-1)
#define LR_CONFIG_FD_ABSENT (-2)

struct lr_sources {
	bool secure;
	bool config_from_env;
	lr_getenv_fn *env; /* what the cache directory and the helper are read with */
	int config_fd;     /* LR_CONFIG_FD_PATH unless set otherwise; not owned */
	char *cache_dir;   /* the cache directory decided by another (the helper's
			      argv), or NULL: from env */
	/* Copies of their own: the program may change its environment. */
	char *config_path;  /* a file (which may not exist); NULL: no sources */
	char *inline_rules; /* LIBREUSE_RULES text, or NULL */
	uint64_t inline_hash; /* lr_text_hash of inline_rules, or 0 */
};

/* From LIBREUSE_CONFIG and LIBREUSE_RULES as env reads them; in secure
 * execution (set-ID, file capabilities) only the system rule file. -1 when
 * out of memory. */
int lr_sources_find(struct lr_sources *src, lr_getenv_fn *env);
void lr_sources_free(struct lr_sources *src);

/* The rules in force for one program: t (taken over, freed with the
 * result), its sink opened, and the table's notes said on `errors`. NULL
 * when out of memory (t is freed then too). */
struct lr_loaded *lr_loaded_of(struct lr_table *t, struct lr_sink *errors);
void lr_loaded_free(struct lr_loaded *l);

#endif

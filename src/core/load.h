/* Reading the rules: where they come from (the environment, honouring
 * secure execution) and the table they compile to for one program, with
 * its log sink. Shared by the shim (at its first IP socket call and on
 * reload) and the supervisor (once per program it serves). */
#ifndef LIBREUSE_LOAD_H
#define LIBREUSE_LOAD_H

#include "act.h"

#include <stdbool.h>

struct lr_sources {
	bool secure;
	bool config_from_env;
	const char *config_path;  /* a file (which may not exist) */
	const char *inline_rules; /* LIBREUSE_RULES text, or NULL */
};

/* From LIBREUSE_CONFIG and LIBREUSE_RULES; in secure execution (set-ID,
 * file capabilities) only the system rule file. */
void lr_sources_find(struct lr_sources *src);

/* Reads every source and compiles the rules that apply to a program called
 * exe (basename of the executable) or argv0; NULL when there is nothing to
 * load, or when something is wrong (said on `errors`, once). */
struct lr_loaded *lr_load(const struct lr_sources *src, const char *exe, const char *argv0,
			  struct lr_sink *errors);
void lr_loaded_free(struct lr_loaded *l);

#endif

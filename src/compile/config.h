/* The rule file: libconfig text → validated lr_ruleset, with every error
 * reported as "FILE:LINE: message". Runs at load time inside the host, so it
 * must survive any file: it never lets libconfig reach its exit() paths and
 * leaves the calling thread's locale as it found it. */
#ifndef LIBREUSE_CONFIG_H
#define LIBREUSE_CONFIG_H

#include "ruleset.h"

#include <stddef.h>

enum lr_config_result {
	LR_CONFIG_OK = 0,
	LR_CONFIG_MISSING = 1, /* no such file: the caller decides if that is an error */
	LR_CONFIG_ERROR = -1,  /* err holds "FILE:LINE: message" */
};

/* Largest rule file read; a larger one (or /dev/zero) is refused. */
#define LR_CONFIG_MAX_BYTES (16u << 20)

/* Parses and validates, appending rules and settings to rs (initialised by
 * the caller with lr_ruleset_init). On error rs may hold a partial result and
 * must be freed, not used. */
enum lr_config_result lr_config_load_file(const char *path, struct lr_ruleset *rs,
					  char *err, size_t errlen);
/* The same for the rule file already open at fd (by the one whose right to
 * read it counts), called path in messages and in the table's sources;
 * fd < 0: opened here. */
enum lr_config_result lr_config_load_fd(int fd, const char *path, struct lr_ruleset *rs,
					char *err, size_t errlen);
/* Same for text held in memory (LIBREUSE_RULES); name is used in messages
 * and relative @include resolves against include_dir (NULL: refused). */
enum lr_config_result lr_config_load_text(const char *text, const char *name,
					  const char *include_dir, struct lr_ruleset *rs,
					  char *err, size_t errlen);

#endif

/* The rule compiler: a ruleset into a table image (table.h's format), in
 * the command only. */
#ifndef LIBREUSE_COMPILE_H
#define LIBREUSE_COMPILE_H

#include "ruleset.h"
#include "table.h"

#include <stddef.h>
#include <stdint.h>

/* What a table is compiled from besides the ruleset. */
struct lr_build_info {
	const char *notes;    /* NULL: none */
	uint64_t inline_hash; /* lr_text_hash of LIBREUSE_RULES, or 0 */
};

/* The image of a ruleset's table, in malloc'ed memory the caller frees.
 * 0, or -1 when out of memory. */
int lr_table_build(const struct lr_ruleset *rs, const struct lr_build_info *info, void **image,
		   size_t *len);

/* Compiles a ruleset to a table image and opens it for a program called exe
 * (basename of the executable) or argv0; both NULL keeps every rule. NULL
 * when out of memory. (The image alone: lr_table_build.) */
struct lr_table *lr_table_compile(const struct lr_ruleset *rs, const char *exe,
				  const char *argv0);

#endif

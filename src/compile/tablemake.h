/* Rule sources → table image, outside the program: the `libreuse` command
 * (check, run, the supervisor, and `compile`, the helper the library
 * starts). The only place libconfig runs. */
#ifndef LIBREUSE_TABLEMAKE_H
#define LIBREUSE_TABLEMAKE_H

#include "load.h"

#include <stddef.h>

enum lr_make_result {
	LR_MAKE_OK,      /* *image holds the table (malloc'ed) */
	LR_MAKE_NOTHING, /* no source holds rules: calls pass through */
	LR_MAKE_ERROR,   /* msg says why, in the words the library logs */
};

/* Reads LIBREUSE_RULES, then the rule file, and compiles both. With OK or
 * NOTHING, msg may still hold a line to say (a missing LIBREUSE_CONFIG). */
enum lr_make_result lr_table_make(const struct lr_sources *src, void **image, size_t *len,
				  char *msg, size_t msglen);

#endif

/* Where the library's rules come from: a compiled table in the cache when
 * one is there, fresh and trusted; otherwise the helper compiles one (and
 * caches it for the next program). The library itself never parses. */
#ifndef LIBREUSE_FETCH_H
#define LIBREUSE_FETCH_H

#include "fileid.h"
#include "load.h"

/* The program's path (its basename), read when first asked: only a table
 * whose rules name a program needs it. */
typedef const char *lr_exe_fn(void);

/* The rules in force for a program called exe_of() or argv0, or NULL when
 * there are none (nothing to load, or something went wrong: said on
 * errors). config: the rule file as the caller looked at it just now. */
struct lr_loaded *lr_fetch(const struct lr_sources *src, const struct lr_file_id *config,
			   lr_exe_fn *exe_of, const char *argv0, struct lr_sink *errors);

#endif

/* Where the library's rules come from: a compiled table in the cache when
 * one is there, fresh and trusted; otherwise the helper compiles one (and
 * caches it for the next program). The library itself never parses. */
#ifndef LIBREUSE_FETCH_H
#define LIBREUSE_FETCH_H

#include "load.h"

/* The rules in force for a program called exe or argv0, or NULL when there
 * are none (nothing to load, or something went wrong: said on errors). */
struct lr_loaded *lr_fetch(const struct lr_sources *src, const char *exe, const char *argv0,
			   struct lr_sink *errors);

#endif

/* Writing a compiled table to the cache the library reads. */
#ifndef LIBREUSE_CACHEWRITE_H
#define LIBREUSE_CACHEWRITE_H

#include "tablecache.h"

#include <stddef.h>

/* Writes an image to the cache, atomically, creating the directory (0700)
 * if needed; refuses a directory it could not trust. 0, or -1 with *why. */
int lr_cache_write(const struct lr_sources *src, const void *image, size_t len, const char **why);

#endif

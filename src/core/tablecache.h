/* Compiled tables kept between program starts, and the trust they need. A
 * table is found by a name made of what it was compiled from (the rule
 * file's path, the LIBREUSE_RULES text, the table version), in a directory
 * of the effective user's; it is used only while owned by that user or root
 * and writable by nobody else, and only while every file it was compiled
 * from is as it was. */
#ifndef LIBREUSE_TABLECACHE_H
#define LIBREUSE_TABLECACHE_H

#include "fileid.h"
#include "load.h"
#include "table.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* src->cache_dir when set (the helper is told it), else $LIBREUSE_CACHE_DIR, else $XDG_RUNTIME_DIR/libreuse (neither in secure
 * execution), else /run/libreuse for root and /tmp/libreuse-EUID for
 * others. -1 when it does not fit. */
int lr_cache_dir(const struct lr_sources *src, char *out, size_t n);
/* DIR/HASH.table for the sources. -1 when it does not fit. */
int lr_cache_path(const struct lr_sources *src, const char *dir, char *out, size_t n);

/* NULL when a file or directory of that status may be trusted by this
 * process; otherwise why not, in a few words. */
const char *lr_cache_distrust(const struct stat *st);
/* The same, asking the euid only if it matters and not again: *euid is
 * (uid_t)-1 until asked. */
const char *lr_cache_distrust_as(const struct stat *st, uid_t *euid);

/* Reads a whole fd (a cache file, the helper's pipe) into fresh anonymous
 * memory made read-only, within deadline_ms (< 0: none) and max bytes.
 * size: what it is expected to hold (a regular file's size), or 0. 0, or
 * -1 with *why; the memory is released with lr_image_release. */
int lr_image_read(int fd, size_t size, size_t max, int deadline_ms, void **image, size_t *len,
		  const char **why);
void lr_image_release(void *image, size_t len);

/* Whether every file a table was compiled from is still as it was, and it
 * was compiled with the same LIBREUSE_RULES. config: the rule file as the
 * caller found it just now (NULL: looked at here). */
bool lr_table_fresh(const struct lr_table *t, const struct lr_sources *src,
		    const struct lr_file_id *config);

/* The identity path had when the table was compiled from it; false when
 * the table was not compiled from it. */
bool lr_table_source_id(const struct lr_table *t, const char *path, struct lr_file_id *out);

#endif

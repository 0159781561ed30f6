/* Reading one JSON line of a libreuse log, for `libreuse audit`. The lines
 * come from files anyone may have cut, mixed or garbled: the parser takes
 * any bytes, bounds its depth and size, and answers NULL rather than guess. */
#ifndef LIBREUSE_AUDIT_JSON_H
#define LIBREUSE_AUDIT_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum aj_type { AJ_NULL, AJ_BOOL, AJ_NUM, AJ_STR, AJ_ARR, AJ_OBJ };

struct aj {
	enum aj_type type;
	bool b;
	double num;
	char *str;        /* AJ_STR: unescaped, NUL-terminated */
	char *key;        /* the member's name, inside an object */
	struct aj *child; /* AJ_ARR, AJ_OBJ: first element or member */
	struct aj *next;
};

/* Parses exactly one JSON value (surrounding blanks allowed); NULL when the
 * text is not one, or is nested deeper than 16 levels. */
struct aj *aj_parse(const char *text, size_t len);
void aj_free(struct aj *v);

/* A member of an object, or NULL. */
const struct aj *aj_get(const struct aj *obj, const char *key);
/* The member's string, or NULL when absent or not a string. */
const char *aj_str(const struct aj *obj, const char *key);
/* The member's number as an int; def when absent or not a number. */
long aj_int(const struct aj *obj, const char *key, long def);

#endif

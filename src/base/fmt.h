/* Appending text and numbers to a fixed buffer, for log lines built on the
 * stack inside intercepted calls: snprintf is neither async-signal-safe nor
 * locale-free, so nothing on the call path uses it. */
#ifndef LIBREUSE_FMT_H
#define LIBREUSE_FMT_H

#include <stddef.h>
#include <stdint.h>

struct lr_buf {
	char *p;
	size_t len; /* bytes used, excluding the NUL kept after them */
	size_t cap; /* size of p, including room for that NUL */
};

#define LR_BUF(arr) ((struct lr_buf){ .p = (arr), .len = 0, .cap = sizeof(arr) })

/* Each append truncates silently at cap-1 and keeps p NUL-terminated. */
void lr_buf_str(struct lr_buf *b, const char *s);
void lr_buf_mem(struct lr_buf *b, const char *s, size_t n);
void lr_buf_char(struct lr_buf *b, char c);
void lr_buf_u64(struct lr_buf *b, uint64_t v);
void lr_buf_i64(struct lr_buf *b, int64_t v);
void lr_buf_hex(struct lr_buf *b, uint64_t v, int min_digits);
/* s as the inside of a JSON string: quotes, backslashes, control bytes and
 * bytes that are not valid UTF-8 are escaped (the latter as \u00XX). */
void lr_buf_json_str(struct lr_buf *b, const char *s);

#endif

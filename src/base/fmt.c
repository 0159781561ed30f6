#include "fmt.h"

#include <string.h>

void lr_buf_mem(struct lr_buf *b, const char *s, size_t n)
{
	if (b->cap == 0)
		return;
	size_t room = b->cap - 1 - b->len;
	if (n > room)
		n = room;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void lr_buf_str(struct lr_buf *b, const char *s)
{
	lr_buf_mem(b, s, strlen(s));
}

void lr_buf_char(struct lr_buf *b, char c)
{
	lr_buf_mem(b, &c, 1);
}

void lr_buf_u64(struct lr_buf *b, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	lr_buf_mem(b, tmp + i, sizeof(tmp) - i);
}

void lr_buf_i64(struct lr_buf *b, int64_t v)
{
	if (v < 0) {
		lr_buf_char(b, '-');
		lr_buf_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		lr_buf_u64(b, (uint64_t)v);
	}
}

void lr_buf_hex(struct lr_buf *b, uint64_t v, int min_digits)
{
	char tmp[16];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
		min_digits--;
	} while ((v || min_digits > 0) && i > 0);
	lr_buf_mem(b, tmp + i, sizeof(tmp) - i);
}

/* Length of the valid UTF-8 sequence at s, or 0 when it is not one. */
static size_t utf8_seq_len(const unsigned char *s)
{
	size_t n;
	unsigned min;
	unsigned cp;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2, cp = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3, cp = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4, cp = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void lr_buf_json_str(struct lr_buf *b, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	while (*u) {
		unsigned char c = *u;
		if (c == '"' || c == '\\') {
			lr_buf_char(b, '\\');
			lr_buf_char(b, (char)c);
			u++;
		} else if (c < 0x20 || c == 0x7f) {
			lr_buf_str(b, "\\u00");
			lr_buf_hex(b, c, 2);
			u++;
		} else {
			size_t n = utf8_seq_len(u);
			if (n == 0) {
				/* Not UTF-8: keep the byte's value visible, as a code point. */
				lr_buf_str(b, "\\u00");
				lr_buf_hex(b, c, 2);
				u++;
			} else {
				lr_buf_mem(b, (const char *)u, n);
				u += n;
			}
		}
	}
}

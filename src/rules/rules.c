#include "rules.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Past this many candidate entries an op's index is not expanded per port
 * interval (pathological overlapping ranges would make it quadratic); the op
 * then keeps one interval holding all its rules, which is still correct. */
#define LR_INDEX_MAX_ENTRIES (1u << 20)

bool lr_glob_match(const char *p, const char *s)
{
	/* Iterative: on a mismatch go back to just after the last '*' and let it
	 * swallow one more character. Linear space, no recursion. */
	const char *star_p = NULL, *star_s = NULL;
	while (*s) {
		if (*p == '*') {
			star_p = ++p;
			star_s = s;
			continue;
		}
		bool ok = false;
		const char *next = p + 1;
		if (*p == '?') {
			ok = true;
		} else if (*p == '[') {
			const char *q = p + 1;
			bool neg = (*q == '!' || *q == '^');
			bool in = false;
			if (neg)
				q++;
			const char *first = q;
			while (*q && (*q != ']' || q == first)) {
				if (q[1] == '-' && q[2] && q[2] != ']') {
					if ((unsigned char)*s >= (unsigned char)q[0] &&
					    (unsigned char)*s <= (unsigned char)q[2])
						in = true;
					q += 3;
				} else {
					if (*q == *s)
						in = true;
					q++;
				}
			}
			if (*q == ']') {
				ok = in != neg;
				next = q + 1;
			} else {
				ok = (*p == *s); /* unterminated: a literal '[' */
			}
		} else if (*p) {
			ok = (*p == *s);
		}
		if (ok) {
			p = next;
			s++;
		} else if (star_p) {
			p = star_p;
			s = ++star_s;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}


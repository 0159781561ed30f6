#include "errname.h"

#include <string.h>

/* glibc's own tables (2.32+): plain array lookups, no locale, no allocation,
 * unlike strerror. */
int lr_errno_from_name(const char *name)
{
	for (int e = 1; e < 4096; e++) {
		const char *n = strerrorname_np(e);
		if (n && strcmp(n, name) == 0)
			return e;
	}
	return 0;
}

const char *lr_errno_name(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

const char *lr_errno_text(int e)
{
	const char *t = strerrordesc_np(e);
	return t ? t : "Unknown error";
}

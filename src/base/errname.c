#include "errname.h"

#include <stddef.h>
#include <string.h>

#include "errtab.h"

/* The library's own table, not strerrorname_np and friends (glibc 2.32+
 * only): plain array lookups, no locale, no allocation, and the same words
 * under musl as under glibc. */
#define N_ERR (sizeof(lr_errtab) / sizeof(lr_errtab[0]))
#define N_SIG (sizeof(lr_sigtab) / sizeof(lr_sigtab[0]))

int lr_errno_from_name(const char *name)
{
	for (size_t e = 1; e < N_ERR; e++)
		if (lr_errtab[e].name && strcmp(lr_errtab[e].name, name) == 0)
			return (int)e;
	return 0;
}

const char *lr_errno_name(int e)
{
	return e > 0 && (size_t)e < N_ERR && lr_errtab[e].name ? lr_errtab[e].name : "E?";
}

const char *lr_errno_text(int e)
{
	return e > 0 && (size_t)e < N_ERR && lr_errtab[e].text ? lr_errtab[e].text : "Unknown error";
}

const char *lr_signal_abbrev(int sig)
{
	return sig > 0 && (size_t)sig < N_SIG ? lr_sigtab[sig] : NULL;
}

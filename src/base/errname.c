#include "errname.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "errtab.h"

/* The library's own table, not strerrorname_np and friends (glibc 2.32+
 * only): plain array lookups, no locale, no allocation, and the same words
 * under musl as under glibc. Its words are one block with offsets into it,
 * not arrays of pointers: each pointer in a shared library's data is a
 * relocation ld.so applies at every process's start, into a page it then
 * writes (262 of them, two thirds of the library's); an offset is neither. */
static const struct errwords {
	char none; /* offset 0: no such errno */
#define WORDS(n, name, text) char name_##n[sizeof(#name)], text_##n[sizeof(text)];
	LR_ERRNOS(WORDS)
#undef WORDS
} errwords = {
	0,
#define WORDS(n, name, text) #name, text,
	LR_ERRNOS(WORDS)
#undef WORDS
};
_Static_assert(sizeof(errwords) <= UINT16_MAX, "offsets fit 16 bits");
static const uint16_t name_at[] = {
#define AT(n, name, text) [n] = offsetof(struct errwords, name_##n),
	LR_ERRNOS(AT)
#undef AT
};
static const uint16_t text_at[] = {
#define AT(n, name, text) [n] = offsetof(struct errwords, text_##n),
	LR_ERRNOS(AT)
#undef AT
};
#define N_ERR (sizeof(name_at) / sizeof(name_at[0]))
#define N_SIG (sizeof(lr_sigtab) / sizeof(lr_sigtab[0]))

int lr_errno_from_name(const char *name)
{
	for (size_t e = 1; e < N_ERR; e++)
		if (name_at[e] && strcmp((const char *)&errwords + name_at[e], name) == 0)
			return (int)e;
	return 0;
}

const char *lr_errno_name(int e)
{
	return e > 0 && (size_t)e < N_ERR && name_at[e] ? (const char *)&errwords + name_at[e] : "E?";
}

const char *lr_errno_text(int e)
{
	return e > 0 && (size_t)e < N_ERR && text_at[e] ? (const char *)&errwords + text_at[e]
							: "Unknown error";
}

const char *lr_signal_abbrev(int sig)
{
	return sig > 0 && (size_t)sig < N_SIG ? lr_sigtab[sig] : NULL;
}

#include "environ.h"

#include "once.h"
#include "sys.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

/* The capture runs in every process the library is loaded into, socket or
 * not, so it calls as few of libc's functions as it can: the first call of
 * each from the library is a symbol lookup (about 800 instructions). Its
 * strings are walked by these, its memory mapped through syscall() (sys.h). */
static bool starts_with(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return false;
	return true;
}

static size_t length(const char *s)
{
	const char *e = s;
	while (*e)
		e++;
	return (size_t)(e - s);
}

/* Which variables are kept: those the library reads (load, tablecache,
 * fetch, keepclient, sdfds), and LD_PRELOAD, which a child is given back. */
static bool wanted(const char *e)
{
	static const char names[][17] = { "LIBREUSE_", "LD_PRELOAD=", "XDG_RUNTIME_DIR=",
					  "LISTEN_PID=", "LISTEN_FDS=", "LISTEN_FDNAMES=" };
	/* Every process under the library pays this, once per variable of its
	 * environment, at load: most variables are refused by their first
	 * letter. */
	if (e[0] != 'L' && e[0] != 'X')
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (starts_with(e, names[i]))
			return true;
	return false;
}

static bool carried(const char *e)
{
	return starts_with(e, "LIBREUSE_") || starts_with(e, "LD_PRELOAD=");
}

/* Written once, by the first capture under `once`; read-only afterwards.
 * kept[] holds every wanted entry, carry[] the subset a child is given;
 * both point into one block of ours. */
static lr_once_t once = LR_ONCE_INIT;
/* What capture() reads: the first non-NULL envp offered, set before
 * lr_once runs capture (NULL: `environ` as it is then). */
static _Atomic(char **) start_envp;
static char **kept;
static char **carry;
static char *no_carry[1]; /* out of memory, or secure execution */
static bool secure;

static void capture(void)
{
	secure = getauxval(AT_SECURE) != 0;
	char **envp = atomic_load(&start_envp);
	if (!envp)
		envp = environ;
	size_t count = 0, bytes = 0;
	for (char **e = envp; e && *e; e++)
		if (wanted(*e)) {
			count++;
			bytes += length(*e) + 1;
		}
	/* One block: kept[count+1], carry[count+1], then the strings; mapped,
	 * not from the host's malloc, which may not be ready (a hook before the
	 * constructors) or may fail (then the load says so: lr_env_complete). */
	size_t ptrs = 2 * (count + 1) * sizeof(char *);
	char **block = lr_sys_mmap(ptrs + bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	if (block == MAP_FAILED)
		return;
	char *text = (char *)block + ptrs, *end = text + bytes;
	char **k = block, **c = block + count + 1;
	size_t nk = 0, nc = 0;
	for (char **e = envp; e && *e && nk < count; e++) {
		if (!wanted(*e))
			continue;
		/* Within the bytes the first pass counted, should another
		 * thread have changed the strings since. */
		if (text == end)
			break;
		k[nk++] = text;
		if (!secure && carried(*e))
			c[nc++] = text;
		for (const char *from = *e; *from && text < end - 1;)
			*text++ = *from++;
		*text++ = '\0';
	}
	k[nk] = NULL;
	c[nc] = NULL;
	/* Read-only from here: nothing of the host's can write into it. */
	syscall(SYS_mprotect, block, ptrs + bytes, PROT_READ);
	kept = k;
	carry = c;
}

bool lr_env_complete(void)
{
	lr_env_capture(NULL);
	return kept != NULL;
}

void lr_env_capture(char **envp)
{
	/* Only the first envp offered is read; one offered after capture() ran
	 * is ignored. */
	char **none = NULL;
	if (envp)
		atomic_compare_exchange_strong(&start_envp, &none, envp);
	lr_once(&once, capture);
}

const char *lr_env_get(const char *name)
{
	lr_env_capture(NULL);
	if (secure || !kept)
		return NULL;
	size_t n = length(name);
	for (char **e = kept; *e; e++)
		if (starts_with(*e, name) && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

char *const *lr_env_carried(void)
{
	lr_env_capture(NULL);
	return carry ? carry : no_carry;
}

bool lr_env_secure(void)
{
	lr_env_capture(NULL);
	return secure;
}

/* ld.so's separators in LD_PRELOAD: colons and spaces, any number. */
static bool separator(char c)
{
	return c == ':' || c == ' ';
}

/* Whether the name [at, at + n) is libreuse's: its file name is. Asked
 * by name, not by the path the loader has for this library (dladdr), which
 * would cost every process with two preloaded libraries, valgrind's runs
 * among them, a walk of the loader's lists at start-up. */
static bool names_self(const char *at, size_t n)
{
	static const char file[] = "libreuse.so";
	size_t f = sizeof(file) - 1;
	return n >= f && memcmp(at + n - f, file, f) == 0 && (n == f || at[n - f - 1] == '/');
}

bool lr_env_preloads_after_self(void)
{
	const char *p = lr_env_get("LD_PRELOAD");
	bool seen = false;
	int names = 0;
	while (p && *p) {
		while (separator(*p))
			p++;
		const char *at = p;
		while (*p && !separator(*p))
			p++;
		if (p == at)
			break;
		if (seen)
			return true;
		seen = names_self(at, (size_t)(p - at));
		names++;
	}
	return !seen && names > 1;
}

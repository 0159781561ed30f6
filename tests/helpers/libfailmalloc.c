/* Preloaded before libreuse: once armed with lr_test_fail_from(n), the n-th
 * allocation from then on and every later one fail with ENOMEM — so a test
 * can walk a failure through each allocation libreuse's start-up makes.
 * Calls made by libconfig itself are let through and not counted: libconfig
 * 1.5 does not check its allocations (it crashes or exit()s), which no
 * caller can repair; libreuse's answer is to not start it when memory is
 * short (see config.c). */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <stdatomic.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static atomic_long fail_from, seen;

void lr_test_fail_from(long n)
{
	atomic_store(&seen, 0);
	atomic_store(&fail_from, n);
}

long lr_test_allocations(void)
{
	return atomic_load(&seen);
}

static int in_libconfig(void *caller)
{
	Dl_info info;
	return dladdr(caller, &info) && info.dli_fname && strstr(info.dli_fname, "libconfig");
}

static int failing(void *caller)
{
	long n = atomic_load(&fail_from);
	if (!n || in_libconfig(caller))
		return 0;
	long i = atomic_fetch_add(&seen, 1) + 1;
	if (i < n)
		return 0;
	errno = ENOMEM;
	return 1;
}

void *malloc(size_t n)
{
	return failing(__builtin_return_address(0)) ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	return failing(__builtin_return_address(0)) ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	return failing(__builtin_return_address(0)) ? NULL : __libc_realloc(p, n);
}

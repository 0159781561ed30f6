/* Preloaded before libreuse: counts calls to the allocator and to mutex
 * locks, so a test can show none happen on an intercepted call after start. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

static atomic_long count;

long lr_test_count(void)
{
	return atomic_load(&count);
}

#define COUNTED(ret, name, params, args)                                  \
	ret name params                                                   \
	{                                                                 \
		static ret(*real) params;                                 \
		if (!real)                                                \
			*(void **)&real = dlsym(RTLD_NEXT, #name);        \
		atomic_fetch_add(&count, 1);                              \
		return real args;                                         \
	}

COUNTED(void *, malloc, (size_t n), (n))
COUNTED(void *, realloc, (void *p, size_t n), (p, n))
COUNTED(int, pthread_mutex_lock, (pthread_mutex_t *m), (m))
COUNTED(int, pthread_rwlock_rdlock, (pthread_rwlock_t *l), (l))

/* calloc is used by dlsym itself: count it without resolving through dlsym. */
extern void *__libc_calloc(size_t, size_t);
void *calloc(size_t n, size_t size)
{
	atomic_fetch_add(&count, 1);
	return __libc_calloc(n, size);
}

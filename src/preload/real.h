/* The functions libreuse interposes, as the next library (libc) defines
 * them. Resolved once; a failed lookup falls back to the raw system call, so
 * a hook always has something real to call. */
#ifndef LIBREUSE_REAL_H
#define LIBREUSE_REAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

struct lr_real {
	int (*socket)(int, int, int);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*close)(int);
	int (*shutdown)(int, int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*close_range)(unsigned int, unsigned int, int);
	void (*closefrom)(int);
	int (*fclose)(FILE *);
};

/* Filled once (pthread_once), read-only afterwards. */
extern struct lr_real lr_real;
/* Set, with release order, once lr_real is filled. */
extern atomic_bool lr_real_ready;

void lr_real_resolve(void);

/* Every function libreuse interposes, once: X(name) for each. */
#define LR_HOOKED(X)                                                                      \
	X(socket) X(setsockopt) X(bind) X(connect) X(listen) X(close) X(shutdown) X(dup2) \
	X(dup3) X(close_range) X(closefrom) X(fclose)

/* The hooks themselves, as addresses bound inside libreuse (aliases made in
 * hooks.c): a lookup that returns one of them came back to us. */
#define LR_SELF(name) \
	extern __typeof__(name) lr_self_##name __attribute__((visibility("hidden")));
LR_HOOKED(LR_SELF)
#undef LR_SELF

/* Every hook calls this first; after the first call it is one load and a
 * branch, not a call into pthread_once. */
static inline void lr_real_init(void)
{
	if (__builtin_expect(!atomic_load_explicit(&lr_real_ready, memory_order_acquire), 0))
		lr_real_resolve();
}

#endif

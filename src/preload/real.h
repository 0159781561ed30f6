/* The functions libreuse interposes, as the next library (libc) defines
 * them. Resolved once; a failed lookup falls back to the raw system call, so
 * a hook always has something real to call. Until then each pointer is a
 * stand-in that resolves them all and calls on, so a hook calls through
 * without asking whether they were resolved. */
#ifndef LIBREUSE_REAL_H
#define LIBREUSE_REAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>


/* sendmmsg's flags: int in glibc's prototype, unsigned int in musl's (the
 * library is built for both). */
#ifdef __GLIBC__
typedef int lr_mmsg_flags;
#else
typedef unsigned int lr_mmsg_flags;
#endif

/* Atomic: written once by the resolving thread while others may call
 * through a stand-in; a load is a plain one on x86. */
struct lr_real {
	int (*_Atomic socket)(int, int, int);
	int (*_Atomic setsockopt)(int, int, int, const void *, socklen_t);
	int (*_Atomic bind)(int, const struct sockaddr *, socklen_t);
	int (*_Atomic connect)(int, const struct sockaddr *, socklen_t);
	int (*_Atomic listen)(int, int);
	int (*_Atomic close)(int);
	int (*_Atomic shutdown)(int, int);
	int (*_Atomic dup2)(int, int);
	int (*_Atomic dup3)(int, int, int);
	int (*_Atomic close_range)(unsigned int, unsigned int, int);
	void (*_Atomic closefrom)(int);
	int (*_Atomic fclose)(FILE *);
	ssize_t (*_Atomic sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*_Atomic sendmsg)(int, const struct msghdr *, int);
	int (*_Atomic sendmmsg)(int, struct mmsghdr *, unsigned int, lr_mmsg_flags);
};

/* The stand-ins at first (pthread_once), then the real functions. */
extern struct lr_real lr_real;
/* Set, with release order, once lr_real is filled. */
extern atomic_bool lr_real_ready;

void lr_real_resolve(void);

/* Every function libreuse interposes, once: X(name) for each. */
#define LR_HOOKED(X)                                                                      \
	X(socket) X(setsockopt) X(bind) X(connect) X(listen) X(close) X(shutdown) X(dup2) \
	X(dup3) X(close_range) X(closefrom) X(fclose)                                       \
	X(sendto) X(sendmsg) X(sendmmsg)

/* The hooks themselves, as addresses bound inside libreuse (aliases made in
 * hooks.c): a lookup that returns one of them came back to us. */
#define LR_SELF(name) \
	extern __typeof__(name) lr_self_##name __attribute__((visibility("hidden")));
LR_HOOKED(LR_SELF)
#undef LR_SELF

/* Defines lr_self_NAME as a hidden alias of the hook NAME, in the file that
 * defines the hook (a reference to the exported name would bind to
 * whatever the loader finds first). gcc wants an alias to carry its
 * target's attributes (glibc's nothrow, leaf). */
#if defined(__GNUC__) && !defined(__clang__)
#define LR_SAME_ATTRIBUTES(name) copy(name),
#else
#define LR_SAME_ATTRIBUTES(name)
#endif
#define LR_SELF_ALIAS(name)                                    \
	extern __typeof__(name) lr_self_##name                 \
		__attribute__((LR_SAME_ATTRIBUTES(name) alias(#name), visibility("hidden")));

/* For code that copies the pointers (rather than calling through them):
 * after the first call it is one load and a branch. */
static inline void lr_real_init(void)
{
	if (__builtin_expect(!atomic_load_explicit(&lr_real_ready, memory_order_acquire), 0))
		lr_real_resolve();
}

#endif

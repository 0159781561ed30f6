/* The functions libreuse interposes, as the next library (libc) defines
 * them: one table for all the hooks (socket calls, a kept listener's mode,
 * the exec family). The hooks' own pointers fall back to the raw system
 * call when a lookup fails, so a hook always has something real to call;
 * until resolved each is a stand-in that looks its own function up and
 * calls on, so a hook calls through without asking, and a process looks up
 * only what it calls. */
#ifndef LIBREUSE_REAL_H
#define LIBREUSE_REAL_H

#include <fcntl.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>


/* sendmmsg's flags: int in glibc's prototype, unsigned int in musl's (the
 * library is built for both). */
#ifdef __GLIBC__
typedef int lr_mmsg_flags;
#else
typedef unsigned int lr_mmsg_flags;
#endif

#ifdef __GLIBC__
typedef unsigned long lr_ioctl_req;
#else
typedef int lr_ioctl_req;
#endif
typedef int (*lr_spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			   const posix_spawnattr_t *, char *const[], char *const[]);

/* Atomic: written by whichever thread resolves (more than one may, each
 * storing the same) while others may call through a stand-in; a load is a
 * plain one on x86. */
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
	/* keptmode.c's: raw system calls where libc has none (or gave ours). */
	int (*_Atomic accept)(int, struct sockaddr *, socklen_t *);
	int (*_Atomic accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*_Atomic fcntl)(int, int, ...);
	int (*_Atomic fcntl64)(int, int, ...); /* glibc only (musl: a macro for fcntl) */
	int (*_Atomic ioctl)(int, lr_ioctl_req, ...);
	int (*_Atomic dup)(int);
	/* exec.c's: NULL until resolved and where libc has none (exec.c says
	 * what it does then). An exec hook may run between vfork and exec,
	 * where no lookup may be made: it reads these only once lr_real_ready,
	 * and never resolves them itself but for posix_spawn, system, popen
	 * (which run in the parent). */
	int (*_Atomic execve)(const char *, char *const[], char *const[]);
	int (*_Atomic execveat)(int, const char *, char *const[], char *const[], int);
	int (*_Atomic fexecve)(int, char *const[], char *const[]);
	int (*_Atomic execvp)(const char *, char *const[]);
	int (*_Atomic execvpe)(const char *, char *const[], char *const[]);
	_Atomic lr_spawn_fn posix_spawn;
	_Atomic lr_spawn_fn posix_spawnp;
	int (*_Atomic system)(const char *);
	FILE *(*_Atomic popen)(const char *, const char *);
};

/* The stand-ins at first, then the real functions. */
extern struct lr_real lr_real;
/* Set, with release order, once lr_real is filled. */
extern atomic_bool lr_real_ready;

/* Fills the whole of lr_real, for the hooks that may not look one up
 * themselves (exec.c): at their first call in a parent (posix_spawn,
 * system, popen), or at load where another library preloaded after this
 * one may hook exec (state.c). The other hooks' stand-ins look up their
 * own function only.
 * No lock and no
 * pthread_once: threads that meet here together each look every function
 * up and store the same, so no thread ever waits on another, and a process
 * that dies half-way (a vfork child killed) leaves nothing held. */
void lr_real_resolve(void);

/* Every function libreuse interposes, once: X(name) for each. */
#define LR_HOOKED(X)                                                                      \
	X(socket) X(setsockopt) X(bind) X(connect) X(listen) X(close) X(shutdown) X(dup2) \
	X(dup3) X(close_range) X(closefrom) X(fclose)                                       \
	X(sendto) X(sendmsg) X(sendmmsg)

/* The hooks of keptmode.c and exec.c, in the same table. */
#ifdef __GLIBC__
#define LR_HOOKED_KEPT(X) X(accept) X(accept4) X(fcntl) X(fcntl64) X(ioctl) X(dup)
#else
#define LR_HOOKED_KEPT(X) X(accept) X(accept4) X(fcntl) X(ioctl) X(dup)
#endif
#define LR_HOOKED_EXEC(X)                                                              \
	X(execve) X(execveat) X(fexecve) X(execvp) X(execvpe) X(posix_spawn) X(posix_spawnp) \
	X(system) X(popen)

/* Not every libc declares these (musl: execveat), and the hooks define
 * them whatever it does. */
int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags);
int execvpe(const char *file, char *const argv[], char *const envp[]);
/* As keptmode.c defines them (glibc's headers give a transparent union). */
int accept(int fd, struct sockaddr *addr, socklen_t *len);
int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
#ifdef __GLIBC__
int fcntl64(int fd, int cmd, ...);
#endif

/* The hooks themselves, as addresses bound inside libreuse (aliases made in
 * hooks.c, keptmode.c, exec.c): a lookup that returns one of them came
 * back to us. */
#define LR_SELF(name) \
	extern __typeof__(name) lr_self_##name __attribute__((visibility("hidden")));
LR_HOOKED(LR_SELF)
LR_HOOKED_KEPT(LR_SELF)
LR_HOOKED_EXEC(LR_SELF)
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

#endif

#include "helper.h"

#include "tablecache.h"
#include "table.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define CHILD_STACK (64u << 10)

/* The intermediate and the helper run in the program's memory, beside its
 * threads, with its thread's TLS: their system calls are made here, so that
 * none of them writes the errno a thread of the program is about to read. */
#if defined(__x86_64__)
static inline long raw(long n, long a, long b, long c, long d)
{
	long ret;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__i386__)
static inline long raw(long n, long a, long b, long c, long d)
{
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d)
			 : "memory");
	return ret;
}
#else
#error "the helper's raw system calls are written for x86-64 and i386"
#endif

struct spawn {
	const char *path;
	char *const *argv, *const *envp;
	int out;      /* the pipe's write end */
	char *stack2; /* the helper's own stack, until it execs */
	/* Written by the intermediate before it exits, read after. */
	int started;  /* the helper was created */
	int timed_out;
	int status;   /* as wait4 gives it */
};

/* The kernel's struct sigaction (not libc's): raw system calls only. */
struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	unsigned long long mask;
};

/* Every caught signal back to its default, in this process's own copy of
 * the handlers: a handler of the program's must never run here. */
static void default_handlers(void)
{
	for (long sig = 1; sig < 65; sig++) {
		struct ksigaction old;
		if (raw(SYS_rt_sigaction, sig, 0, (long)&old, 8) == 0 &&
		    old.handler != (void *)SIG_DFL && old.handler != (void *)SIG_IGN) {
			struct ksigaction dfl = { .handler = (void *)SIG_DFL };
			raw(SYS_rt_sigaction, sig, (long)&dfl, 0, 8);
		}
	}
}

/* The helper, until execve: in the program's memory (CLONE_VM|CLONE_VFORK)
 * with a copy of its fds. */
__attribute__((no_sanitize_address)) static int helper_main(void *arg)
{
	const struct spawn *s = arg;
	int null = (int)raw(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDWR, 0);
	if (s->out != 1)
		raw(SYS_dup3, s->out, 1, 0, 0);
	else
		raw(SYS_fcntl, 1, F_SETFD, 0, 0);
	if (null >= 0) {
		raw(SYS_dup3, null, 0, 0, 0);
		raw(SYS_dup3, null, 2, 0, 0);
	}
	/* Nothing else of the program's: its fds stay its own. */
	raw(SYS_close_range, 3, ~0U, 0, 0);
	unsigned long long none = 0;
	raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8);
	raw(SYS_execve, (long)s->path, (long)s->argv, (long)s->envp, 0);
	raw(SYS_exit, 127, 0, 0, 0);
	return 127;
}

/* Between the program and the helper. An execve turns a clone child's exit
 * signal into SIGCHLD (tried: the program's waitpid(-1) then reaps it), so
 * the helper is not the program's child but this one's: this process never
 * execs, keeps exit signal 0, and so stays invisible to the program's
 * wait() and SIGCHLD. It runs beside the program (CLONE_VM, no CLONE_VFORK),
 * on its own stack, with its own copies of the fds and handlers; it
 * starts the helper, kills it past the deadline, and reaps it. */
__attribute__((no_sanitize_address)) static int intermediate_main(void *arg)
{
	struct spawn *s = arg;
	default_handlers();
	int pidfd = -1;
	/* The helper's exit signal is SIGCHLD after its exec: it reaches this
	 * process, where SIGCHLD has its default (ignored) action. */
	pid_t pid = clone(helper_main, s->stack2 + CHILD_STACK, CLONE_VM | CLONE_VFORK | CLONE_PIDFD,
			  s, &pidfd);
	raw(SYS_close, s->out, 0, 0, 0); /* the helper's end: EOF when it ends */
	if (pid < 0)
		raw(SYS_exit, 0, 0, 0, 0);
	s->started = 1;
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	long r;
	do
		r = raw(SYS_poll, (long)&p, 1, LR_HELPER_TIMEOUT_MS, 0);
	while (r == -EINTR);
	if (r == 0) {
		raw(SYS_pidfd_send_signal, pidfd, SIGKILL, 0, 0);
		s->timed_out = 1;
	}
	int status = 0;
	while (raw(SYS_wait4, pid, (long)&status, __WALL, 0) == -EINTR)
		;
	s->status = status;
	raw(SYS_exit, 0, 0, 0, 0);
	return 0;
}

int lr_helper_run(const char *path, char *const argv[], char *const envp[],
		  struct lr_helper_out *out)
{
	memset(out, 0, sizeof(*out));
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		snprintf(out->why, sizeof(out->why), "cannot make a pipe: %s", strerror(errno));
		return -1;
	}
	char *stack = mmap(NULL, 2 * CHILD_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		raw(SYS_close, p[0], 0, 0, 0);
		raw(SYS_close, p[1], 0, 0, 0);
		snprintf(out->why, sizeof(out->why), "out of memory");
		return -1;
	}
	struct spawn s = { .path = path, .argv = argv, .envp = envp, .out = p[1],
			   .stack2 = stack + CHILD_STACK };
	/* Blocked from before the clone: the intermediate starts with every
	 * signal blocked, and lets none in. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int pidfd = -1;
	/* Exit signal 0: no SIGCHLD, and only a wait with __WALL sees it. */
	pid_t pid = clone(intermediate_main, stack + CHILD_STACK, CLONE_VM | CLONE_PIDFD, &s, &pidfd);
	int clone_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	raw(SYS_close, p[1], 0, 0, 0);
	if (pid < 0) {
		raw(SYS_close, p[0], 0, 0, 0);
		munmap(stack, 2 * CHILD_STACK);
		snprintf(out->why, sizeof(out->why), "cannot start it: %s", strerror(clone_errno));
		return -1;
	}
	/* The intermediate kills the helper at LR_HELPER_TIMEOUT_MS: EOF comes
	 * by then; the margin is for a helper's child that kept the pipe. */
	const char *why = NULL;
	int r = lr_image_read(p[0], 0, LR_TABLE_MAX_BYTES, LR_HELPER_TIMEOUT_MS + 1000, &out->image,
			      &out->len, &why);
	raw(SYS_close, p[0], 0, 0, 0);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL) != 0 && errno == EINTR)
		;
	raw(SYS_close, pidfd, 0, 0, 0);
	munmap(stack, 2 * CHILD_STACK);
	if (s.timed_out) {
		snprintf(out->why, sizeof(out->why), "it did not finish within %d s, and was killed",
			 LR_HELPER_TIMEOUT_MS / 1000);
		return -1;
	}
	if (r != 0) {
		snprintf(out->why, sizeof(out->why), "%s", why);
		return -1;
	}
	if (!s.started) {
		snprintf(out->why, sizeof(out->why), "cannot start it");
		return -1;
	}
	if (WIFEXITED(s.status) && WEXITSTATUS(s.status) == 0 && out->len)
		return 0;
	if (WIFEXITED(s.status) && WEXITSTATUS(s.status) == 127 && !out->len)
		snprintf(out->why, sizeof(out->why), "cannot run %s", path);
	else if (WIFEXITED(s.status))
		snprintf(out->why, sizeof(out->why), "it exited with status %d", WEXITSTATUS(s.status));
	else
		snprintf(out->why, sizeof(out->why), "it was killed by signal %d (SIG%s)",
			 WTERMSIG(s.status),
			 sigabbrev_np(WTERMSIG(s.status)) ? sigabbrev_np(WTERMSIG(s.status)) : "?");
	return -1;
}

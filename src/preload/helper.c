#include "helper.h"

#include "tablecache.h"
#include "table.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
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
#elif defined(__aarch64__)
static inline long raw(long n, long a, long b, long c, long d)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	__asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
	return x0;
}
#else
#error "the helper's raw system calls are written for x86-64, i386 and aarch64"
#endif

/* What the intermediate tells the program, over a pipe: under a tool that
 * turns a vfork into a fork (valgrind), the intermediate's memory is a copy,
 * so nothing it writes in memory reaches the program. */
struct report {
	int started;   /* the helper was created */
	int timed_out; /* and killed at the deadline */
	int status;    /* as wait4 gives it */
};

/* Read-only for the intermediate and the helper. */
struct spawn {
	const char *path;
	char *const *argv, *const *envp;
	int in;       /* the helper's standard input, or -1: /dev/null */
	int out;      /* what it writes: a file of ours, read when all is done */
	int report;   /* the pipe's write end */
	char *stack2; /* the helper's own stack, until it execs */
};

/* The kernel's struct sigaction (not libc's): raw system calls only. The
 * same layout on x86-64, i386 and arm64 (each defines SA_RESTORER). */
struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	unsigned long long mask;
};

/* Every caught signal back to its default, in this process's own copy of
 * the handlers: a handler of the program's must never run here. SIGCHLD to
 * its default too, even if ignored: the intermediate waits for it, and an
 * ignored SIGCHLD would have the kernel reap the helper before it can. */
static void default_handlers(void)
{
	for (long sig = 1; sig < 65; sig++) {
		struct ksigaction old;
		if (raw(SYS_rt_sigaction, sig, 0, (long)&old, 8) == 0 &&
		    ((old.handler != (void *)SIG_DFL && old.handler != (void *)SIG_IGN) ||
		     (sig == SIGCHLD && (old.handler != (void *)SIG_DFL || old.flags)))) {
			struct ksigaction dfl = { .handler = (void *)SIG_DFL };
			raw(SYS_rt_sigaction, sig, (long)&dfl, 0, 8);
		}
	}
}

/* The helper, until execve: in the intermediate's memory (CLONE_VM |
 * CLONE_VFORK) with a copy of its fds. Its fds 0, 1 and 2 are the rule file
 * (or /dev/null), the output file and /dev/null; nothing else of the
 * program's. Moved above 2 first: a daemon that closed its standard fds may
 * have any of ours there. */
__attribute__((no_sanitize_address)) static int helper_main(void *arg)
{
	const struct spawn *s = arg;
	int null = (int)raw(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDWR | O_CLOEXEC, 0);
	int in = s->in >= 0 ? (int)raw(SYS_fcntl, s->in, F_DUPFD_CLOEXEC, 3, 0) : null;
	int out = (int)raw(SYS_fcntl, s->out, F_DUPFD_CLOEXEC, 3, 0);
	if (out < 0 || in < 0)
		raw(SYS_exit, 126, 0, 0, 0);
	raw(SYS_dup3, in, 0, 0, 0);
	raw(SYS_dup3, out, 1, 0, 0);
	if (null >= 0)
		raw(SYS_dup3, null, 2, 0, 0);
	raw(SYS_close_range, 3, ~0U, 0, 0);
	unsigned long long none = 0;
	raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8);
	raw(SYS_execve, (long)s->path, (long)s->argv, (long)s->envp, 0);
	raw(SYS_exit, 127, 0, 0, 0);
	return 127;
}

static long long mono_ms(void)
{
	struct timespec ts;
	raw(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0, 0);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Between the program and the helper, started as a vfork child (CLONE_VM |
 * CLONE_VFORK) whose exit signal is 0: no SIGCHLD reaches the program, its
 * wait() without __WALL never sees it, and tools that follow children
 * (valgrind, which turns it into a fork; strace -f; gdb) know what it is.
 * It starts the helper (which is its child, not the program's: an exec
 * would give the helper SIGCHLD as its exit signal), waits for it to the
 * deadline, kills it past that, reaps it, reports, and exits. The program's
 * thread waits meanwhile, as it would for the table anyway. Its signals
 * are all blocked from before the clone; SIGCHLD is taken with
 * sigtimedwait. */
__attribute__((no_sanitize_address)) static int intermediate_main(void *arg)
{
	const struct spawn *s = arg;
	default_handlers();
	struct report rep = { 0 };
	/* The helper's exit signal is SIGCHLD: it comes to this process. */
	pid_t pid = clone(helper_main, s->stack2 + CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD,
			  (void *)s);
	/* The helper has its copies by now: the program's fds are not held
	 * open here while it runs (a pipe's reader of the program's waits for
	 * its EOF on no one of ours). */
	if (s->report > 0)
		raw(SYS_close_range, 0, (unsigned)s->report - 1, 0, 0);
	raw(SYS_close_range, (unsigned)s->report + 1, ~0U, 0, 0);
	if (pid > 0) {
		rep.started = 1;
		unsigned long long chld = 1ULL << (SIGCHLD - 1);
		long long end = mono_ms() + LR_HELPER_TIMEOUT_MS;
		for (;;) {
			int status = 0;
			long r = raw(SYS_wait4, pid, (long)&status, WNOHANG | __WALL, 0);
			if (r == pid) {
				rep.status = status;
				break;
			}
			long long left = end - mono_ms();
			if (r < 0 && r != -EINTR)
				break; /* not ours to reap any more */
			if (left <= 0) {
				raw(SYS_kill, pid, SIGKILL, 0, 0);
				while (raw(SYS_wait4, pid, (long)&status, __WALL, 0) == -EINTR)
					;
				rep.timed_out = 1;
				rep.status = status;
				break;
			}
			struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000 };
			raw(SYS_rt_sigtimedwait, (long)&chld, 0, (long)&ts, 8);
		}
	}
	raw(SYS_write, s->report, (long)&rep, sizeof(rep), 0);
	raw(SYS_exit, 0, 0, 0, 0);
	return 0;
}

/* A file of our own for the helper's output: it is read once the helper is
 * gone, so that nothing the helper writes waits on the program. */
static int output_file(void)
{
	int fd = (int)syscall(SYS_memfd_create, "libreuse-table", MFD_CLOEXEC);
	if (fd < 0)
		fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	return fd;
}

/* "SEGV" for 11: the names libc gives only as a GNU extension. */
static const char *signal_name(int sig)
{
	static const struct { int sig; const char *name; } names[] = {
		{ SIGHUP, "HUP" },   { SIGINT, "INT" },   { SIGQUIT, "QUIT" }, { SIGILL, "ILL" },
		{ SIGTRAP, "TRAP" }, { SIGABRT, "ABRT" }, { SIGBUS, "BUS" },   { SIGFPE, "FPE" },
		{ SIGKILL, "KILL" }, { SIGUSR1, "USR1" }, { SIGSEGV, "SEGV" }, { SIGUSR2, "USR2" },
		{ SIGPIPE, "PIPE" }, { SIGALRM, "ALRM" }, { SIGTERM, "TERM" }, { SIGXCPU, "XCPU" },
		{ SIGXFSZ, "XFSZ" }, { SIGSYS, "SYS" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].sig == sig)
			return names[i].name;
	return "?";
}

int lr_helper_run(const char *path, char *const argv[], char *const envp[], int in,
		  struct lr_helper_out *out)
{
	memset(out, 0, sizeof(*out));
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		snprintf(out->why, sizeof(out->why), "cannot make a pipe: %s", strerror(errno));
		return -1;
	}
	int file = output_file();
	char *stack = file < 0 ? MAP_FAILED
			       : mmap(NULL, 2 * CHILD_STACK, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		int e = errno;
		raw(SYS_close, p[0], 0, 0, 0);
		raw(SYS_close, p[1], 0, 0, 0);
		if (file >= 0)
			raw(SYS_close, file, 0, 0, 0);
		snprintf(out->why, sizeof(out->why), "%s: %s",
			 file < 0 ? "cannot make a file for its output" : "out of memory", strerror(e));
		return -1;
	}
	struct spawn s = { .path = path, .argv = argv, .envp = envp, .in = in, .out = file,
			   .report = p[1], .stack2 = stack + CHILD_STACK };
	/* Blocked from before the clone: the intermediate starts with every
	 * signal blocked, and lets none in. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* Exit signal 0: no SIGCHLD, and only a wait with __WALL sees it. */
	pid_t pid = clone(intermediate_main, stack + CHILD_STACK, CLONE_VM | CLONE_VFORK, &s);
	int clone_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	raw(SYS_close, p[1], 0, 0, 0);
	if (pid < 0) {
		raw(SYS_close, p[0], 0, 0, 0);
		raw(SYS_close, file, 0, 0, 0);
		munmap(stack, 2 * CHILD_STACK);
		snprintf(out->why, sizeof(out->why), "cannot start it: %s", strerror(clone_errno));
		return -1;
	}
	/* Gone already, unless a tool made the vfork a fork: then this waits
	 * for it, which the deadline it keeps bounds. */
	int status;
	while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
		;
	struct report rep = { 0 };
	ssize_t got;
	while ((got = read(p[0], &rep, sizeof(rep))) < 0 && errno == EINTR)
		;
	raw(SYS_close, p[0], 0, 0, 0);
	munmap(stack, 2 * CHILD_STACK);
	const char *why = NULL;
	struct stat st;
	int r = -1;
	if (got == (ssize_t)sizeof(rep) && rep.started && !rep.timed_out) {
		if (fstat(file, &st) != 0 || lseek(file, 0, SEEK_SET) != 0)
			why = "cannot read its output";
		else if ((size_t)st.st_size > LR_TABLE_MAX_BYTES)
			why = "too large";
		else
			r = lr_image_read(file, (size_t)st.st_size, LR_TABLE_MAX_BYTES, -1, &out->image,
					  &out->len, &why);
	}
	raw(SYS_close, file, 0, 0, 0);
	if (got != (ssize_t)sizeof(rep)) {
		snprintf(out->why, sizeof(out->why), "cannot start it (no word from its starter)");
		return -1;
	}
	if (!rep.started) {
		snprintf(out->why, sizeof(out->why), "cannot start it");
		return -1;
	}
	if (rep.timed_out) {
		snprintf(out->why, sizeof(out->why), "it did not finish within %d s, and was killed",
			 LR_HELPER_TIMEOUT_MS / 1000);
		return -1;
	}
	if (r != 0) {
		snprintf(out->why, sizeof(out->why), "%s", why);
		return -1;
	}
	if (WIFEXITED(rep.status) && WEXITSTATUS(rep.status) == 0 && out->len)
		return 0;
	if (WIFEXITED(rep.status) && WEXITSTATUS(rep.status) == 127 && !out->len)
		snprintf(out->why, sizeof(out->why), "cannot run %s", path);
	else if (WIFEXITED(rep.status))
		snprintf(out->why, sizeof(out->why), "it exited with status %d", WEXITSTATUS(rep.status));
	else
		snprintf(out->why, sizeof(out->why), "it was killed by signal %d (SIG%s)",
			 WTERMSIG(rep.status), signal_name(WTERMSIG(rep.status)));
	return -1;
}

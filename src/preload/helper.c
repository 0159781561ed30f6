#include "helper.h"

#include "tablecache.h"
#include "table.h"

#include <errno.h>
#include <fcntl.h>
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

struct spawn {
	const char *path;
	char *const *argv, *const *envp;
	int out; /* the pipe's write end */
};

/* The kernel's struct sigaction (not libc's): the child makes raw system
 * calls only. */
struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	unsigned long long mask;
};

/* Runs in the child, on its own stack but in the program's memory until
 * execve: raw system calls only, nothing that takes a lock, allocates, or
 * goes through a function another preloaded library may interpose. */
__attribute__((no_sanitize_address)) static int child_main(void *arg)
{
	const struct spawn *s = arg;
	/* A handler of the program's must never run here: every caught signal
	 * back to its default before signals are let in again. */
	for (long sig = 1; sig < 65; sig++) {
		struct ksigaction old;
		if (syscall(SYS_rt_sigaction, sig, NULL, &old, 8) == 0 &&
		    old.handler != (void *)SIG_DFL && old.handler != (void *)SIG_IGN) {
			struct ksigaction dfl = { .handler = (void *)SIG_DFL };
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
		}
	}
	int null = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR);
	if (s->out != 1)
		syscall(SYS_dup3, s->out, 1, 0);
	else
		syscall(SYS_fcntl, 1, F_SETFD, 0);
	if (null >= 0) {
		syscall(SYS_dup3, null, 0, 0);
		syscall(SYS_dup3, null, 2, 0);
	}
	/* Nothing else of the program's: its fds stay its own. */
	syscall(SYS_close_range, 3, ~0U, 0);
	unsigned long long none = 0;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
	syscall(SYS_execve, s->path, s->argv, s->envp);
	syscall(SYS_exit, 127);
	return 127;
}

static int pidfd_kill(int pidfd)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
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
	char *stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		syscall(SYS_close, p[0]);
		syscall(SYS_close, p[1]);
		snprintf(out->why, sizeof(out->why), "out of memory");
		return -1;
	}
	struct spawn s = { .path = path, .argv = argv, .envp = envp, .out = p[1] };
	/* Blocked from before the clone until the child has exec'ed: no
	 * signal can run a handler on the child's side of shared memory. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int pidfd = -1;
	/* Exit signal 0: no SIGCHLD, and only a wait with __WALL sees it.
	 * CLONE_VFORK: this thread goes on once the child has exec'ed. */
	pid_t pid = clone(child_main, stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | CLONE_PIDFD,
			  &s, &pidfd);
	int clone_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	munmap(stack, CHILD_STACK);
	syscall(SYS_close, p[1]);
	if (pid < 0) {
		syscall(SYS_close, p[0]);
		snprintf(out->why, sizeof(out->why), "cannot start it: %s", strerror(clone_errno));
		return -1;
	}
	const char *why = NULL;
	int r = lr_image_read(p[0], LR_TABLE_MAX_BYTES, LR_HELPER_TIMEOUT_MS, &out->image,
			      &out->len, &why);
	syscall(SYS_close, p[0]);
	if (r != 0)
		pidfd_kill(pidfd);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL) != 0 && errno == EINTR)
		;
	syscall(SYS_close, pidfd);
	if (r != 0) {
		snprintf(out->why, sizeof(out->why), "%s",
			 strcmp(why, "timed out") == 0 ? "it did not finish within 2 s, and was killed" : why);
		return -1;
	}
	if (si.si_code == CLD_EXITED && si.si_status == 0 && out->len)
		return 0;
	if (si.si_code == CLD_EXITED && si.si_status == 127 && !out->len)
		snprintf(out->why, sizeof(out->why), "cannot run %s", path);
	else if (si.si_code == CLD_EXITED)
		snprintf(out->why, sizeof(out->why), "it exited with status %d", si.si_status);
	else
		snprintf(out->why, sizeof(out->why), "it was killed by signal %d (SIG%s)",
			 si.si_status, sigabbrev_np(si.si_status) ? sigabbrev_np(si.si_status) : "?");
	return -1;
}

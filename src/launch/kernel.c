#include "kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct lr_kfeature_info info[LR_K_COUNT] = {
	[LR_K_USER_NOTIF] = { "user_notif", "seccomp user notification", "Linux 5.0",
			      "run --seccomp cannot supervise here" },
	[LR_K_PIDFD_OPEN] = { "pidfd_open", "pidfd_open", "Linux 5.3", "run --seccomp cannot supervise here" },
	[LR_K_PIDFD_GETFD] = { "pidfd_getfd", "pidfd_getfd", "Linux 5.6",
			       "run --seccomp cannot reach a program's sockets here" },
	[LR_K_NOTIF_ADDFD] = { "notif_addfd", "SECCOMP_IOCTL_NOTIF_ADDFD", "Linux 5.9",
			       "keep under run --seccomp adopts nothing (binds go on as without keep)" },
	[LR_K_KILLABLE_RECV] = { "killable_recv", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "Linux 5.19",
				 "a signal to a program waiting on the supervisor restarts its call "
				 "(answered again, as the kernel retries it)" },
	[LR_K_PEERPIDFD] = { "peerpidfd", "SO_PEERPIDFD", "Linux 6.5",
			     "the keeper checks its peers by pid alone" },
	[LR_K_SYNC_WAKE_UP] = { "sync_wake_up", "SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP", "Linux 6.6",
				"the supervisor is woken without the scheduler's hand-off (a little slower "
				"per call)" },
	[LR_K_PIDFD_THREAD] = { "pidfd_thread", "PIDFD_THREAD", "Linux 6.9",
				"a call from a thread is traced to its process through /proc" },
};

/* The probes' results: written once, by the first lr_kernel_has (the
 * command calls it before it starts any thread), read-only after. */
static int known = -1; /* bit f set: has f */
static int refused;    /* bit f set: has f, but a filter here denies it */

static bool lacked_by_test(enum lr_kfeature f)
{
	const char *list = getenv("LIBREUSE_TEST_KERNEL_LACKS");
	if (!list)
		return false;
	size_t n = strlen(info[f].name);
	for (const char *p = list; (p = strstr(p, info[f].name)); p += n)
		if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return true;
	return false;
}

/* The features that need a seccomp listener, found in a child (a filter
 * cannot be taken off again): one bit each, by exit status. */
static int probe_listener(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
		struct sock_fprog prog = { .len = 1, .filter = allow };
		int bits = 0;
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
			_exit(0);
		/* Only EINVAL is the kernel not knowing a flag. Anything else (a
		 * listener already installed, a sandbox's filter) says nothing of
		 * the kernel: taken as present, the real install says why. */
		const int listener_bits = 1 << LR_K_USER_NOTIF | 1 << LR_K_NOTIF_ADDFD | 1 << LR_K_SYNC_WAKE_UP;
		long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				  SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
		if (fd < 0 && errno != EINVAL)
			_exit(listener_bits | 1 << LR_K_KILLABLE_RECV);
		if (fd >= 0)
			bits |= 1 << LR_K_KILLABLE_RECV;
		else
			fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
		if (fd < 0)
			_exit(errno == EINVAL ? bits : listener_bits);
		bits |= 1 << LR_K_USER_NOTIF;
		/* No notification 0 exists: ENOENT is the kernel knowing the request. */
		struct seccomp_notif_addfd a = { .id = 0, .srcfd = 0 };
		if (ioctl((int)fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a) < 0 && errno == ENOENT)
			bits |= 1 << LR_K_NOTIF_ADDFD;
		if (ioctl((int)fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0)
			bits |= 1 << LR_K_SYNC_WAKE_UP;
		_exit(bits);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 0;
}

static int probe(void)
{
	int bits = probe_listener();
	/* ENOSYS alone is a kernel without the call: EPERM (a ptrace policy)
	 * or EMFILE says nothing of the kernel, and the real call says why. */
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd >= 0 || errno != ENOSYS)
		bits |= 1 << LR_K_PIDFD_OPEN;
	if (pidfd >= 0) {
		int dup = (int)syscall(SYS_pidfd_getfd, pidfd, pidfd, 0);
		if (dup >= 0 || errno != ENOSYS)
			bits |= 1 << LR_K_PIDFD_GETFD;
		/* On this very process no ptrace check refuses: EPERM is a
		 * seccomp filter of a sandbox's (systemd-nspawn's denies it). */
		if (dup < 0 && errno == EPERM)
			refused |= 1 << LR_K_PIDFD_GETFD;
		if (dup >= 0)
			close(dup);
		close(pidfd);
	}
	int t = (int)syscall(SYS_pidfd_open, getpid(), PIDFD_THREAD);
	if (t >= 0) {
		bits |= 1 << LR_K_PIDFD_THREAD;
		close(t);
	}
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0) {
		int fd = -1;
		socklen_t len = sizeof(fd);
		if (getsockopt(sp[0], SOL_SOCKET, SO_PEERPIDFD, &fd, &len) == 0 && fd >= 0) {
			bits |= 1 << LR_K_PEERPIDFD;
			close(fd);
		}
		close(sp[0]);
		close(sp[1]);
	}
	for (int f = 0; f < LR_K_COUNT; f++)
		if (lacked_by_test((enum lr_kfeature)f))
			bits &= ~(1 << f);
	return bits;
}

bool lr_kernel_has(enum lr_kfeature f)
{
	if (known < 0)
		known = probe();
	return (known >> f) & 1;
}

bool lr_kernel_refused(enum lr_kfeature f)
{
	lr_kernel_has(f);
	return (refused >> f) & 1;
}

void lr_kernel_refused_line(enum lr_kfeature f, char *out, size_t n)
{
	snprintf(out, n, "%s is refused here (EPERM on this process's own fd: a sandbox's seccomp filter "
			 "denies it; systemd-nspawn's does, unless --system-call-filter=%s): %s",
		 info[f].what, info[f].name, info[f].without);
}

const struct lr_kfeature_info *lr_kfeature(enum lr_kfeature f)
{
	return &info[f];
}

void lr_kernel_lacks_line(enum lr_kfeature f, char *out, size_t n)
{
	struct utsname u;
	if (uname(&u) != 0)
		strcpy(u.release, "?");
	snprintf(out, n, "this kernel (%s) has no %s (%s, %s): %s", u.release, info[f].what, info[f].name,
		 info[f].since, info[f].without);
}

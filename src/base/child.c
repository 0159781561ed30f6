#include "child.h"

#include "errname.h"
#include "fmt.h"
#include "sys.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

int lr_child_signals(sigset_t *orig)
{
	sigset_t all;
	sigfillset(&all);
	/* Faults are the parent's own; blocked they would kill it anyway. */
	static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT };
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(&all, faults[i]);
	if (sigprocmask(SIG_BLOCK, &all, orig) != 0)
		return -1;
	return signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK);
}

long lr_child_read(pid_t pid, const char *what, char *buf, size_t n)
{
	char path[64];
	struct lr_buf b = LR_BUF(path);
	lr_buf_str(&b, "/proc/");
	lr_buf_u64(&b, (uint64_t)pid);
	lr_buf_char(&b, '/');
	lr_buf_str(&b, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, buf, n - 1);
	lr_sys.close(fd);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	return (long)r;
}

pid_t lr_proc_parent(pid_t pid)
{
	char buf[512];
	if (lr_child_read(pid, "stat", buf, sizeof(buf)) < 0)
		return -1;
	/* "pid (comm) state ppid ...": comm may hold spaces and parentheses. */
	const char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2] || p[3] != ' ' || p[4] < '0' || p[4] > '9')
		return -1;
	long ppid = 0;
	for (p += 4; *p >= '0' && *p <= '9' && ppid <= 0x7fffffff; p++)
		ppid = ppid * 10 + (*p - '0');
	return *p == ' ' && ppid <= 0x7fffffff ? (pid_t)ppid : -1;
}

int lr_child_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

const char *lr_child_status_text(int status, char *buf, size_t n)
{
	if (WIFSIGNALED(status)) {
		const char *name = lr_signal_abbrev(WTERMSIG(status));
		snprintf(buf, n, "killed by SIG%s", name ? name : "?");
	} else {
		snprintf(buf, n, "status %d", lr_child_exit_code(status));
	}
	return buf;
}

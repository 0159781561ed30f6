#include "supervise.h"

#include "abi.h"
#include "child.h"
#include "exec.h"
#include "filter.h"
#include "front.h"
#include "handle.h"
#include "keepwire.h"
#include "kernel.h"
#include "tablemake.h"
#include "notify.h"
#include "procs.h"
#include "watch.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The listener, set before the receiving thread starts. */
static int listener = -1;

/* Receives every trapped call and handles it at once; the few that may
 * block are handed to the pool (handle.c), so this thread is always soon
 * back waiting — the program's calls are received eagerly. */
static void *receiver(void *arg)
{
	(void)arg;
	for (;;) {
		struct seccomp_notif req;
		if (lr_notify_recv(listener, &req) == 0) {
			lr_handle(listener, &req);
		} else if (errno != ENOENT) {
			/* Nothing more to receive (every filtered process gone):
			 * wait for the supervisor to end. */
			struct pollfd p = { .fd = listener, .events = POLLIN };
			poll(&p, 1, 100);
		}
	}
	return NULL;
}

/* What the child tells the parent once its filter is installed (or not):
 * the listener's fd number in the child, or -1 and why. Sent with write():
 * the filter may trap sendmsg (a rule with op = "send"), which nobody
 * would answer yet, so the parent takes the listener itself (pidfd_getfd,
 * as it reaches every socket of the program's) and answers one byte: 1
 * when it has it. */
struct hello {
	int fd;
	char why[256];
};

/* The child: the filter, its listener to the parent, then the program. */
static void child(int sock, char **argv, const struct lr_traps *t, const sigset_t *orig, bool required,
		  const char *kernel_why)
{
	sigprocmask(SIG_SETMASK, orig, NULL);
	struct hello h = { .fd = -1 };
	if (kernel_why[0])
		snprintf(h.why, sizeof(h.why), "%s", kernel_why);
	else
		h.fd = lr_filter_install(t, h.why, sizeof(h.why));
	ssize_t n;
	do
		n = write(sock, &h, sizeof(h));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(h) || (h.fd < 0 && required))
		_exit(126);
	if (h.fd >= 0) {
		/* Under the filter with nobody to answer it, the program's
		 * trapped calls would fail: it runs only once the parent holds
		 * the listener. */
		char taken = 0;
		do
			n = read(sock, &taken, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1 || taken != 1)
			_exit(126);
		close(h.fd);
	}
	close(sock);
	_exit(lr_exec(argv));
}

/* The listener from the child (pid), or -1 with why. */
static int receive_listener(int sock, pid_t pid, char *why, size_t n)
{
	struct hello h;
	ssize_t got;
	why[0] = '\0';
	do
		got = read(sock, &h, sizeof(h));
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(h)) {
		snprintf(why, n, "the program's process ended before its filter was installed");
		return -1;
	}
	h.why[sizeof(h.why) - 1] = '\0';
	snprintf(why, n, "%s", h.why);
	if (h.fd < 0)
		return -1;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int fd = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, h.fd, 0);
	int e = errno;
	if (pidfd >= 0)
		close(pidfd);
	char taken = fd >= 0;
	if (write(sock, &taken, 1) != 1 && fd >= 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		snprintf(why, n, "cannot take the filter's listener from the program's process: %s",
			 strerror(e));
	return fd;
}

/* What the kernel lacks, said before the program starts: a missing
 * necessity goes into *why (and the program is refused, or run untouched,
 * as when the filter cannot be installed); a missing refinement is one line
 * naming its fallback. */
static void kernel_check(char *why, size_t n)
{
	static const enum lr_kfeature needed[] = { LR_K_USER_NOTIF, LR_K_PIDFD_OPEN, LR_K_PIDFD_GETFD };
	static const enum lr_kfeature wanted[] = { LR_K_NOTIF_ADDFD, LR_K_KILLABLE_RECV, LR_K_SYNC_WAKE_UP,
						   LR_K_PIDFD_THREAD };
	why[0] = '\0';
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]) && !why[0]; i++)
		if (!lr_kernel_has(needed[i]))
			lr_kernel_lacks_line(needed[i], why, n);
		else if (lr_kernel_refused(needed[i]))
			lr_kernel_refused_line(needed[i], why, n);
	if (why[0])
		return;
	char line[320];
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
		if (lr_kernel_has(wanted[i]))
			continue;
		lr_kernel_lacks_line(wanted[i], line, sizeof(line));
		fprintf(stderr, "libreuse: note: %s\n", line);
	}
}

/* What the supervisor reads before the program starts: its rules (the
 * filter traps only the calls they can touch), its ABIs, the kernel's
 * features (*kwhy: why it cannot supervise), probed here before any
 * thread, since the workers read the results. */
static void prepare(struct lr_traps *traps, char *kwhy, size_t n)
{
	static struct lr_sources sources; /* read by the workers: set once, here */
	static struct lr_sink errors;
	lr_log_capture_stderr();
	lr_sink_stderr(&errors);
	lr_sources_find(&sources, lr_getenv_own);
	lr_procs_init(&sources, &errors, traps);
	lr_front_init();
	lr_abi_init();
	kernel_check(kwhy, n);
}

/* The supervised program as this process sees it: its pid, the signals
 * taken for it, and this end of the channel its listener comes by. */
struct program {
	pid_t pid;
	int sigfd, sock;
};

/* Forks the program's process (child()); -1 when it cannot be, said. */
static int start_program(struct program *p, char **argv, const struct lr_traps *traps, bool required,
			 const char *kwhy)
{
	sigset_t orig;
	p->sigfd = lr_child_signals(&orig);
	int sp[2];
	if (p->sigfd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
		fprintf(stderr, "libreuse: cannot start the supervisor: %s\n", strerror(errno));
		return -1;
	}
	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0) {
		fprintf(stderr, "libreuse: cannot start %s: %s\n", argv[0], strerror(errno));
		return -1;
	}
	if (p->pid == 0) {
		close(sp[0]);
		child(sp[1], argv, traps, &orig, required, kwhy);
	}
	close(sp[1]);
	p->sock = sp[0];
	return 0;
}

/* The listener taken from the program's process, and the thread that
 * answers it started; where it cannot be taken, said (the program was
 * refused, or runs untouched). */
static void take_listener(const struct program *p, const char *name, bool required)
{
	char why[256];
	listener = receive_listener(p->sock, p->pid, why, sizeof(why));
	close(p->sock);
	if (listener < 0) {
		if (required)
			fprintf(stderr, "libreuse: --seccomp: %s; %s not run\n", why, name);
		else
			fprintf(stderr, "libreuse: warning: cannot supervise %s (%s): it runs untouched\n",
				name, why);
		return;
	}
	lr_notify_sync_wakeup(listener);
	lr_watch_start();
	pthread_t t;
	if (pthread_create(&t, NULL, receiver, NULL) != 0) {
		fprintf(stderr, "libreuse: cannot start the supervisor's thread: %s\n", strerror(errno));
		kill(p->pid, SIGKILL);
	}
}

/* The signals that came: SIGCHLD reaps (*status: the program's, once it
 * exited); any other is passed on to the program while it runs. */
static void take_signals(const struct program *p, bool *exited, int *status)
{
	struct signalfd_siginfo si;
	while (read(p->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo != SIGCHLD) {
			if (!*exited)
				kill(p->pid, (int)si.ssi_signo);
			continue;
		}
		int st;
		pid_t w;
		while ((w = waitpid(-1, &st, WNOHANG)) > 0)
			if (w == p->pid) {
				*status = st;
				*exited = true;
			}
	}
}

/* Until the program has exited and no process under the filter is left
 * (a daemon it forked off still makes trapped calls: without this
 * process every one of them would fail with ENOSYS). Its wait status. */
static int wait_program(const struct program *p)
{
	int status = 0;
	bool exited = false, hangup = listener < 0;
	while (!exited || !hangup) {
		struct pollfd q[2] = { { .fd = p->sigfd, .events = POLLIN }, { .fd = listener, .events = 0 } };
		if (poll(q, hangup ? 1 : 2, -1) < 0 && errno != EINTR)
			break;
		if (!hangup && (q[1].revents & (POLLHUP | POLLERR)))
			hangup = true;
		if (q[0].revents & POLLIN)
			take_signals(p, &exited, &status);
	}
	return status;
}

/* The exit summary, as the shim writes it at the program's exit, once
 * every call the programs made themselves is said (so it counts them). */
static void summary(const struct program *p, const char *path)
{
	lr_watch_flush();
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	struct lr_loaded *l = lr_procs_rules_for(name, name);
	struct lr_caller who = { .pid = p->pid, .euid = (uid_t)-1, .program = name };
	if (l) {
		atomic_store(&l->sink.dropped, lr_procs_dropped());
		lr_act_summary(l, &who);
	}
}

int lr_supervise_run(char **argv, bool required)
{
	struct lr_traps traps;
	char kwhy[256];
	prepare(&traps, kwhy, sizeof(kwhy));
	struct program p;
	if (start_program(&p, argv, &traps, required, kwhy) != 0)
		return 126;
	take_listener(&p, argv[0], required);
	int status = wait_program(&p);
	if (listener < 0 && required)
		return 126;
	if (listener >= 0)
		summary(&p, argv[0]);
	return lr_child_exit_code(status);
}

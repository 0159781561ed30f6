/* The floors of the seccomp supervisor (issue 27): the least a supervisor
 * can do for a trapped call, built the same way (a user-notification
 * filter installed in the child, the listener handed to the parent), so
 * that `libreuse run --seccomp` is timed and counted beside it.
 *
 *   supfloor continue CALL -- PROG ARGS...
 *       traps CALL (bind, or sendto) and answers every trap CONTINUE:
 *       two system calls a trap (receive, send)
 *   supfloor rewrite bind -- PROG ARGS...
 *       traps bind and makes it itself on the program's socket, moved to
 *       127.0.0.2: the sockaddr read from the program, the request checked
 *       still pending, a duplicate of its socket, the bind, the duplicate
 *       closed, the answer: seven system calls a trap
 *
 * The program runs as the only process of the filter (it must not fork);
 * the exit status is the program's. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "supfloor: no audit arch for this machine"
#endif

/* Set once before the fork; read by the SIGCHLD handler. */
static pid_t child;

/* The program is gone: so is the floor, with its status. The handler exits
 * the process, so that the loop never waits on a listener nobody uses. */
static void on_child(int sig)
{
	(void)sig;
	int st;
	if (waitpid(child, &st, WNOHANG) == child)
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static int install(long nr)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
}

static int send_fd(int sock, int fd)
{
	char c = 0;
	struct iovec iov = { &c, 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char c;
	struct iovec iov = { &c, 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	if (recvmsg(sock, &m, 0) != 1)
		return -1;
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	int fd = -1;
	if (h && h->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(h), sizeof(int));
	return fd;
}

/* The rewrite floor's bind: what a supervisor that moves a bind must at
 * least do. Fills resp; false when the request went away meanwhile. */
static int rewrite_bind(int listener, int pidfd, const struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
	struct sockaddr_storage ss;
	size_t len = (size_t)req->data.args[2];
	if (len > sizeof(ss))
		len = sizeof(ss);
	struct iovec local = { &ss, len }, remote = { (void *)(uintptr_t)req->data.args[1], len };
	if (process_vm_readv(req->pid, &local, 1, &remote, 1, 0) != (ssize_t)len) {
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		return 1;
	}
	/* What was read is the program's only if the call still waits. */
	__u64 id = req->id;
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) != 0)
		return 0;
	if (ss.ss_family == AF_INET && len >= sizeof(struct sockaddr_in))
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(0x7f000002);
	int fd = (int)syscall(SYS_pidfd_getfd, pidfd, (int)req->data.args[0], 0);
	if (fd < 0) {
		resp->error = -errno;
		return 1;
	}
	int r = bind(fd, (struct sockaddr *)&ss, (socklen_t)len);
	resp->error = r == 0 ? 0 : -errno;
	close(fd);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 5 || strcmp(argv[3], "--") != 0) {
		fprintf(stderr, "usage: supfloor continue|rewrite bind|sendto -- PROG ARGS...\n");
		return 2;
	}
	int rewrite = strcmp(argv[1], "rewrite") == 0;
	long nr = strcmp(argv[2], "bind") == 0 ? SYS_bind : strcmp(argv[2], "sendto") == 0 ? SYS_sendto : -1;
	if (nr < 0 || (!rewrite && strcmp(argv[1], "continue") != 0) || (rewrite && nr != SYS_bind)) {
		fprintf(stderr, "supfloor: unknown mode %s %s\n", argv[1], argv[2]);
		return 2;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return 1;
	struct sigaction sa = { .sa_handler = on_child }; /* no SA_RESTART: a waiting receive ends */
	sigaction(SIGCHLD, &sa, NULL);
	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		int l = install(nr);
		if (l < 0 || send_fd(sv[1], l) != 0) {
			perror("supfloor: seccomp listener");
			_exit(126);
		}
		close(l);
		execvp(argv[4], argv + 4);
		perror("supfloor: exec");
		_exit(127);
	}
	close(sv[1]);
	int listener = recv_fd(sv[0]);
	int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (listener < 0 || pidfd < 0) {
		perror("supfloor: listener or pidfd");
		kill(child, SIGKILL);
		return 1;
	}
	struct seccomp_notif_sizes sz;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) != 0)
		return 1;
	struct seccomp_notif *req = calloc(1, sz.seccomp_notif);
	struct seccomp_notif_resp *resp = calloc(1, sz.seccomp_notif_resp);
	if (!req || !resp)
		return 1;
	for (;;) {
		memset(req, 0, sz.seccomp_notif);
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) != 0) {
			if (errno == EINTR || errno == ENOENT)
				continue;
			perror("supfloor: receive");
			kill(child, SIGKILL);
			return 1;
		}
		memset(resp, 0, sz.seccomp_notif_resp);
		resp->id = req->id;
		if (rewrite && req->data.nr == SYS_bind && (pid_t)req->pid == child) {
			if (!rewrite_bind(listener, pidfd, req, resp))
				continue;
		} else {
			resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		}
		/* ENOENT: the call was interrupted meanwhile; nothing to answer. */
		ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
	}
}

/* The floors a trapped call of the seccomp supervisor is measured against
 * (issue 27): the least any supervisor of user notifications can do.
 *
 *   trapfloor continue -- PROGRAM ARGS...
 *       bind and setsockopt SOL_SOCKET SO_REUSEADDR are trapped (as
 *       libreuse traps them) and answered CONTINUE: the notification and
 *       the answer, 2 system calls a trap.
 *   trapfloor rewrite PORT -- PROGRAM ARGS...
 *       the same, but a bind's IPv4 address is copied out of the program, the
 *       program's socket duplicated, the call checked still waiting, the
 *       duplicate bound to PORT and the result answered: 7 system calls a
 *       trap, what a rewrite cannot do without.
 *
 * Nothing else: no rules, no log, no cache, one single-threaded program
 * (its pid is the only one trapped calls come from). x86-64 and arm64.
 * Exits with the program's status. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <pthread.h>
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
#define FLOOR_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define FLOOR_ARCH AUDIT_ARCH_AARCH64
#else
#error "trapfloor: x86-64 or arm64 only"
#endif

static pid_t child;

/* The answering loop never returns: this thread ends the process when the
 * program does. */
static void *reaper(void *arg)
{
	(void)arg;
	int st;
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return NULL;
}

static int install_filter(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FLOOR_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bind, 5, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setsockopt, 0, 5),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOL_SOCKET, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_REUSEADDR, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
}

/* The child's listener, passed over a socketpair. */
static int send_fd(int via, int fd)
{
	char one = 1;
	struct iovec iov = { &one, 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(via, &m, 0) == 1 ? 0 : -1;
}

static int recv_fd(int via)
{
	char one;
	struct iovec iov = { &one, 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	if (recvmsg(via, &m, 0) != 1)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	int fd = -1;
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

int main(int argc, char **argv)
{
	int rewrite = argc >= 5 && strcmp(argv[1], "rewrite") == 0 && strcmp(argv[3], "--") == 0;
	int cont = argc >= 4 && strcmp(argv[1], "continue") == 0 && strcmp(argv[2], "--") == 0;
	if (!rewrite && !cont) {
		fprintf(stderr, "usage: trapfloor continue -- PROGRAM ARGS... | trapfloor rewrite PORT -- PROGRAM ARGS...\n");
		return 2;
	}
	uint16_t port = rewrite ? (uint16_t)atoi(argv[2]) : 0;
	char **prog = argv + (rewrite ? 4 : 3);
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0)
		return 1;
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		int l = install_filter();
		if (l < 0 || send_fd(sp[1], l) != 0) {
			perror("trapfloor: seccomp");
			_exit(126);
		}
		close(l);
		execvp(prog[0], prog);
		_exit(127);
	}
	close(sp[1]);
	int listener = recv_fd(sp[0]);
	close(sp[0]);
	int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	/* As libreuse does (Linux 6.6): the answer wakes the program on this
	 * CPU at once. Harmless where missing. */
#ifdef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
	if (!getenv("TRAPFLOOR_NO_SYNC"))
		ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
#endif
	pthread_t t;
	if (listener < 0 || pidfd < 0 || pthread_create(&t, NULL, reaper, NULL) != 0) {
		kill(child, SIGKILL);
		return 1;
	}
	for (;;) {
		struct seccomp_notif req;
		memset(&req, 0, sizeof(req));
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0)
			continue;
		struct seccomp_notif_resp resp = { .id = req.id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE };
		struct sockaddr_in in;
		if (rewrite && req.data.nr == __NR_bind && req.data.args[2] == sizeof(in)) {
			struct iovec local = { &in, sizeof(in) };
			struct iovec remote = { (void *)(uintptr_t)req.data.args[1], sizeof(in) };
			int dup = process_vm_readv((pid_t)req.pid, &local, 1, &remote, 1, 0) == sizeof(in)
					  ? (int)syscall(SYS_pidfd_getfd, pidfd, (int)req.data.args[0], 0)
					  : -1;
			if (dup >= 0 && ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id) == 0) {
				in.sin_port = htons(port);
				int r = bind(dup, (struct sockaddr *)&in, sizeof(in));
				resp.flags = 0;
				resp.val = 0;
				resp.error = r == 0 ? 0 : -errno;
			}
			if (dup >= 0) {
				ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
				close(dup);
				continue;
			}
		}
		ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
}

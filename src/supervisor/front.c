#include "front.h"

#include "addr.h"
#include "child.h"
#include "fmt.h"
#include "keeping.h"
#include "kernel.h"
#include "notify.h"
#include "procs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Sockets whose record is remembered at once. A record is only what the
 * supervisor learnt of a socket (who set which option): losing one to a
 * collision loses a detail of a log line, never a decision about another
 * socket — the key is the socket's inode, not a reusable fd number. */
#define LR_SOCKETS 8192

/* Shared by every worker, under `lock`. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	ino_t ino;
	uint16_t bits;
} sockets[LR_SOCKETS];

/* Set once by lr_front_init, before the workers start. */
static int unprivileged_start = 1024;

void lr_front_init(void)
{
	lr_keeping_init(lr_getenv_own);
	char buf[32];
	int fd = open("/proc/sys/net/ipv4/ip_unprivileged_port_start", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			unprivileged_start = atoi(buf);
		}
		close(fd);
	}
}

/* Whether any socket was ever given a record (then for good): written
 * under the lock, read without it. */
static atomic_bool any;

bool lr_front_any(void)
{
	return atomic_load_explicit(&any, memory_order_relaxed);
}

ino_t lr_front_ino(struct lr_trapped *t)
{
	struct stat st;
	if (!t->ino && t->dup >= 0 && fstat(t->dup, &st) == 0 && S_ISSOCK(st.st_mode))
		t->ino = st.st_ino;
	return t->ino;
}

uint16_t lr_front_get(ino_t ino)
{
	pthread_mutex_lock(&lock);
	size_t i = (size_t)ino % LR_SOCKETS;
	uint16_t bits = sockets[i].ino == ino ? sockets[i].bits : 0;
	pthread_mutex_unlock(&lock);
	return bits;
}

void lr_front_update(ino_t ino, uint16_t clear, uint16_t set)
{
	if (!ino)
		return;
	pthread_mutex_lock(&lock);
	atomic_store_explicit(&any, true, memory_order_relaxed);
	size_t i = (size_t)ino % LR_SOCKETS;
	if (sockets[i].ino != ino) {
		sockets[i].ino = ino;
		sockets[i].bits = 0;
	}
	sockets[i].bits = (uint16_t)((sockets[i].bits & ~clear) | set);
	pthread_mutex_unlock(&lock);
}

void lr_front_set(ino_t ino, uint16_t bits)
{
	lr_front_update(ino, 0xffff, bits);
}

bool lr_front_kind(int dup, uint16_t *bits)
{
	/* The name of the protocol the socket was made with (sk_prot_creator):
	 * only these four are taken from it; any other, or a kernel without
	 * it, is asked the long way (domain, type, protocol: three calls). */
	static const struct {
		const char *name;
		uint16_t bits;
	} known[] = {
		{ "TCP", LR_SOCK_KNOWN | LR_SOCK_TCP },
		{ "TCPv6", LR_SOCK_KNOWN | LR_SOCK_V6 | LR_SOCK_TCP },
		{ "UDP", LR_SOCK_KNOWN | LR_SOCK_UDP },
		{ "UDPv6", LR_SOCK_KNOWN | LR_SOCK_V6 | LR_SOCK_UDP },
	};
	int saved = errno;
	char name[32];
	ssize_t n = fgetxattr(dup, "system.sockprotoname", name, sizeof(name) - 1);
	errno = saved;
	if (n > 0) {
		name[n] = '\0';
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strcmp(name, known[i].name) == 0) {
				*bits = known[i].bits;
				return true;
			}
	}
	return lr_sock_ask(dup, bits);
}

ino_t lr_front_ino_at(pid_t tid, int fd)
{
	char path[64], link[64];
	struct lr_buf b = LR_BUF(path);
	lr_buf_str(&b, "/proc/");
	lr_buf_i64(&b, tid);
	lr_buf_str(&b, "/fd/");
	lr_buf_i64(&b, fd);
	ssize_t n = readlink(path, link, sizeof(link));
	if (n <= 0)
		return 0;
	/* "socket:[INODE]", read by hand: this is on every such trap. */
	static const char head[] = "socket:[";
	size_t h = sizeof(head) - 1;
	if ((size_t)n <= h + 1 || memcmp(link, head, h) != 0 || link[n - 1] != ']')
		return 0;
	ino_t ino = 0;
	for (ssize_t i = (ssize_t)h; i < n - 1; i++) {
		if (link[i] < '0' || link[i] > '9')
			return 0;
		ino = ino * 10 + (ino_t)(link[i] - '0');
	}
	return ino;
}

/* The call the current worker thread acts for (the core's socket calls
 * take no context). Set by that thread only, for the length of one call. */
static __thread struct lr_trapped *current;

/* A bind the supervisor makes is checked against its own capabilities: ask
 * the program's, as the kernel would have. */
static int bind_as_program(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (current->made) {
		errno = current->err;
		return current->ret;
	}
	struct lr_addr a;
	uint16_t port;
	if (lr_sockaddr_read(addr, len, &a, &port) == 0 && port && port < unprivileged_start) {
		/* Its credentials now, not as first seen: a daemon drops them. */
		uid_t euid;
		uint64_t capeff = 0;
		if (lr_proc_creds(current->tgid, &euid, &capeff) != 0 ||
		    !(capeff & (1ull << CAP_NET_BIND_SERVICE))) {
			errno = EACCES;
			return -1;
		}
	}
	int r = bind(fd, addr, len);
	if (r < 0 && errno == EINVAL && current->retried) {
		/* Made again after a signal: if the first attempt bound it where
		 * asked, that is this call's success. */
		struct sockaddr_storage ss;
		socklen_t l = sizeof(ss);
		struct lr_addr b;
		uint16_t bport;
		if (getsockname(fd, (struct sockaddr *)&ss, &l) == 0 &&
		    lr_sockaddr_read((struct sockaddr *)&ss, l, &b, &bport) == 0 && bport == port &&
		    memcmp(&a, &b, sizeof(a)) == 0)
			return 0;
		errno = EINVAL;
	}
	return r;
}

static int connect_as_program(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (current->made) {
		errno = current->err;
		return current->ret;
	}
	int r = connect(fd, addr, len);
	if (r < 0 && current->retried) {
		/* A connect made again after a signal: the first is under way,
		 * or done. Say what the program would have been told once. */
		if (errno == EALREADY)
			errno = EINPROGRESS;
		else if (errno == EISCONN)
			return 0;
	}
	return r;
}

int lr_front_bind_errno(struct lr_trapped *t, int dup, const struct sockaddr *addr, socklen_t len)
{
	int family, type, protocol;
	socklen_t n = sizeof(int);
	if (getsockopt(dup, SOL_SOCKET, SO_DOMAIN, &family, &n) != 0)
		return errno;
	n = sizeof(int);
	if (getsockopt(dup, SOL_SOCKET, SO_TYPE, &type, &n) != 0)
		return errno;
	n = sizeof(int);
	if (getsockopt(dup, SOL_SOCKET, SO_PROTOCOL, &protocol, &n) != 0)
		return errno;
	int probe = socket(family, type | SOCK_CLOEXEC, protocol);
	if (probe < 0)
		return errno;
	/* The options that decide whether an address in use may be shared,
	 * or a foreign one taken. */
	static const struct {
		int level, name;
	} copied[] = { { SOL_SOCKET, SO_REUSEADDR }, { SOL_SOCKET, SO_REUSEPORT },
		       { IPPROTO_IP, IP_FREEBIND }, { IPPROTO_IPV6, IPV6_V6ONLY } };
	for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
		int v = 0;
		n = sizeof(v);
		if ((copied[i].level != IPPROTO_IPV6 || family == AF_INET6) &&
		    getsockopt(dup, copied[i].level, copied[i].name, &v, &n) == 0 && v)
			setsockopt(probe, copied[i].level, copied[i].name, &v, sizeof(v));
	}
	struct lr_trapped *was = current;
	struct lr_trapped asked = *t;
	asked.made = false;
	asked.retried = false;
	current = &asked;
	int e = bind_as_program(probe, addr, len) == 0 ? EADDRINUSE : errno;
	current = was;
	close(probe);
	return e;
}

/* Never acts after the fact on a call the program made itself. */
static int setsockopt_as_program(int fd, int level, int name, const void *val, socklen_t len)
{
	if (current->made) {
		errno = EPERM;
		return -1;
	}
	return setsockopt(fd, level, name, val, len);
}

static void mark(const struct lr_caller *who, int fd, uint16_t clear, uint16_t set)
{
	(void)who;
	(void)fd;
	/* Bound is read of a UDP socket only (whether a datagram is its
	 * first): a TCP socket's is not worth asking its inode for. */
	if (!clear && set == LR_SOCK_BOUND && !current->udp)
		return;
	lr_front_update(lr_front_ino(current), clear, set);
}

/* The program's FD_CLOEXEC on its fd, from /proc/PID/fdinfo ("flags:" in octal). */
static bool program_cloexec(pid_t tgid, int fd)
{
	char what[32], buf[512];
	snprintf(what, sizeof(what), "fdinfo/%d", fd);
	if (lr_child_read(tgid, what, buf, sizeof(buf)) < 0)
		return false;
	const char *flags = strstr(buf, "flags:");
	return flags && (strtoul(flags + 6, NULL, 8) & O_CLOEXEC);
}

/* Puts socket k into the program at the trapped call's fd number, the
 * program's own socket's options (every one: which it set is not seen
 * here) and mode copied over. */
static int put_in_program(void *ctx, int fd, int k, const struct lr_keep_sock *want,
			  struct lr_keep_outcome *out)
{
	struct lr_trapped *t = ctx;
	(void)out;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return 0;
	lr_keep_fit_options(fd, k, want, LR_KEEP_ALL_OPTIONS);
	lr_keep_fit_mode(k, fl);
	return lr_notify_addfd(t->listener, t->id, k, t->target, program_cloexec(t->tgid, t->target)) == 0;
}

/* Asked first, systemd's copy or the keeper would hand over a socket
 * nobody can put into the program. */
static const char *cannot_put(void)
{
	return lr_kernel_has(LR_K_NOTIF_ADDFD)
		       ? NULL
		       : "not possible: this kernel cannot put a socket into a supervised program "
			 "(SECCOMP_IOCTL_NOTIF_ADDFD, Linux 5.9)";
}

static const struct lr_keep_front keep_front = { .cannot = cannot_put, .put = put_in_program };

static int adopt(const struct lr_caller *who, int fd, const struct lr_keep_sock *want,
		 const char *name, struct lr_keep_outcome *out)
{
	return lr_keeping_adopt(&keep_front, who->ctx, fd, want, name, out);
}

static int offer(const struct lr_caller *who, int fd, struct lr_keep_outcome *out)
{
	return lr_keeping_offer(&keep_front, who->ctx, fd, out);
}

/* Each program it serves is told once what a process is told once. */
static bool first(const struct lr_caller *who, unsigned said)
{
	return lr_proc_first(who->pid, said);
}

static const struct lr_socket_ops ops = {
	.first = first,
	.bind = bind_as_program,
	.connect = connect_as_program,
	.setsockopt = setsockopt_as_program,
	.mark = mark,
	.adopt = adopt,
	.offer = offer,
};

void lr_front_caller(struct lr_caller *who, struct lr_trapped *t, const char *program, uid_t euid)
{
	current = t;
	who->ops = &ops;
	who->pid = t->tgid;
	who->euid = euid;
	who->program = program;
	who->ctx = t;
}

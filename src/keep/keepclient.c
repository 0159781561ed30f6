#include "keepclient.h"

#include "errname.h"
#include "fmt.h"
#include "rules.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A keeper that does not answer within this long is taken as gone. */
#define LR_KEEPER_TIMEOUT_S 5

void lr_keeper_from_env(struct lr_keeper_addr *k, lr_getenv_fn *env)
{
	memset(k, 0, sizeof(*k));
	const char *name = env(LR_KEEPER_ENV);
	if (!name || !name[0] || strlen(name) >= sizeof(k->name) - 1)
		return;
	k->len = strlen(name);
	memcpy(k->name, name, k->len);
	const char *g = env(LR_KEEPER_GEN_ENV);
	k->gen = g ? (uint32_t)strtoul(g, NULL, 10) : 0;
}

void lr_keep_say(char *out, size_t n, const char *a, const char *b, long num, const char *c)
{
	struct lr_buf buf = { .p = out, .len = 0, .cap = n - 1 };
	lr_buf_str(&buf, a);
	if (b)
		lr_buf_str(&buf, b);
	if (num >= 0)
		lr_buf_u64(&buf, (uint64_t)num);
	if (c)
		lr_buf_str(&buf, c);
	out[buf.len] = '\0';
}

/* poll for the keeper's answer, for LR_KEEPER_TIMEOUT_S: the program's
 * signals interrupt it, and it goes on for what is left, timed from the
 * first of them (the clock is read only then: at most twice the timeout
 * in all). */
static int wait_answer(struct pollfd *p)
{
	const int limit = LR_KEEPER_TIMEOUT_S * 1000;
	struct timespec t0, now;
	bool timed = false;
	int n, left = limit;
	while ((n = poll(p, 1, left)) < 0 && errno == EINTR) {
		clock_gettime(CLOCK_MONOTONIC, timed ? &now : &t0);
		if (!timed) {
			timed = true;
			continue;
		}
		long spent = (long)(now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		left = limit - (int)spent;
		if (left <= 0)
			return 0;
	}
	return n;
}

/* One request on a fresh connection; -1 when the keeper cannot be reached
 * (errno says why). The connection is left open at *conn when conn is
 * given (the caller's to close: lr_keep_close), else closed. A second fd
 * that came along is left at *extra, or closed when extra is NULL.
 *
 * Non-blocking, and one poll for the answer: a keeper that never answers
 * still costs at most LR_KEEPER_TIMEOUT_S, for one system call where a
 * timeout set each way took two. */
static int ask(const struct lr_keeper_addr *k, struct lr_keep_msg *m, int send_fd, int *recv_fd,
	       int *extra, int *conn)
{
	int s = lr_sys.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return -1;
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path + 1, k->name, k->len); /* abstract: sun_path[0] is 0 */
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + k->len);
	m->magic = LR_KEEP_MAGIC;
	m->gen = k->gen;
	int r = -1, c = lr_sys.connect(s, (struct sockaddr *)&sa, len);
	if (c != 0 && errno == EAGAIN) {
		/* The keeper's backlog is full (a storm of connections, which
		 * it drains): wait for room, as long as for an answer. A rare
		 * path: two calls more. */
		struct timeval tv = { .tv_sec = LR_KEEPER_TIMEOUT_S };
		lr_sys.setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		int fl = lr_sys_fcntl(s, F_GETFL, 0);
		if (fl >= 0 && lr_sys_fcntl(s, F_SETFL, fl & ~O_NONBLOCK) == 0)
			c = lr_sys.connect(s, (struct sockaddr *)&sa, len);
	}
	if (c == 0) {
		/* A keeper that refuses us answers at once and hangs up, maybe
		 * before our request is sent: its answer is read all the same.
		 * One message on a fresh connection never waits for room. */
		int sent = lr_keep_send(s, m, send_fd, -1);
		if (sent == 0 || errno == EPIPE || errno == ECONNRESET) {
			struct pollfd p = { .fd = s, .events = POLLIN };
			int n = wait_answer(&p);
			if (n == 0)
				errno = EAGAIN; /* what a receive timeout said */
			if (n > 0)
				r = lr_keep_recv(s, m, recv_fd, extra);
		}
	}
	int e = errno;
	if (conn && r == 0)
		*conn = s;
	else
		lr_sys.close(s);
	errno = e;
	return r;
}

static void said(struct lr_keep_outcome *out, const struct lr_keep_msg *m, int err)
{
	if (err) {
		lr_keep_say(out->why, sizeof(out->why), "not possible: the keeper is not reachable (",
			    lr_errno_name(err), -1, ")");
		return;
	}
	if (m->op == LR_KEEP_OK) {
		lr_keep_say(out->from, sizeof(out->from), "the keeper (pid ", NULL, m->pid, ")");
		return;
	}
	if (m->reason[0])
		lr_keep_say(out->why, sizeof(out->why),
			    m->op == LR_KEEP_REFUSED ? "refused by the keeper: " : "not taken: ", m->reason,
			    -1, NULL);
}

/* The board that came along with a reply, handed to the caller who asked
 * for it (-1: none came). */
static void board_from(int *board, int got)
{
	if (board)
		*board = got;
	else if (got >= 0)
		lr_sys.close(got);
}

int lr_keeper_adopt(const struct lr_keeper_addr *k, const struct lr_keep_sock *want, int *fd,
		    int *conn, int *board, struct lr_keep_outcome *out)
{
	int saved = errno;
	struct lr_keep_msg m;
	memset(&m, 0, sizeof(m));
	m.op = LR_KEEP_ADOPT;
	m.sock = *want;
	m.want = board ? LR_KEEP_WANT_BOARD : 0;
	*fd = -1;
	*conn = -1;
	int got = -1;
	int r = ask(k, &m, -1, fd, &got, conn);
	said(out, &m, r == 0 ? 0 : errno);
	int ok = r == 0 && m.op == LR_KEEP_OK && *fd >= 0;
	if (r == 0 && m.op == LR_KEEP_OK && *fd < 0)
		lr_keep_say(out->why, sizeof(out->why), "not taken: the keeper sent no socket", NULL, -1, NULL);
	if (!ok) {
		lr_keep_close(*conn, *fd, got);
		*fd = *conn = got = -1;
	}
	board_from(board, got);
	errno = saved;
	return ok;
}

int lr_keeper_offer(const struct lr_keeper_addr *k, int fd, int *board, struct lr_keep_outcome *out)
{
	int saved = errno;
	struct lr_keep_msg m;
	memset(&m, 0, sizeof(m));
	m.op = LR_KEEP_OFFER;
	m.want = board ? LR_KEEP_WANT_BOARD : 0;
	/* No socket comes back from an offer: the one fd that may come is the
	 * board. */
	int got = -1;
	int r = ask(k, &m, fd, &got, NULL, NULL);
	said(out, &m, r == 0 ? 0 : errno);
	board_from(board, got);
	errno = saved;
	return r == 0 && m.op == LR_KEEP_OK;
}

/* Options a program sets before bind that its listener keeps afterwards (and
 * hands to the sockets it accepts): copied from the program's fresh socket
 * to the adopted one where they differ. SO_REUSEADDR/SO_REUSEPORT matter only
 * at bind, which the kept socket is long past. Bit i of a mask is
 * carried[i] (lr_keep_option_bit); SO_LINGER is LR_KEEP_LINGER_BIT. */
static const struct {
	int level, name;
} carried[] = {
	{ SOL_SOCKET, SO_KEEPALIVE },	   { SOL_SOCKET, SO_RCVBUF },	     { SOL_SOCKET, SO_SNDBUF },
	{ SOL_SOCKET, SO_RCVLOWAT },	   { SOL_SOCKET, SO_PRIORITY },	     { SOL_SOCKET, SO_BROADCAST },
	{ SOL_SOCKET, SO_OOBINLINE },	   { SOL_SOCKET, SO_MARK },	     { IPPROTO_TCP, TCP_NODELAY },
	{ IPPROTO_TCP, TCP_DEFER_ACCEPT }, { IPPROTO_TCP, TCP_KEEPIDLE },    { IPPROTO_TCP, TCP_KEEPINTVL },
	{ IPPROTO_TCP, TCP_KEEPCNT },	   { IPPROTO_TCP, TCP_USER_TIMEOUT }, { IPPROTO_TCP, TCP_FASTOPEN },
	{ IPPROTO_IP, IP_TOS },		   { IPPROTO_IP, IP_TTL },	     { IPPROTO_IP, IP_PKTINFO },
	{ IPPROTO_IP, IP_RECVERR },	   { IPPROTO_IPV6, IPV6_RECVPKTINFO }, { IPPROTO_IPV6, IPV6_TCLASS },
	{ IPPROTO_IPV6, IPV6_UNICAST_HOPS },
};
_Static_assert(sizeof(carried) / sizeof(carried[0]) == LR_KEEP_LINGER_BIT, "one bit each, then linger's");

int lr_keep_option_bit(int level, int name)
{
	if (level == SOL_SOCKET && name == SO_LINGER)
		return LR_KEEP_LINGER_BIT;
	for (size_t i = 0; i < sizeof(carried) / sizeof(carried[0]); i++)
		if (carried[i].level == level && carried[i].name == name)
			return (int)i;
	return -1;
}

/* Only the options of `only` (LR_KEEP_ALL_OPTIONS: every one): a program
 * that set two pays for two, not for every option a listener keeps. */
static void copy_options(int from, int to, int family, int type, uint32_t only)
{
	for (size_t i = 0; i < sizeof(carried) / sizeof(carried[0]); i++) {
		int level = carried[i].level, name = carried[i].name;
		if (!(only >> i & 1) || (level == IPPROTO_TCP && type != SOCK_STREAM) ||
		    (level == IPPROTO_IPV6 && family != AF_INET6) || (level == IPPROTO_IP && family != AF_INET))
			continue;
		/* One the program set is set on the kept socket as it is on the
		 * program's, without asking what it is there: a call less, and
		 * the value the same either way. Every option (a front end that
		 * cannot tell which were set) is set only where they differ. */
		int a = 0, b = 0;
		socklen_t la = sizeof(a), lb = sizeof(b);
		if (getsockopt(from, level, name, &a, &la) != 0 ||
		    (only == LR_KEEP_ALL_OPTIONS && (getsockopt(to, level, name, &b, &lb) != 0 || a == b)))
			continue;
		/* The kernel reports buffer sizes doubled, and doubles what it is given. */
		if (level == SOL_SOCKET && (name == SO_RCVBUF || name == SO_SNDBUF))
			a /= 2;
		lr_sys.setsockopt(to, level, name, &a, sizeof(a));
	}
	if (!(only >> LR_KEEP_LINGER_BIT & 1))
		return;
	struct linger la, lb;
	socklen_t l1 = sizeof(la), l2 = sizeof(lb);
	if (getsockopt(from, SOL_SOCKET, SO_LINGER, &la, &l1) == 0 &&
	    (only != LR_KEEP_ALL_OPTIONS ||
	     (getsockopt(to, SOL_SOCKET, SO_LINGER, &lb, &l2) == 0 && memcmp(&la, &lb, sizeof(la)) != 0)))
		lr_sys.setsockopt(to, SOL_SOCKET, SO_LINGER, &la, sizeof(la));
}

void lr_keep_fit_options(int fd, int k, const struct lr_keep_sock *want, uint32_t only)
{
	copy_options(fd, k, want->family, want->proto == LR_PROTO_TCP ? SOCK_STREAM : SOCK_DGRAM, only);
}

void lr_keep_fit_mode(int k, int fl)
{
	/* File status flags live in the open file description, which the kept
	 * socket shares with every holder: set only where the program's differ. */
	int kfl = lr_sys_fcntl(k, F_GETFL, 0);
	if (kfl >= 0 && (kfl & O_NONBLOCK) != (fl & O_NONBLOCK))
		lr_sys_fcntl(k, F_SETFL, (kfl & ~O_NONBLOCK) | (fl & O_NONBLOCK));
}

void lr_keep_close(int a, int b, int c)
{
	int saved = errno, fd[3] = { a, b, c }, n = 0;
	for (int i = 0; i < 3; i++)
		if (fd[i] >= 0)
			fd[n++] = fd[i];
	/* Sorted: three at most. */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && fd[j - 1] > fd[j]; j--) {
			int t = fd[j];
			fd[j] = fd[j - 1];
			fd[j - 1] = t;
		}
#ifdef SYS_close_range
	/* A connection and what it brought are mostly at numbers next to each
	 * other: one call closes them all, and nothing else. */
	if (n > 1 && fd[n - 1] - fd[0] == n - 1 &&
	    syscall(SYS_close_range, (unsigned)fd[0], (unsigned)fd[n - 1], 0u) == 0) {
		errno = saved;
		return;
	}
#endif
	for (int i = 0; i < n; i++)
		lr_sys.close(fd[i]);
	errno = saved;
}

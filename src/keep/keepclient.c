#include "keepclient.h"

#include "errname.h"
#include "fmt.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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

/* One request on a fresh connection; -1 when the keeper cannot be reached
 * (errno says why). */
static int ask(const struct lr_keeper_addr *k, struct lr_keep_msg *m, int send_fd, int *recv_fd)
{
	int s = lr_sys.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	struct timeval tv = { .tv_sec = LR_KEEPER_TIMEOUT_S };
	lr_sys.setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	lr_sys.setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path + 1, k->name, k->len); /* abstract: sun_path[0] is 0 */
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + k->len);
	m->magic = LR_KEEP_MAGIC;
	m->gen = k->gen;
	int r = -1;
	if (lr_sys.connect(s, (struct sockaddr *)&sa, len) == 0) {
		/* A keeper that refuses us answers at once and hangs up, maybe
		 * before our request is sent: its answer is read all the same. */
		int sent = lr_keep_send(s, m, send_fd);
		if (sent == 0 || errno == EPIPE || errno == ECONNRESET)
			r = lr_keep_recv(s, m, recv_fd);
	}
	int e = errno;
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

int lr_keeper_adopt(const struct lr_keeper_addr *k, const struct lr_keep_sock *want, int *fd,
		    struct lr_keep_outcome *out)
{
	int saved = errno;
	struct lr_keep_msg m;
	memset(&m, 0, sizeof(m));
	m.op = LR_KEEP_ADOPT;
	m.sock = *want;
	*fd = -1;
	int r = ask(k, &m, -1, fd);
	said(out, &m, r == 0 ? 0 : errno);
	int ok = r == 0 && m.op == LR_KEEP_OK && *fd >= 0;
	if (r == 0 && m.op == LR_KEEP_OK && *fd < 0)
		lr_keep_say(out->why, sizeof(out->why), "not taken: the keeper sent no socket", NULL, -1, NULL);
	if (!ok && *fd >= 0) {
		lr_sys.close(*fd);
		*fd = -1;
	}
	errno = saved;
	return ok;
}

int lr_keeper_offer(const struct lr_keeper_addr *k, int fd, struct lr_keep_outcome *out)
{
	int saved = errno;
	struct lr_keep_msg m;
	memset(&m, 0, sizeof(m));
	m.op = LR_KEEP_OFFER;
	int back = -1;
	int r = ask(k, &m, fd, &back);
	if (back >= 0)
		lr_sys.close(back);
	said(out, &m, r == 0 ? 0 : errno);
	errno = saved;
	return r == 0 && m.op == LR_KEEP_OK;
}

int lr_keeper_board(const struct lr_keeper_addr *k, int *fd)
{
	int saved = errno;
	struct lr_keep_msg m;
	memset(&m, 0, sizeof(m));
	m.op = LR_KEEP_BOARD;
	*fd = -1;
	int ok = ask(k, &m, -1, fd) == 0 && m.op == LR_KEEP_OK && *fd >= 0;
	if (!ok && *fd >= 0) {
		lr_sys.close(*fd);
		*fd = -1;
	}
	errno = saved;
	return ok;
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

int lr_keep_fit_known(int fd, int td, int dd, int k, int tk, uint32_t only, char *why, size_t n)
{
	int dk = 0;
	socklen_t l = sizeof(dk);
	if (getsockopt(k, SOL_SOCKET, SO_DOMAIN, &dk, &l) != 0)
		return 0;
	if (td != tk || dd != dk) {
		lr_keep_say(why, n, td != tk ? "not taken: the kept socket is of another type" :
					       "not taken: the kept socket is of another address family",
			    NULL, -1, NULL);
		return 0;
	}
	copy_options(fd, k, dd, td, only);
	return 1;
}

int lr_keep_fit_options(int fd, int k, uint32_t only, char *why, size_t n)
{
	int td = 0, tk = 0, dd = 0;
	socklen_t l1 = sizeof(td), l2 = sizeof(tk), l3 = sizeof(dd);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &td, &l1) != 0 ||
	    getsockopt(k, SOL_SOCKET, SO_TYPE, &tk, &l2) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dd, &l3) != 0)
		return 0;
	return lr_keep_fit_known(fd, td, dd, k, tk, only, why, n);
}

int lr_keep_fit(int fd, int k, char *why, size_t n)
{
	int flflags = lr_sys_fcntl(fd, F_GETFL, 0);
	if (flflags < 0 || !lr_keep_fit_options(fd, k, LR_KEEP_ALL_OPTIONS, why, n))
		return 0;
	/* File status flags live in the open file description, which the kept
	 * socket shares with every holder: set only where the program's differ. */
	int kfl = lr_sys_fcntl(k, F_GETFL, 0);
	if (kfl >= 0 && (kfl & O_NONBLOCK) != (flflags & O_NONBLOCK))
		lr_sys_fcntl(k, F_SETFL, (kfl & ~O_NONBLOCK) | (flflags & O_NONBLOCK));
	return 1;
}

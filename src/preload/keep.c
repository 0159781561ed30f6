#include "keep.h"

#include "errname.h"
#include "fmt.h"
#include "real.h"
#include "rules.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* systemd passes at most this many sockets to one program that we look at. */
#define LR_SD_MAX 64
/* A keeper that does not answer within this long is taken as gone. */
#define LR_KEEPER_TIMEOUT_S 5

/* Written once by lr_keep_capture (at load time, before the program's own
 * threads), read-only afterwards. */
static char keeper_name[108];
static size_t keeper_len;
static uint32_t generation;
static int sd_count;
static int sd_fd[LR_SD_MAX];
static char sd_names[4096];
static const char *sd_name[LR_SD_MAX];

void lr_keep_capture(void)
{
	/* From the constructor, or from the first rule load if a hook ran
	 * before it (another library's constructor): whichever is first. */
	static atomic_flag done = ATOMIC_FLAG_INIT;
	if (atomic_flag_test_and_set(&done))
		return;
	const char *k = secure_getenv(LR_KEEPER_ENV);
	if (k && k[0] && strlen(k) < sizeof(keeper_name) - 1) {
		keeper_len = strlen(k);
		memcpy(keeper_name, k, keeper_len);
		const char *g = secure_getenv(LR_KEEPER_GEN_ENV);
		generation = g ? (uint32_t)strtoul(g, NULL, 10) : 0;
	}
	/* sd_listen_fds(3): valid only in the process systemd named. */
	const char *pid = secure_getenv("LISTEN_PID");
	const char *fds = secure_getenv("LISTEN_FDS");
	if (!pid || !fds || strtol(pid, NULL, 10) != (long)getpid())
		return;
	long n = strtol(fds, NULL, 10);
	if (n <= 0)
		return;
	const char *names = secure_getenv("LISTEN_FDNAMES");
	size_t used = 0;
	for (long i = 0; i < n && sd_count < LR_SD_MAX; i++) {
		sd_fd[sd_count] = 3 + (int)i;
		sd_name[sd_count] = NULL;
		if (names && *names) {
			size_t len = strcspn(names, ":");
			if (used + len + 1 <= sizeof(sd_names)) {
				memcpy(sd_names + used, names, len);
				sd_names[used + len] = '\0';
				sd_name[sd_count] = sd_names + used;
				used += len + 1;
			}
			names += len + (names[len] == ':');
		}
		sd_count++;
	}
}

/* Options a program sets before bind that its listener keeps afterwards (and
 * hands to the sockets it accepts): copied from the program's fresh socket
 * to the adopted one where they differ. SO_REUSEADDR/SO_REUSEPORT matter only
 * at bind, which the kept socket is long past. */
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

static void copy_options(int from, int to, int family, int type)
{
	for (size_t i = 0; i < sizeof(carried) / sizeof(carried[0]); i++) {
		int level = carried[i].level, name = carried[i].name;
		if ((level == IPPROTO_TCP && type != SOCK_STREAM) ||
		    (level == IPPROTO_IPV6 && family != AF_INET6) || (level == IPPROTO_IP && family != AF_INET))
			continue;
		int a = 0, b = 0;
		socklen_t la = sizeof(a), lb = sizeof(b);
		if (getsockopt(from, level, name, &a, &la) != 0 || getsockopt(to, level, name, &b, &lb) != 0 ||
		    a == b)
			continue;
		/* The kernel reports buffer sizes doubled, and doubles what it is given. */
		if (level == SOL_SOCKET && (name == SO_RCVBUF || name == SO_SNDBUF))
			a /= 2;
		lr_real.setsockopt(to, level, name, &a, sizeof(a));
	}
	struct linger la, lb;
	socklen_t l1 = sizeof(la), l2 = sizeof(lb);
	if (getsockopt(from, SOL_SOCKET, SO_LINGER, &la, &l1) == 0 &&
	    getsockopt(to, SOL_SOCKET, SO_LINGER, &lb, &l2) == 0 && memcmp(&la, &lb, sizeof(la)) != 0)
		lr_real.setsockopt(to, SOL_SOCKET, SO_LINGER, &la, sizeof(la));
}

/* Puts socket k at the program's fd number, as the program's own socket
 * was: same type and family, FD_CLOEXEC and O_NONBLOCK as it set them, its
 * options carried over. Closes k either way. 1 on success. */
static int put_in_place(int fd, int k, char *why, size_t n)
{
	int td = 0, tk = 0, dd = 0, dk = 0;
	socklen_t l1 = sizeof(td), l2 = sizeof(tk), l3 = sizeof(dd), l4 = sizeof(dk);
	int fdflags = fcntl(fd, F_GETFD), flflags = fcntl(fd, F_GETFL);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &td, &l1) != 0 ||
	    getsockopt(k, SOL_SOCKET, SO_TYPE, &tk, &l2) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dd, &l3) != 0 ||
	    getsockopt(k, SOL_SOCKET, SO_DOMAIN, &dk, &l4) != 0 || fdflags < 0 || flflags < 0) {
		lr_real.close(k);
		return 0;
	}
	if (td != tk || dd != dk) {
		struct lr_buf b = { .p = why, .len = 0, .cap = n - 1 };
		lr_buf_str(&b, td != tk ? "not taken: the kept socket is of another type" :
					   "not taken: the kept socket is of another address family");
		why[b.len] = '\0';
		lr_real.close(k);
		return 0;
	}
	copy_options(fd, k, dd, td);
	/* File status flags live in the open file description, which the kept
	 * socket shares with every holder: set only where the program's differ. */
	int kfl = fcntl(k, F_GETFL);
	if (kfl >= 0 && (kfl & O_NONBLOCK) != (flflags & O_NONBLOCK))
		fcntl(k, F_SETFL, (kfl & ~O_NONBLOCK) | (flflags & O_NONBLOCK));
	int r = lr_real.dup3(k, fd, (fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0);
	lr_real.close(k);
	return r == fd;
}

static void say(char *out, size_t n, const char *a, const char *b, long num, const char *c)
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

/* systemd's socket for this bind: by name when the rule names one, else the
 * one whose identity is the same. */
static int adopt_systemd(int fd, const struct lr_keep_sock *want, const char *name,
			 struct lr_keep_outcome *out)
{
	for (int i = 0; i < sd_count; i++) {
		struct lr_keep_sock have;
		if (name && (!sd_name[i] || strcmp(name, sd_name[i]) != 0))
			continue;
		if (lr_keep_identify(sd_fd[i], &have) != 0) {
			if (name)
				say(out->why, sizeof(out->why), "not taken: systemd fd ", NULL, sd_fd[i],
				    " is not a bound TCP or UDP socket");
			continue;
		}
		if (name ? have.proto != want->proto || have.family != want->family : !lr_keep_same(&have, want)) {
			if (name)
				say(out->why, sizeof(out->why), "not taken: systemd fd ", NULL, sd_fd[i],
				    have.proto != want->proto ? " is of another protocol" :
								 " is of another address family");
			continue;
		}
		int k = fcntl(sd_fd[i], F_DUPFD_CLOEXEC, 3);
		if (k < 0 || !put_in_place(fd, k, out->why, sizeof(out->why)))
			return 0;
		struct lr_buf b = { .p = out->from, .len = 0, .cap = sizeof(out->from) - 1 };
		lr_buf_str(&b, "systemd fd ");
		lr_buf_u64(&b, (uint64_t)sd_fd[i]);
		if (sd_name[i]) {
			lr_buf_str(&b, " \"");
			lr_buf_str(&b, sd_name[i]);
			lr_buf_char(&b, '"');
		}
		out->from[b.len] = '\0';
		return 1;
	}
	if (name && !out->why[0])
		say(out->why, sizeof(out->why), "not possible: systemd passed no socket named \"", name,
		    -1, "\"");
	return 0;
}

/* One request to the keeper on a fresh connection; -1 when it cannot be
 * reached (errno says why). */
static int ask_keeper(struct lr_keep_msg *m, int send_fd, int *recv_fd)
{
	int s = lr_real.socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	struct timeval tv = { .tv_sec = LR_KEEPER_TIMEOUT_S };
	lr_real.setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	lr_real.setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path + 1, keeper_name, keeper_len); /* abstract: sun_path[0] is 0 */
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + keeper_len);
	m->magic = LR_KEEP_MAGIC;
	m->gen = generation;
	int r = lr_real.connect(s, (struct sockaddr *)&sa, len) == 0 && lr_keep_send(s, m, send_fd) == 0 &&
			lr_keep_recv(s, m, recv_fd) == 0
		? 0
		: -1;
	int e = errno;
	lr_real.close(s);
	errno = e;
	return r;
}

static void keeper_said(struct lr_keep_outcome *out, const struct lr_keep_msg *m, int err)
{
	if (err) {
		say(out->why, sizeof(out->why), "not possible: the keeper is not reachable (",
		    lr_errno_name(err), -1, ")");
		return;
	}
	if (m->op == LR_KEEP_OK) {
		say(out->from, sizeof(out->from), "the keeper (pid ", NULL, m->pid, ")");
		return;
	}
	if (m->reason[0])
		say(out->why, sizeof(out->why),
		    m->op == LR_KEEP_REFUSED ? "refused by the keeper: " : "not taken: ", m->reason, -1,
		    NULL);
}

int lr_keep_adopt(int fd, const struct lr_keep_sock *want, const char *name,
		  struct lr_keep_outcome *out)
{
	int saved = errno;
	memset(out, 0, sizeof(*out));
	int done = 0;
	if (sd_count || name)
		done = adopt_systemd(fd, want, name, out);
	if (!done && !name && keeper_len) {
		struct lr_keep_msg m;
		memset(&m, 0, sizeof(m));
		m.op = LR_KEEP_ADOPT;
		m.sock = *want;
		int k = -1;
		int r = ask_keeper(&m, -1, &k);
		keeper_said(out, &m, r == 0 ? 0 : errno);
		if (r == 0 && m.op == LR_KEEP_OK) {
			if (k < 0)
				say(out->why, sizeof(out->why), "not taken: the keeper sent no socket", NULL, -1,
				    NULL);
			else
				done = put_in_place(fd, k, out->why, sizeof(out->why));
		} else if (k >= 0) {
			lr_real.close(k);
		}
	}
	out->no_keeper = !done && !keeper_len && !sd_count;
	errno = saved;
	return done;
}

int lr_keep_offer(int fd, struct lr_keep_outcome *out)
{
	int saved = errno;
	memset(out, 0, sizeof(*out));
	out->no_keeper = !keeper_len;
	if (!keeper_len) {
		errno = saved;
		return 0;
	}
	struct lr_keep_msg m;
	memset(&m, 0, sizeof(m));
	m.op = LR_KEEP_OFFER;
	int k = -1;
	int r = ask_keeper(&m, fd, &k);
	if (k >= 0)
		lr_real.close(k);
	keeper_said(out, &m, r == 0 ? 0 : errno);
	errno = saved;
	return r == 0 && m.op == LR_KEEP_OK;
}

#include "holders.h"
#include "sys.h"

#include "child.h"
#include "fmt.h"
#include "rules.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

/* Which holders to keep when there are more than fit: the ones that explain
 * a refusal best come first. */
/* The system call itself and the kernel's record (linux_dirent64), the same
 * on every ABI: glibc's getdents64 and dirent64 are its own (musl dropped
 * the LFS64 names). */
struct lr_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static long lr_getdents(int fd, void *buf, size_t n)
{
	return syscall(SYS_getdents64, fd, buf, n);
}

static int rank(const struct lr_holder *h)
{
	if (h->state == LR_ST_LISTEN)
		return 0;
	if (h->proto == LR_PROTO_UDP && h->state == LR_ST_CLOSE)
		return 1;
	if (h->state != LR_ST_TIME_WAIT)
		return 2;
	return 3;
}

static void add(struct lr_holders *out, const struct lr_holder *h)
{
	out->total++;
	size_t at = out->n;
	if (at == LR_HOLDERS_MAX) {
		size_t worst = 0;
		for (size_t i = 1; i < out->n; i++)
			if (rank(&out->h[i]) >= rank(&out->h[worst]))
				worst = i;
		if (rank(h) >= rank(&out->h[worst]))
			return;
		at = worst;
	} else {
		out->n++;
	}
	out->h[at] = *h;
}

/* Stable: equal ranks keep the kernel's order. */
static void sort_by_rank(struct lr_holders *out)
{
	for (size_t i = 1; i < out->n; i++) {
		struct lr_holder x = out->h[i];
		size_t j = i;
		for (; j > 0 && rank(&out->h[j - 1]) > rank(&x); j--)
			out->h[j] = out->h[j - 1];
		out->h[j] = x;
	}
}

static void reset(struct lr_holders *out)
{
	out->n = 0;
	out->total = 0;
	out->from_proc = false;
}

/* ---- NETLINK_SOCK_DIAG ---- */

static void read_diag_msg(const struct nlmsghdr *nlh, uint8_t proto, struct lr_holders *out)
{
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
		return;
	const struct inet_diag_msg *m = NLMSG_DATA(nlh);
	struct lr_holder h;
	memset(&h, 0, sizeof(h));
	h.proto = proto;
	h.state = m->idiag_state;
	h.port = ntohs(m->id.idiag_sport);
	h.addr.family = m->idiag_family;
	memcpy(h.addr.bytes, m->id.idiag_src, m->idiag_family == AF_INET6 ? 16 : 4);
	/* A TIME_WAIT entry is no socket of anyone's: uid and inode are 0. */
	h.has_uid = m->idiag_state != LR_ST_TIME_WAIT;
	h.uid = m->idiag_uid;
	h.inode = m->idiag_inode;
	int alen = (int)(nlh->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	for (const struct rtattr *a = (const struct rtattr *)(m + 1); RTA_OK(a, alen);
	     a = RTA_NEXT(a, alen))
		if (a->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(a) >= 1)
			h.v6only = *(const uint8_t *)RTA_DATA(a) != 0;
	add(out, &h);
}

/* NLMSG_OK, its comparison made unsigned where the length is known to be
 * positive: clang warns of the macro's own mixed-sign comparison (gcc keeps
 * quiet in a system header's macro), and -Werror builds with both. */
static bool nl_ok(const struct nlmsghdr *nlh, int len)
{
	return len >= (int)sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) && nlh->nlmsg_len <= (unsigned)len;
}

static int netlink_query(int fd, int family, uint8_t proto, uint16_t port,
			 struct lr_holders *out)
{
	/* The filter `sport >= port && sport <= port`, in inet_diag bytecode:
	 * each test is followed by a pseudo-op carrying the port; "no" jumps
	 * past the end, which rejects. Older kernels than S_EQ know these. */
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
		struct rtattr rta;
		struct inet_diag_bc_op ops[4];
	} req;
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nlh.nlmsg_seq = 1;
	req.r.sdiag_family = (uint8_t)family;
	req.r.sdiag_protocol = proto == LR_PROTO_TCP ? IPPROTO_TCP : IPPROTO_UDP;
	req.r.idiag_states = ~0u;
	req.rta.rta_type = INET_DIAG_REQ_BYTECODE;
	req.rta.rta_len = RTA_LENGTH(sizeof(req.ops));
	req.ops[0] = (struct inet_diag_bc_op){ INET_DIAG_BC_S_GE, 8, 20 };
	req.ops[1] = (struct inet_diag_bc_op){ 0, 0, port };
	req.ops[2] = (struct inet_diag_bc_op){ INET_DIAG_BC_S_LE, 8, 12 };
	req.ops[3] = (struct inet_diag_bc_op){ 0, 0, port };
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	if (lr_sys.sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) !=
	    (ssize_t)sizeof(req))
		return -1;
	long buf[8192 / sizeof(long)];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return -1;
		int len = (int)n;
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf; nl_ok(nlh, len);
		     nlh = NLMSG_NEXT(nlh, len)) {
			if (nlh->nlmsg_type == NLMSG_DONE)
				return 0;
			if (nlh->nlmsg_type == NLMSG_ERROR)
				return -1; /* e.g. udp_diag not available */
			if (nlh->nlmsg_type == SOCK_DIAG_BY_FAMILY)
				read_diag_msg(nlh, proto, out);
		}
	}
}

int lr_holders_netlink(uint8_t proto, uint16_t port, struct lr_holders *out)
{
	reset(out);
	int fd = lr_sys.socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -1;
	/* The kernel answers a dump at once; this only bounds the unexpected. */
	struct timeval tv = { .tv_sec = 1 };
	lr_sys.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int ret = netlink_query(fd, AF_INET, proto, port, out);
	if (ret == 0)
		ret = netlink_query(fd, AF_INET6, proto, port, out);
	lr_sys.close(fd);
	if (ret == 0)
		sort_by_rank(out);
	return ret;
}

/* ---- /proc/net ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* n hex digits at *p into v; advances *p. */
static bool hex_n(const char **p, int n, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		int d = hexval((*p)[i]);
		if (d < 0)
			return false;
		*v = *v << 4 | (uint32_t)d;
	}
	*p += n;
	return true;
}

static bool dec_u64(const char **p, uint64_t *v)
{
	const char *s = *p;
	*v = 0;
	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9')
		*v = *v * 10 + (uint64_t)(*s++ - '0');
	*p = s;
	return true;
}

/* The line's fields, split at runs of spaces (the line is modified). */
static int split_fields(char *line, char **field, int max)
{
	int n = 0;
	for (char *p = line; *p && n < max;) {
		while (*p == ' ')
			*p++ = '\0';
		if (!*p)
			break;
		field[n++] = p;
		while (*p && *p != ' ')
			p++;
	}
	return n;
}

/* "  0: 0100007F:1F90 00000000:0000 0A ... uid timeout inode ...": the
 * address is printed as the kernel's 32-bit words in host order. */
static void read_proc_line(char *line, int family, uint8_t proto, uint16_t port,
			   struct lr_holders *out)
{
	enum { SL, LOCAL, REMOTE, STATE, QUEUES, TIMER, RETRANSMITS, UID, TIMEOUT, INODE, NFIELDS };
	char *f[NFIELDS];
	if (split_fields(line, f, NFIELDS) < NFIELDS)
		return;
	struct lr_holder h;
	memset(&h, 0, sizeof(h));
	h.proto = proto;
	h.addr.family = (uint8_t)family;
	const char *p = f[LOCAL];
	int words = family == AF_INET6 ? 4 : 1;
	for (int w = 0; w < words; w++) {
		uint32_t v;
		if (!hex_n(&p, 8, &v))
			return;
		memcpy(h.addr.bytes + 4 * w, &v, 4);
	}
	uint32_t v;
	if (*p++ != ':' || !hex_n(&p, 4, &v) || v != port)
		return;
	h.port = (uint16_t)v;
	p = f[STATE];
	if (!hex_n(&p, 2, &v))
		return;
	h.state = (uint8_t)v;
	uint64_t uid, inode;
	p = f[UID];
	if (!dec_u64(&p, &uid))
		return;
	p = f[INODE];
	if (!dec_u64(&p, &inode))
		return;
	h.has_uid = h.state != LR_ST_TIME_WAIT;
	h.uid = (uint32_t)uid;
	h.inode = inode;
	add(out, &h);
}

static int read_proc_table(const char *path, int family, uint8_t proto, uint16_t port,
			   struct lr_holders *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[4096], line[512];
	size_t used = 0;
	bool first = true, overlong = false;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (used < sizeof(line) - 1)
					line[used++] = buf[i];
				else
					overlong = true;
				continue;
			}
			line[used] = '\0';
			if (!first && !overlong)
				read_proc_line(line, family, proto, port, out);
			first = false; /* the header */
			overlong = false;
			used = 0;
		}
	}
	lr_sys.close(fd);
	return n < 0 ? -1 : 0;
}

int lr_holders_procnet(uint8_t proto, uint16_t port, struct lr_holders *out)
{
	reset(out);
	out->from_proc = true;
	bool tcp = proto == LR_PROTO_TCP;
	int r4 = read_proc_table(tcp ? "/proc/net/tcp" : "/proc/net/udp", AF_INET, proto, port, out);
	int r6 = read_proc_table(tcp ? "/proc/net/tcp6" : "/proc/net/udp6", AF_INET6, proto, port, out);
	sort_by_rank(out);
	/* Without IPv6 the second table is simply not there. */
	return r4 == 0 || r6 == 0 ? 0 : -1;
}

/* ---- owners ---- */

static bool all_owned(const struct lr_holders *h)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->h[i].inode && !h->h[i].pid)
			return false;
	return true;
}

static void read_comm(int pid, char *out, size_t n)
{
	out[0] = '\0';
	long r = lr_child_read(pid, "comm", out, n);
	char *nl = r > 0 ? memchr(out, '\n', (size_t)r) : NULL;
	if (nl)
		*nl = '\0';
}

/* "socket:[12345]" → 12345, else 0. */
static uint64_t socket_inode(const char *link)
{
	static const char prefix[] = "socket:[";
	if (strncmp(link, prefix, sizeof(prefix) - 1) != 0)
		return 0;
	const char *p = link + sizeof(prefix) - 1;
	uint64_t v;
	return dec_u64(&p, &v) && *p == ']' ? v : 0;
}

/* Calls fn with the inode of each socket in one process's fd table, until
 * fn says stop. False when the table cannot be read (the process is gone,
 * or not ours to see). */
static bool each_socket(const char *fd_dir, bool (*fn)(uint64_t ino, void *arg), void *arg)
{
	int dfd = open(fd_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return false;
	char buf[4096];
	ssize_t n;
	bool stop = false;
	while (!stop && (n = lr_getdents(dfd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n && !stop;) {
			const struct lr_dirent64 *d = (const struct lr_dirent64 *)(buf + off);
			off += d->d_reclen;
			if (d->d_name[0] == '.')
				continue;
			char link[64];
			ssize_t l = readlinkat(dfd, d->d_name, link, sizeof(link) - 1);
			if (l <= 0)
				continue;
			link[l] = '\0';
			uint64_t ino = socket_inode(link);
			if (ino)
				stop = fn(ino, arg);
		}
	}
	lr_sys.close(dfd);
	return true;
}

static void fd_dir_of(char *out, size_t n, int pid)
{
	struct lr_buf b = { .p = out, .len = 0, .cap = n };
	lr_buf_str(&b, "/proc/");
	lr_buf_u64(&b, (uint64_t)pid);
	lr_buf_str(&b, "/fd");
}

struct claim {
	struct lr_holders *h;
	int pid;
	char comm[sizeof(((struct lr_holder *)0)->program)];
};

/* Gives the holders with this inode and no owner yet to the process. */
static bool claim_socket(uint64_t ino, void *arg)
{
	struct claim *c = arg;
	for (size_t i = 0; i < c->h->n; i++) {
		struct lr_holder *x = &c->h->h[i];
		if (x->inode != ino || x->pid)
			continue;
		x->pid = c->pid;
		if (!c->comm[0]) /* read once per process */
			read_comm(c->pid, c->comm, sizeof(c->comm));
		memcpy(x->program, c->comm, sizeof(x->program));
	}
	return false;
}

static void scan_process(const char *fd_dir, int pid, struct lr_holders *h)
{
	struct claim c = { h, pid, "" };
	each_socket(fd_dir, claim_socket, &c);
}

struct find {
	uint64_t ino;
	bool found;
};

static bool find_socket(uint64_t ino, void *arg)
{
	struct find *f = arg;
	f->found = ino == f->ino;
	return f->found;
}

/* A socket shared down a tree of processes (a keeper and its instance, a
 * master and its workers) is named by the topmost of them that holds it:
 * the one that made it and will outlive the others. Which process /proc
 * lists first says nothing — after pids wrap, a child is listed before its
 * parent. A few parents up, each checked for the same socket. */
static void name_the_eldest(struct lr_holders *h)
{
	for (size_t i = 0; i < h->n; i++) {
		struct lr_holder *x = &h->h[i];
		if (!x->pid)
			continue;
		int pid = x->pid;
		for (int depth = 0; depth < 8; depth++) {
			int parent = lr_proc_parent(pid);
			if (parent <= 1)
				break;
			char dir[64];
			fd_dir_of(dir, sizeof(dir), parent);
			struct find f = { x->inode, false };
			if (!each_socket(dir, find_socket, &f) || !f.found)
				break;
			pid = parent;
		}
		if (pid != x->pid) {
			x->pid = pid;
			read_comm(pid, x->program, sizeof(x->program));
		}
	}
}

static void scan_all(struct lr_holders *h)
{
	/* The calling process first: a program in conflict with itself is
	 * common, and its own fds are always readable. */
	int self = getpid();
	scan_process("/proc/self/fd", self, h);
	int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (proc < 0)
		return;
	char buf[4096];
	ssize_t n;
	while (!all_owned(h) && (n = lr_getdents(proc, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n && !all_owned(h);) {
			const struct lr_dirent64 *d = (const struct lr_dirent64 *)(buf + off);
			off += d->d_reclen;
			const char *p = d->d_name;
			uint64_t pid;
			if (!dec_u64(&p, &pid) || *p || (int)pid == self)
				continue;
			char path[64];
			fd_dir_of(path, sizeof(path), (int)pid);
			scan_process(path, (int)pid, h);
		}
	}
	lr_sys.close(proc);
}

void lr_holders_owners(struct lr_holders *h)
{
	if (all_owned(h))
		return;
	scan_all(h);
	name_the_eldest(h);
}

int lr_holders_find(uint8_t proto, uint16_t port, struct lr_holders *out)
{
	int saved = errno;
	int ret = lr_holders_netlink(proto, port, out);
	if (ret != 0)
		ret = lr_holders_procnet(proto, port, out);
	if (ret == 0)
		lr_holders_owners(out);
	else
		reset(out);
	errno = saved;
	return ret;
}

void lr_holder_put_process(struct lr_buf *b, const struct lr_holder *h)
{
	lr_buf_str(b, "pid ");
	lr_buf_u64(b, (uint64_t)h->pid);
	lr_buf_str(b, " (");
	lr_buf_str(b, h->program[0] ? h->program : "?");
	lr_buf_char(b, ')');
}

const char *lr_holder_state_name(const struct lr_holder *h)
{
	static const char *const names[] = {
		"?",	      "ESTABLISHED", "SYN_SENT",  "SYN_RECV",	"FIN_WAIT1", "FIN_WAIT2",
		"TIME_WAIT", "CLOSE",	    "CLOSE_WAIT", "LAST_ACK",	"LISTEN",    "CLOSING",
		"SYN_RECV", /* TCP_NEW_SYN_RECV: a request socket */
		"BOUND",    /* TCP_BOUND_INACTIVE: bound, neither listening nor connected */
	};
	if (h->proto == LR_PROTO_UDP && h->state == LR_ST_CLOSE)
		return "UNCONN";
	return h->state < sizeof(names) / sizeof(names[0]) ? names[h->state] : "?";
}

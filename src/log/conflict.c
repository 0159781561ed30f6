#include "conflict.h"
#include "sys.h"

#include "rules.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Reads up to two unsigned numbers from a /proc/sys file; returns how many. */
static int read_numbers(const char *path, unsigned long v[2])
{
	char buf[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	lr_sys.close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	int got = 0;
	for (const char *p = buf; *p && got < 2;) {
		while (*p && (*p < '0' || *p > '9'))
			p++;
		if (!*p)
			break;
		unsigned long x = 0;
		while (*p >= '0' && *p <= '9')
			x = x * 10 + (unsigned long)(*p++ - '0');
		v[got++] = x;
	}
	return got;
}

void lr_conflict_sysctls(struct lr_refusal *r)
{
	unsigned long v[2];
	if (read_numbers("/proc/sys/net/ipv4/ip_local_port_range", v) == 2 && v[0] <= 65535 &&
	    v[1] <= 65535) {
		r->eph_lo = (uint16_t)v[0];
		r->eph_hi = (uint16_t)v[1];
	}
	r->unprivileged_start = -1;
	if (read_numbers("/proc/sys/net/ipv4/ip_unprivileged_port_start", v) >= 1 && v[0] <= 65536)
		r->unprivileged_start = (int)v[0];
}

static bool option_on(int fd, int level, int name)
{
	int v = 0;
	socklen_t len = sizeof(v);
	return getsockopt(fd, level, name, &v, &len) == 0 && v != 0;
}

void lr_conflict_gather(int fd, uint8_t op, uint8_t proto, const struct lr_addr *addr,
			uint16_t port, int err, uid_t uid, struct lr_conflict *out)
{
	int saved = errno;
	struct lr_refusal r;
	memset(&r, 0, sizeof(r));
	r.op = op;
	r.proto = proto;
	r.err = err;
	r.addr = *addr;
	r.port = port;
	r.uid = (uint32_t)(uid == (uid_t)-1 ? geteuid() : uid);
	/* The kernel's view of the socket, not what our hooks saw: options set
	 * through an fd we never tracked count too. */
	r.opts = (option_on(fd, SOL_SOCKET, SO_REUSEADDR) ? LR_OPT_REUSEADDR : 0) |
		 (option_on(fd, SOL_SOCKET, SO_REUSEPORT) ? LR_OPT_REUSEPORT : 0);
	r.v6only = addr->family == AF_INET6 && option_on(fd, IPPROTO_IPV6, IPV6_V6ONLY);
	if (op == LR_OP_CONNECT) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
		    lr_sockaddr_read((struct sockaddr *)&ss, len, &r.local, &r.local_port) == 0)
			r.has_local = true;
	}
	lr_conflict_sysctls(&r);
	out->has_holders = false;
	/* Holders explain a port in use; for the other refusals the port's
	 * sockets are beside the point (and the ephemeral range is thousands). */
	if (op == LR_OP_BIND && err == EADDRINUSE && port)
		out->has_holders = lr_holders_find(proto, port, &out->holders) == 0;
	else if (op == LR_OP_CONNECT && err == EADDRNOTAVAIL && r.has_local && r.local_port)
		out->has_holders = lr_holders_find(proto, r.local_port, &out->holders) == 0;
	lr_explain(out->reason, sizeof(out->reason), &r, out->has_holders ? &out->holders : NULL);
	errno = saved;
}

#include "keepwire.h"
#include "sys.h"

#include "rules.h"

#include <netinet/in.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int lr_send_fd(int sock, const void *data, size_t len, int fd, int extra)
{
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[2], n = 0;
	if (fd >= 0)
		fds[n++] = fd;
	if (extra >= 0)
		fds[n++] = extra;
	if (n) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
	}
	ssize_t sent;
	do
		sent = lr_sys.sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return -1;
	return sent == (ssize_t)len ? 0 : (errno = EPROTO, -1);
}

long lr_recv_fd(int sock, void *data, size_t len, int fd[2])
{
	struct iovec iov = { .iov_base = data, .iov_len = len };
	union {
		/* Room for more than two: a peer that sends several must not make
		 * the kernel drop them unseen (MSG_CTRUNC); extras are closed. */
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	fd[0] = fd[1] = -1;
	ssize_t n;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fd[0] < 0)
				fd[0] = got;
			else if (fd[1] < 0)
				fd[1] = got;
			else
				lr_sys.close(got);
		}
	}
	return (long)n;
}

int lr_keep_send(int sock, const struct lr_keep_msg *m, int fd, int extra)
{
	return lr_send_fd(sock, m, sizeof(*m), fd, extra);
}

int lr_keep_recv(int sock, struct lr_keep_msg *m, int *fd, int *extra)
{
	int got[2];
	long n = lr_recv_fd(sock, m, sizeof(*m), got);
	if (n >= 0 && (n != (long)sizeof(*m) || m->magic != LR_KEEP_MAGIC)) {
		errno = n == 0 ? ECONNRESET : EPROTO;
		n = -1;
	}
	if (n < 0 || !extra) {
		if (got[1] >= 0)
			lr_sys.close(got[1]);
		got[1] = -1;
	}
	if (n < 0) {
		if (got[0] >= 0)
			lr_sys.close(got[0]);
		got[0] = -1;
	}
	*fd = got[0];
	if (extra)
		*extra = got[1];
	if (n < 0)
		return -1;
	m->reason[sizeof(m->reason) - 1] = '\0';
	return 0;
}

int lr_keep_identify(int fd, struct lr_keep_sock *out)
{
	int saved = errno, domain = 0, type = 0, v6only = 0;
	socklen_t l1 = sizeof(domain), l2 = sizeof(type), l3 = sizeof(v6only);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	memset(out, 0, sizeof(*out));
	int ok = getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l1) == 0 &&
		 getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l2) == 0 &&
		 (domain == AF_INET || domain == AF_INET6) && (type == SOCK_STREAM || type == SOCK_DGRAM) &&
		 getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
		 lr_sockaddr_read((struct sockaddr *)&ss, len, &out->addr, &out->port) == 0 &&
		 out->port != 0 &&
		 (domain == AF_INET || getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &l3) == 0);
	errno = saved;
	if (!ok)
		return -1;
	out->proto = type == SOCK_STREAM ? LR_PROTO_TCP : LR_PROTO_UDP;
	out->family = (uint8_t)domain;
	out->v6only = v6only != 0;
	return 0;
}

int lr_keep_same(const struct lr_keep_sock *a, const struct lr_keep_sock *b)
{
	return a->proto == b->proto && a->family == b->family && a->port == b->port &&
	       a->addr.family == b->addr.family &&
	       memcmp(a->addr.bytes, b->addr.bytes, sizeof(a->addr.bytes)) == 0 &&
	       (a->family != AF_INET6 || a->v6only == b->v6only);
}

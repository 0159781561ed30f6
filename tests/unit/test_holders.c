/* Who holds a port, on real loopback sockets of this test: netlink and
 * /proc/net must agree, and the owner found must be this process. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "holders.h"
#include "rules.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* A socket of type on family's loopback, bound to a port the kernel picks;
 * listening when it is TCP. */
static int bound(int family, int type, uint16_t *port)
{
	int fd = socket(family, type, 0);
	assert_true(fd >= 0);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 4), 0);
	len = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static uint64_t inode_of(int fd)
{
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	return st.st_ino;
}

/* Our socket among the holders (another process may hold the same port
 * number on another address: [::1] beside 127.0.0.1, say), checked in full. */
static const struct lr_holder *check_found(const struct lr_holders *h, int fd, int family,
					   uint8_t proto, uint16_t port, uint8_t state)
{
	const struct lr_holder *ours = NULL;
	for (size_t i = 0; i < h->n; i++)
		if (h->h[i].inode == inode_of(fd))
			ours = &h->h[i];
	assert_non_null(ours);
	assert_true(h->total >= h->n);
	assert_int_equal(ours->proto, proto);
	assert_int_equal(ours->port, port);
	assert_int_equal(ours->state, state);
	assert_int_equal(ours->addr.family, family);
	assert_true(ours->has_uid);
	assert_int_equal(ours->uid, geteuid());
	return ours;
}

static void each_kind(int family, int type, uint8_t proto, uint8_t state)
{
	uint16_t port;
	int fd = bound(family, type, &port);
	uint64_t inode = inode_of(fd);
	struct lr_holders nl, pn;
	assert_int_equal(lr_holders_netlink(proto, port, &nl), 0);
	const struct lr_holder *a = check_found(&nl, fd, family, proto, port, state);
	assert_false(nl.from_proc);
	assert_int_equal(lr_holders_procnet(proto, port, &pn), 0);
	const struct lr_holder *b = check_found(&pn, fd, family, proto, port, state);
	assert_true(pn.from_proc);
	assert_memory_equal(&a->addr, &b->addr, sizeof(a->addr));
	lr_holders_owners(&nl);
	assert_int_equal(a->pid, getpid());
	assert_string_equal(a->program, "test_holders");
	assert_string_equal(lr_holder_state_name(a), proto == LR_PROTO_UDP ? "UNCONN" : "LISTEN");
	close(fd);
	/* Let go: ours is found no more. */
	assert_int_equal(lr_holders_find(proto, port, &nl), 0);
	for (size_t i = 0; i < nl.n; i++)
		assert_true(nl.h[i].inode != inode);
}

static void tcp_listeners_and_udp_sockets(void **state)
{
	(void)state;
	each_kind(AF_INET, SOCK_STREAM, LR_PROTO_TCP, LR_ST_LISTEN);
	each_kind(AF_INET6, SOCK_STREAM, LR_PROTO_TCP, LR_ST_LISTEN);
	each_kind(AF_INET, SOCK_DGRAM, LR_PROTO_UDP, LR_ST_CLOSE);
	each_kind(AF_INET6, SOCK_DGRAM, LR_PROTO_UDP, LR_ST_CLOSE);
}

/* The holder on 127.0.0.1 (the port may be held on other addresses too). */
static const struct lr_holder *loopback_v4(const struct lr_holders *h)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->h[i].addr.family == AF_INET && h->h[i].addr.bytes[0] == 127)
			return &h->h[i];
	return NULL;
}

static void time_wait_has_no_owner(void **state)
{
	(void)state;
	uint16_t port;
	int l = bound(AF_INET, SOCK_STREAM, &port);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(c, (struct sockaddr *)&to, sizeof(to)), 0);
	int a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	close(a); /* the server side closes first: TIME_WAIT on the server's port */
	char byte;
	assert_int_equal(read(c, &byte, 1), 0);
	close(c);
	close(l);
	struct lr_holders nl, pn;
	assert_int_equal(lr_holders_find(LR_PROTO_TCP, port, &nl), 0);
	const struct lr_holder *tw = loopback_v4(&nl);
	assert_non_null(tw);
	assert_string_equal(lr_holder_state_name(tw), "TIME_WAIT");
	assert_false(tw->has_uid);
	assert_int_equal(tw->pid, 0);
	assert_int_equal(lr_holders_procnet(LR_PROTO_TCP, port, &pn), 0);
	tw = loopback_v4(&pn);
	assert_non_null(tw);
	assert_int_equal(tw->state, LR_ST_TIME_WAIT);
}

static void listeners_come_first(void **state)
{
	(void)state;
	/* More connections on the port than fit, then the listener: the
	 * listener is kept, and first. */
	uint16_t port;
	int l = bound(AF_INET, SOCK_STREAM, &port);
	int fds[2 * LR_HOLDERS_MAX];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < LR_HOLDERS_MAX; i++) {
		fds[2 * i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(fds[2 * i], (struct sockaddr *)&to, sizeof(to)), 0);
		fds[2 * i + 1] = accept(l, NULL, NULL);
	}
	struct lr_holders h;
	assert_int_equal(lr_holders_find(LR_PROTO_TCP, port, &h), 0);
	assert_int_equal(h.n, LR_HOLDERS_MAX);
	assert_true(h.total >= LR_HOLDERS_MAX + 1);
	/* Listeners first, ours among them, owned by this process. */
	lr_holders_owners(&h);
	const struct lr_holder *ours = NULL;
	for (size_t i = 0; i < h.n; i++) {
		if (h.h[i].inode == inode_of(l))
			ours = &h.h[i];
		if (i > 0 && h.h[i].state == LR_ST_LISTEN)
			assert_int_equal(h.h[i - 1].state, LR_ST_LISTEN);
	}
	assert_non_null(ours);
	assert_int_equal(ours->state, LR_ST_LISTEN);
	assert_int_equal(ours->pid, getpid());
	for (int i = 0; i < 2 * LR_HOLDERS_MAX; i++)
		close(fds[i]);
	close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tcp_listeners_and_udp_sockets),
		cmocka_unit_test(time_wait_has_no_owner),
		cmocka_unit_test(listeners_come_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

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

static void check_found(const struct lr_holders *h, int family, uint8_t proto, uint16_t port,
			uint8_t state)
{
	assert_int_equal(h->n, 1);
	assert_int_equal(h->total, 1);
	assert_int_equal(h->h[0].proto, proto);
	assert_int_equal(h->h[0].port, port);
	assert_int_equal(h->h[0].state, state);
	assert_int_equal(h->h[0].addr.family, family);
	assert_true(h->h[0].has_uid);
	assert_int_equal(h->h[0].uid, geteuid());
	assert_true(h->h[0].inode != 0);
}

static void each_kind(int family, int type, uint8_t proto, uint8_t state)
{
	uint16_t port;
	int fd = bound(family, type, &port);
	struct lr_holders nl, pn;
	assert_int_equal(lr_holders_netlink(proto, port, &nl), 0);
	check_found(&nl, family, proto, port, state);
	assert_false(nl.from_proc);
	assert_int_equal(lr_holders_procnet(proto, port, &pn), 0);
	check_found(&pn, family, proto, port, state);
	assert_true(pn.from_proc);
	assert_memory_equal(&nl.h[0].addr, &pn.h[0].addr, sizeof(nl.h[0].addr));
	assert_int_equal(nl.h[0].inode, pn.h[0].inode);
	lr_holders_owners(&nl);
	assert_int_equal(nl.h[0].pid, getpid());
	assert_string_equal(nl.h[0].program, "test_holders");
	assert_string_equal(lr_holder_state_name(&nl.h[0]),
			    proto == LR_PROTO_UDP ? "UNCONN" : "LISTEN");
	close(fd);
	/* Let go: found no more. */
	assert_int_equal(lr_holders_find(proto, port, &nl), 0);
	assert_int_equal(nl.n, 0);
}

static void tcp_listeners_and_udp_sockets(void **state)
{
	(void)state;
	each_kind(AF_INET, SOCK_STREAM, LR_PROTO_TCP, LR_ST_LISTEN);
	each_kind(AF_INET6, SOCK_STREAM, LR_PROTO_TCP, LR_ST_LISTEN);
	each_kind(AF_INET, SOCK_DGRAM, LR_PROTO_UDP, LR_ST_CLOSE);
	each_kind(AF_INET6, SOCK_DGRAM, LR_PROTO_UDP, LR_ST_CLOSE);
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
	assert_int_equal(nl.n, 1);
	assert_string_equal(lr_holder_state_name(&nl.h[0]), "TIME_WAIT");
	assert_false(nl.h[0].has_uid);
	assert_int_equal(nl.h[0].pid, 0);
	assert_int_equal(lr_holders_procnet(LR_PROTO_TCP, port, &pn), 0);
	assert_int_equal(pn.n, 1);
	assert_int_equal(pn.h[0].state, LR_ST_TIME_WAIT);
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
	assert_int_equal(h.total, LR_HOLDERS_MAX + 1);
	assert_int_equal(h.h[0].state, LR_ST_LISTEN);
	assert_int_equal(h.h[0].pid, getpid());
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

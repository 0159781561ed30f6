/* Addresses, CIDR blocks, ports and endpoints: the parsing rules files rely
 * on and the formatting log lines rely on. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "addr.h"
#include "addrparse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static void parse_addresses(void **state)
{
	(void)state;
	struct lr_addr a;
	assert_int_equal(lr_parse_addr("127.0.0.1", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_memory_equal(a.bytes, "\x7f\0\0\x01", 4);
	assert_int_equal(lr_parse_addr("::1", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.bytes[15], 1);
	assert_int_equal(lr_parse_addr("256.0.0.1", &a), -1);
	assert_int_equal(lr_parse_addr("", &a), -1);
	assert_int_equal(lr_parse_addr("localhost", &a), -1);
	assert_int_equal(lr_parse_addr("[::1]", &a), -1);
}

static void parse_ports_and_ranges(void **state)
{
	(void)state;
	uint16_t lo, hi;
	assert_int_equal(lr_parse_port("0", &lo), 0);
	assert_int_equal(lo, 0);
	assert_int_equal(lr_parse_port("65535", &lo), 0);
	assert_int_equal(lo, 65535);
	assert_int_equal(lr_parse_port("65536", &lo), -1);
	assert_int_equal(lr_parse_port("99999999999999999999", &lo), -1);
	assert_int_equal(lr_parse_port("-1", &lo), -1);
	assert_int_equal(lr_parse_port("80a", &lo), -1);
	assert_int_equal(lr_parse_port("", &lo), -1);
	assert_int_equal(lr_parse_port_range("8000-8099", &lo, &hi), 0);
	assert_int_equal(lo, 8000);
	assert_int_equal(hi, 8099);
	assert_int_equal(lr_parse_port_range("443", &lo, &hi), 0);
	assert_int_equal(lo, 443);
	assert_int_equal(hi, 443);
	assert_int_equal(lr_parse_port_range("9-1", &lo, &hi), -1);
	assert_int_equal(lr_parse_port_range("-5", &lo, &hi), -1);
	assert_int_equal(lr_parse_port_range("5-", &lo, &hi), -1);
	assert_int_equal(lr_parse_port_range("1-70000", &lo, &hi), -1);
}

static void parse_cidr_blocks(void **state)
{
	(void)state;
	struct lr_cidr c;
	assert_int_equal(lr_parse_cidr("10.0.0.0/8", &c), 0);
	assert_int_equal(c.prefix, 8);
	assert_int_equal(lr_parse_cidr("10.1.2.3/8", &c), 0); /* host bits cleared */
	assert_memory_equal(c.addr.bytes, "\x0a\0\0\0", 4);
	assert_int_equal(lr_parse_cidr("1.2.3.4", &c), 0);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(lr_parse_cidr("fd00::/8", &c), 0);
	assert_int_equal(c.prefix, 8);
	assert_int_equal(lr_parse_cidr("10.0.0.0/33", &c), -1);
	assert_int_equal(lr_parse_cidr("::/129", &c), -1);
	assert_int_equal(lr_parse_cidr("10.0.0.0/", &c), -1);
	assert_int_equal(lr_parse_cidr("10.0.0.0/x", &c), -1);
	assert_int_equal(lr_parse_cidr("/8", &c), -1);
	assert_int_equal(lr_parse_cidr("10.0.0.0/0008", &c), -1);
}

static void cidr_matching_includes_v4_mapped(void **state)
{
	(void)state;
	struct lr_cidr c;
	struct lr_addr a;
	assert_int_equal(lr_parse_cidr("10.0.0.0/8", &c), 0);
	assert_int_equal(lr_parse_addr("10.200.1.1", &a), 0);
	assert_true(lr_cidr_match(&c, &a));
	assert_int_equal(lr_parse_addr("11.0.0.1", &a), 0);
	assert_false(lr_cidr_match(&c, &a));
	assert_int_equal(lr_parse_addr("::ffff:10.9.9.9", &a), 0);
	assert_true(lr_cidr_match(&c, &a));
	assert_int_equal(lr_parse_addr("::a09:909", &a), 0); /* not mapped */
	assert_false(lr_cidr_match(&c, &a));
	assert_int_equal(lr_parse_cidr("192.168.1.128/25", &c), 0);
	assert_int_equal(lr_parse_addr("192.168.1.200", &a), 0);
	assert_true(lr_cidr_match(&c, &a));
	assert_int_equal(lr_parse_addr("192.168.1.127", &a), 0);
	assert_false(lr_cidr_match(&c, &a));
	assert_int_equal(lr_parse_cidr("0.0.0.0/0", &c), 0);
	assert_true(lr_cidr_match(&c, &a));
	assert_int_equal(lr_parse_cidr("::1", &c), 0);
	assert_int_equal(lr_parse_addr("::1", &a), 0);
	assert_true(lr_cidr_match(&c, &a));
	assert_int_equal(lr_parse_addr("127.0.0.1", &a), 0);
	assert_false(lr_cidr_match(&c, &a)); /* an IPv6 block never matches IPv4 */
}

static void endpoints(void **state)
{
	(void)state;
	struct lr_endpoint e;
	assert_int_equal(lr_parse_endpoint("127.0.0.1:8080", &e), 0);
	assert_true(e.has_addr && e.has_port);
	assert_int_equal(e.port, 8080);
	assert_int_equal(lr_parse_endpoint("127.0.0.1", &e), 0);
	assert_true(e.has_addr && !e.has_port);
	assert_int_equal(lr_parse_endpoint(":9000", &e), 0);
	assert_true(!e.has_addr && e.has_port);
	assert_int_equal(lr_parse_endpoint("[::1]", &e), 0);
	assert_true(e.has_addr && !e.has_port && e.addr.family == AF_INET6);
	assert_int_equal(lr_parse_endpoint("[::1]:80", &e), 0);
	assert_int_equal(e.port, 80);
	assert_int_equal(lr_parse_endpoint("::1", &e), 0);
	assert_true(e.has_addr && !e.has_port);
	assert_int_equal(lr_parse_endpoint("[::1", &e), -1);
	assert_int_equal(lr_parse_endpoint("[::1]x", &e), -1);
	assert_int_equal(lr_parse_endpoint("[1.2.3.4]:80", &e), -1);
	assert_int_equal(lr_parse_endpoint("1.2.3.4:99999", &e), -1);
	assert_int_equal(lr_parse_endpoint("", &e), -1);
	assert_int_equal(lr_parse_endpoint(":", &e), -1);
	assert_int_equal(lr_parse_endpoint("host:80", &e), -1);
}

static void format_addresses(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int port;
		const char *out;
	} cases[] = {
		{ "127.0.0.1", 80, "127.0.0.1:80" },
		{ "0.0.0.0", -1, "0.0.0.0" },
		{ "::1", 80, "[::1]:80" },
		{ "::", -1, "::" },
		{ "2001:db8::1", -1, "2001:db8::1" },
		{ "2001:db8:0:0:1:0:0:1", -1, "2001:db8::1:0:0:1" },
		{ "2001:0:0:1:0:0:0:1", -1, "2001:0:0:1::1" },
		{ "fe80::1:2", 5, "[fe80::1:2]:5" },
		{ "1:2:3:4:5:6:7:8", -1, "1:2:3:4:5:6:7:8" },
		{ "1::", -1, "1::" },
		{ "::ffff:10.1.2.3", 7, "[::ffff:10.1.2.3]:7" },
		{ "1:0:2:3:4:5:6:7", -1, "1:0:2:3:4:5:6:7" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lr_addr a;
		char buf[64];
		assert_int_equal(lr_parse_addr(cases[i].in, &a), 0);
		lr_format_addr(buf, sizeof(buf), &a, cases[i].port);
		assert_string_equal(buf, cases[i].out);
		/* Whatever we print for an IPv6 address, inet_pton reads back. */
		if (a.family == AF_INET6 && cases[i].port < 0) {
			uint8_t back[16];
			assert_int_equal(inet_pton(AF_INET6, buf, back), 1);
			assert_memory_equal(back, a.bytes, 16);
		}
	}
	struct lr_addr a;
	char tiny[6];
	assert_int_equal(lr_parse_addr("192.168.100.200", &a), 0);
	lr_format_addr(tiny, sizeof(tiny), &a, 65535);
	assert_string_equal(tiny, "192.1"); /* truncated, still terminated */
}

static void sockaddr_reading_respects_length(void **state)
{
	(void)state;
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(81) };
	in.sin_addr.s_addr = htonl(0x7f000001);
	struct lr_addr a;
	uint16_t port;
	assert_int_equal(lr_sockaddr_read((struct sockaddr *)&in, sizeof(in), &a, &port), 0);
	assert_int_equal(port, 81);
	assert_int_equal(lr_sockaddr_read((struct sockaddr *)&in, sizeof(in) - 1, &a, &port), -1);
	assert_int_equal(lr_sockaddr_read((struct sockaddr *)&in, 1, &a, &port), -1);
	assert_int_equal(lr_sockaddr_read(NULL, sizeof(in), &a, &port), -1);
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(82) };
	assert_int_equal(lr_sockaddr_read((struct sockaddr *)&in6, sizeof(in6) - 4, &a, &port), -1);
	assert_int_equal(lr_sockaddr_read((struct sockaddr *)&in6, sizeof(in6), &a, &port), 0);
	assert_int_equal(a.family, AF_INET6);
	struct sockaddr un = { .sa_family = AF_UNIX };
	assert_int_equal(lr_sockaddr_read(&un, sizeof(un), &a, &port), -1);
}

static void sockaddr_building(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	struct lr_addr v4, v6;
	assert_int_equal(lr_parse_addr("127.0.0.1", &v4), 0);
	assert_int_equal(lr_parse_addr("::1", &v6), 0);
	/* IPv4 on an IPv6 socket: v4-mapped, scope id of the original kept. */
	struct sockaddr_in6 orig = { .sin6_family = AF_INET6, .sin6_scope_id = 3 };
	socklen_t n = lr_sockaddr_build(&ss, AF_INET6, (struct sockaddr *)&orig, sizeof(orig), &v4, 9);
	assert_int_equal(n, sizeof(struct sockaddr_in6));
	struct sockaddr_in6 *r6 = (struct sockaddr_in6 *)&ss;
	assert_true(IN6_IS_ADDR_V4MAPPED(&r6->sin6_addr));
	assert_int_equal(r6->sin6_scope_id, 3);
	assert_int_equal(ntohs(r6->sin6_port), 9);
	/* IPv6 on an IPv4 socket: impossible. */
	assert_int_equal(lr_sockaddr_build(&ss, AF_INET, NULL, 0, &v6, 9), 0);
	n = lr_sockaddr_build(&ss, AF_INET, NULL, 0, &v4, 10);
	assert_int_equal(n, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_addresses),
		cmocka_unit_test(parse_ports_and_ranges),
		cmocka_unit_test(parse_cidr_blocks),
		cmocka_unit_test(cidr_matching_includes_v4_mapped),
		cmocka_unit_test(endpoints),
		cmocka_unit_test(format_addresses),
		cmocka_unit_test(sockaddr_reading_respects_length),
		cmocka_unit_test(sockaddr_building),
	};
	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}

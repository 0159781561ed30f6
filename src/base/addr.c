#include "addr.h"

#include "fmt.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

bool lr_addr_is_v4mapped(const struct lr_addr *a)
{
	return a->family == AF_INET6 && memcmp(a->bytes, v4mapped_prefix, 12) == 0;
}

static bool prefix_equal(const uint8_t *net, const uint8_t *a, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;
	if (memcmp(net, a, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff00u >> rest);
	return (a[whole] & mask) == net[whole];
}

bool lr_cidr_match(const struct lr_cidr *c, const struct lr_addr *a)
{
	if (c->addr.family == a->family)
		return prefix_equal(c->addr.bytes, a->bytes, c->prefix);
	if (c->addr.family == AF_INET && lr_addr_is_v4mapped(a))
		return prefix_equal(c->addr.bytes, a->bytes + 12, c->prefix);
	return false;
}

int lr_sockaddr_read(const struct sockaddr *sa, socklen_t len,
		     struct lr_addr *addr, uint16_t *port)
{
	sa_family_t family;
	if (!sa || len < (socklen_t)(offsetof(struct sockaddr, sa_family) + sizeof(family)))
		return -1;
	/* The caller's buffer may be unaligned: copy rather than cast. */
	memcpy(&family, (const char *)sa + offsetof(struct sockaddr, sa_family), sizeof(family));
	memset(addr, 0, sizeof(*addr));
	if (family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		struct sockaddr_in in;
		memcpy(&in, sa, sizeof(in));
		addr->family = AF_INET;
		memcpy(addr->bytes, &in.sin_addr, 4);
		*port = ntohs(in.sin_port);
		return 0;
	}
	if (family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 in6;
		memcpy(&in6, sa, sizeof(in6));
		addr->family = AF_INET6;
		memcpy(addr->bytes, &in6.sin6_addr, 16);
		*port = ntohs(in6.sin6_port);
		return 0;
	}
	return -1;
}

void lr_addr_any(struct lr_addr *out, int family)
{
	memset(out, 0, sizeof(*out));
	out->family = (uint8_t)family;
}

socklen_t lr_sockaddr_build(struct sockaddr_storage *ss, int sock_family,
			    const struct sockaddr *orig, socklen_t orig_len,
			    const struct lr_addr *addr, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (sock_family == AF_INET) {
		struct sockaddr_in in;
		if (addr->family == AF_INET6 && !lr_addr_is_v4mapped(addr))
			return 0;
		memset(&in, 0, sizeof(in));
		if (orig && orig_len >= (socklen_t)sizeof(in))
			memcpy(&in, orig, sizeof(in));
		in.sin_family = AF_INET;
		memcpy(&in.sin_addr, addr->family == AF_INET ? addr->bytes : addr->bytes + 12, 4);
		in.sin_port = htons(port);
		memcpy(ss, &in, sizeof(in));
		return sizeof(in);
	}
	if (sock_family == AF_INET6) {
		struct sockaddr_in6 in6;
		memset(&in6, 0, sizeof(in6));
		if (orig && orig_len >= (socklen_t)sizeof(in6))
			memcpy(&in6, orig, sizeof(in6));
		in6.sin6_family = AF_INET6;
		if (addr->family == AF_INET) {
			memcpy(in6.sin6_addr.s6_addr, v4mapped_prefix, 12);
			memcpy(in6.sin6_addr.s6_addr + 12, addr->bytes, 4);
		} else {
			memcpy(in6.sin6_addr.s6_addr, addr->bytes, 16);
		}
		in6.sin6_port = htons(port);
		memcpy(ss, &in6, sizeof(in6));
		return sizeof(in6);
	}
	return 0;
}

static void format_v4(struct lr_buf *b, const uint8_t *p)
{
	for (int i = 0; i < 4; i++) {
		if (i)
			lr_buf_char(b, '.');
		lr_buf_u64(b, p[i]);
	}
}

/* RFC 5952: lower case, no leading zeros, the longest run of two or more
 * zero groups (the first of equals) shortened to "::". */
static void format_v6(struct lr_buf *b, const uint8_t *p)
{
	uint16_t g[8];
	int best = -1, best_len = 0;
	for (int i = 0; i < 8; i++)
		g[i] = (uint16_t)(p[2 * i] << 8 | p[2 * i + 1]);
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > best_len && j - i >= 2)
			best = i, best_len = j - i;
		i = j > i ? j : i + 1;
	}
	if (memcmp(p, v4mapped_prefix, 12) == 0) {
		lr_buf_str(b, "::ffff:");
		format_v4(b, p + 12);
		return;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			lr_buf_str(b, "::");
			i += best_len - 1;
			continue;
		}
		if (i && i != best + best_len)
			lr_buf_char(b, ':');
		lr_buf_hex(b, g[i], 1);
	}
}

size_t lr_format_addr(char *buf, size_t n, const struct lr_addr *a, int port)
{
	struct lr_buf b = { .p = buf, .len = 0, .cap = n };
	if (n == 0)
		return 0;
	buf[0] = '\0';
	bool v6 = a->family == AF_INET6;
	if (v6 && port >= 0)
		lr_buf_char(&b, '[');
	if (v6)
		format_v6(&b, a->bytes);
	else
		format_v4(&b, a->bytes);
	if (v6 && port >= 0)
		lr_buf_char(&b, ']');
	if (port >= 0) {
		lr_buf_char(&b, ':');
		lr_buf_u64(&b, (uint64_t)port);
	}
	return b.len;
}

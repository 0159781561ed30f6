/* Addresses, CIDR blocks, ports and endpoints: matching and formatting (on
 * the call path, so async-signal-safe: no stdio, no malloc, no locale).
 * Parsing them from a rule file's text is the compiler's (addrparse.h). */
#ifndef LIBREUSE_ADDR_H
#define LIBREUSE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An IP address in network byte order; IPv4 uses the first 4 bytes. */
struct lr_addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t bytes[16];
};

struct lr_cidr {
	struct lr_addr addr; /* host bits already cleared */
	uint8_t prefix;      /* 0..32 or 0..128 */
};

/* A rewrite or source target: "ADDR", ":PORT", "ADDR:PORT", "[V6]", "[V6]:PORT". */
struct lr_endpoint {
	bool has_addr;
	bool has_port;
	uint16_t port;
	struct lr_addr addr;
};

/* An IPv4 block also matches the same address seen as v4-mapped IPv6
 * (::ffff:a.b.c.d), which is how a dual-stack socket reports it. */
bool lr_cidr_match(const struct lr_cidr *c, const struct lr_addr *a);
bool lr_addr_is_v4mapped(const struct lr_addr *a);

/* Reads family, address and port out of a caller's sockaddr without reading
 * past len. Returns 0, or -1 when it is not a complete AF_INET/AF_INET6 one. */
int lr_sockaddr_read(const struct sockaddr *sa, socklen_t len,
		     struct lr_addr *addr, uint16_t *port);

/* Builds a sockaddr for a socket of sock_family from addr/port into ss,
 * starting from a copy of the caller's sockaddr (so sin6_scope_id and
 * flowinfo survive). An IPv4 address on an IPv6 socket becomes v4-mapped.
 * Returns the length, or 0 when the address cannot live on that socket. */
socklen_t lr_sockaddr_build(struct sockaddr_storage *ss, int sock_family,
			    const struct sockaddr *orig, socklen_t orig_len,
			    const struct lr_addr *addr, uint16_t port);

/* The wildcard address of a family (0.0.0.0 or ::). */
void lr_addr_any(struct lr_addr *out, int family);

/* "1.2.3.4:80", "[::1]:80"; with port < 0 no port. Always NUL-terminates;
 * returns the length written (truncated to n-1). */
size_t lr_format_addr(char *buf, size_t n, const struct lr_addr *a, int port);

#endif

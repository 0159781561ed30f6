#include "addrparse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

int lr_parse_addr(const char *s, struct lr_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->bytes) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->bytes) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -1;
}

int lr_parse_port(const char *s, uint16_t *out)
{
	unsigned long v = 0;
	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

int lr_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	const char *dash = strchr(s, '-');
	if (!dash) {
		if (lr_parse_port(s, lo) != 0)
			return -1;
		*hi = *lo;
		return 0;
	}
	char first[8];
	size_t n = (size_t)(dash - s);
	if (n == 0 || n >= sizeof(first))
		return -1;
	memcpy(first, s, n);
	first[n] = '\0';
	if (lr_parse_port(first, lo) != 0 || lr_parse_port(dash + 1, hi) != 0)
		return -1;
	return *lo <= *hi ? 0 : -1;
}

int lr_parse_cidr(const char *s, struct lr_cidr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	if (lr_parse_addr(host, &out->addr) != 0)
		return -1;
	unsigned max = out->addr.family == AF_INET ? 32 : 128;
	unsigned prefix = max;
	if (slash) {
		const char *p = slash + 1;
		if (*p == '\0' || strlen(p) > 3)
			return -1;
		prefix = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			prefix = prefix * 10 + (unsigned)(*p - '0');
		}
		if (prefix > max)
			return -1;
	}
	out->prefix = (uint8_t)prefix;
	/* Keep only the network bits, so matching and printing need no mask. */
	for (unsigned bit = prefix; bit < max; bit++)
		out->addr.bytes[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	return 0;
}

int lr_parse_endpoint(const char *s, struct lr_endpoint *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL;
	size_t n;
	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close)
			return -1;
		n = (size_t)(close - s - 1);
		if (n == 0 || n >= sizeof(host))
			return -1;
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (lr_parse_addr(host, &out->addr) != 0 || out->addr.family != AF_INET6)
			return -1;
		out->has_addr = true;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return -1;
	} else if (s[0] == ':' && s[1] != ':') {
		port = s + 1;
	} else {
		const char *colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':') == NULL) {
			/* One colon: IPv4 address and port. */
			n = (size_t)(colon - s);
			port = colon + 1;
		} else {
			/* None, or an unbracketed IPv6 address with no port. */
			n = strlen(s);
		}
		if (n == 0 || n >= sizeof(host))
			return -1;
		memcpy(host, s, n);
		host[n] = '\0';
		if (lr_parse_addr(host, &out->addr) != 0)
			return -1;
		if (port && out->addr.family != AF_INET)
			return -1;
		out->has_addr = true;
	}
	if (port) {
		if (lr_parse_port(port, &out->port) != 0)
			return -1;
		out->has_port = true;
	}
	return out->has_addr || out->has_port ? 0 : -1;
}


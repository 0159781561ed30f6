/* Fuzz target: the address, CIDR, port, range and endpoint parsers. Whatever
 * parses must format and parse back to the same value. */
#include "addr.h"
#include "addrparse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	char buf[128];
	struct lr_addr a, b;
	if (lr_parse_addr(s, &a) == 0) {
		lr_format_addr(buf, sizeof(buf), &a, -1);
		if (lr_parse_addr(buf, &b) != 0 || memcmp(&a, &b, sizeof(a)) != 0)
			abort();
	}
	struct lr_cidr c;
	if (lr_parse_cidr(s, &c) == 0) {
		if (c.prefix > (c.addr.family == 2 ? 32 : 128))
			abort();
		if (!lr_cidr_match(&c, &c.addr))
			abort();
	}
	uint16_t p, lo, hi;
	lr_parse_port(s, &p);
	if (lr_parse_port_range(s, &lo, &hi) == 0 && lo > hi)
		abort();
	struct lr_endpoint e;
	if (lr_parse_endpoint(s, &e) == 0 && e.has_addr) {
		lr_format_addr(buf, sizeof(buf), &e.addr, e.has_port ? e.port : -1);
		struct lr_endpoint f;
		if (lr_parse_endpoint(buf, &f) != 0 || memcmp(&e.addr, &f.addr, sizeof(e.addr)) != 0 ||
		    f.has_port != e.has_port || (e.has_port && f.port != e.port))
			abort();
	}
	free(s);
	return 0;
}

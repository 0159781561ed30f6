/* Addresses, CIDR blocks, ports and endpoints as a rule file (or the
 * command line) writes them: "ADDR", "ADDR/PREFIX", "PORT", "LO-HI",
 * ":PORT", "ADDR:PORT", "[V6]:PORT". */
#ifndef LIBREUSE_ADDRPARSE_H
#define LIBREUSE_ADDRPARSE_H

#include "addr.h"

#include <stdint.h>

/* Parsers return 0 on success, -1 on malformed input. */
int lr_parse_addr(const char *s, struct lr_addr *out);
int lr_parse_cidr(const char *s, struct lr_cidr *out);
int lr_parse_port(const char *s, uint16_t *out);
int lr_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi);
int lr_parse_endpoint(const char *s, struct lr_endpoint *out);

#endif

/* Why Linux refused an address: one clause, with the fix when there is one,
 * derived from the kernel's rules for sharing a port (inet_csk_bind_conflict,
 * udp_lib_lport_inuse, inet_hash_connect) and the sockets that hold it. A
 * pure function of the facts, so each explanation is unit-tested; the facts
 * are gathered by conflict.c (in the shim) or the `libreuse who` command. */
#ifndef LIBREUSE_EXPLAIN_H
#define LIBREUSE_EXPLAIN_H

#include "holders.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lr_refusal {
	uint8_t op;    /* LR_OP_BIND or LR_OP_CONNECT */
	uint8_t proto; /* LR_PROTO_TCP / LR_PROTO_UDP */
	int err;       /* EADDRINUSE, EADDRNOTAVAIL, EACCES */
	struct lr_addr addr; /* bind: the address asked for; connect: the peer */
	uint16_t port;
	bool has_local; /* connect: the socket was already bound to local:local_port */
	struct lr_addr local;
	uint16_t local_port;
	unsigned opts;   /* LR_OPT_* set on the refused socket */
	uint32_t uid;    /* the effective uid of the refused socket's process */
	bool v6only;     /* the refused socket is IPv6-only */
	uint16_t eph_lo, eph_hi;   /* net.ipv4.ip_local_port_range (0: unknown) */
	int unprivileged_start;    /* net.ipv4.ip_unprivileged_port_start (-1: unknown) */
};

/* Writes the clause into buf (always NUL-terminated); returns its length.
 * holders are the sockets on the port (lr_holders_find), or NULL when
 * they were not looked for. */
size_t lr_explain(char *buf, size_t n, const struct lr_refusal *r, const struct lr_holders *h);

/* Whether a holder's address overlaps the address asked for: equal, either
 * one a wildcard of a family that reaches the other. */
bool lr_holder_overlaps(const struct lr_holder *h, const struct lr_addr *a, bool v6only);

#endif

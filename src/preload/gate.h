/* The hooks' first look at a bind or connect, read without holding the
 * rules: for a bind, the verdict of its port (verdicts.h); for a connect,
 * one bit per port, set when no rule could act on it. A call the verdict
 * settles leaves the hook after one load and its own work; anything else
 * takes the full path (see state.c for when these are written). */
#ifndef LIBREUSE_GATE_H
#define LIBREUSE_GATE_H

#include "rules.h"
#include "verdicts.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* Both indexed by n, the port in host order. The bind gate is a gate in
 * verdicts.h's layout, a code per port (0: pass): while the first rules a
 * process loaded are in force, the one their compiled table holds, read in
 * place from the mapped table, so that a load writes nothing; from the
 * first reload on (or for a table without one: rules naming programs),
 * the one gate.c writes, a block per 256 ports, where a load writes only
 * the ports its rules name and the rest stay zero pages. A bit of
 * lr_gate_connect is set where a connect must take the full path. Before
 * the rules are first loaded both say "pass" everywhere, and no call
 * believes them: until the load, the reload check is due (state.c), and a
 * call it finds due takes the full path, which loads the rules. Written
 * and published only by the thread publishing rules (state.c); read by
 * any hook. */
extern _Atomic(const unsigned char *) lr_gate_bind_at;
extern _Atomic uint64_t lr_gate_connect[1024]; /* [n >> 6] bit n & 63: ask */

/* Whether a socket's first datagram (sendto, sendmsg, sendmmsg of a UDP
 * socket not recorded bound) takes the full path: some rule has op =
 * "send", or every call is logged. Off, that first datagram costs a
 * clock read and goes straight on, and the socket is recorded bound (the
 * kernel binds it): its next datagrams cost one load and a compare.
 * Written only by the thread publishing rules; read with relaxed loads. */
extern atomic_bool lr_gate_send;
/* Which UDP sockets' datagrams to an address leave the short way: those
 * whose LR_SOCK_* bits, masked with this, are LR_SOCK_UDP. Normally
 * LR_SOCK_UDP | LR_SOCK_BOUND (a first datagram only); at level "all",
 * LR_SOCK_UDP: every one, to be looked up among the destinations its
 * sender was said to send to (senddests.h). Written with lr_gate_send. */
extern _Atomic uint16_t lr_gate_send_mask;

/* n for an IP sockaddr the hook may read; -1 for anything else, which is
 * the full path's to judge. */
static inline int lr_gate_port(const struct sockaddr *addr, socklen_t len)
{
	if (!addr || len < 4)
		return -1;
	/* The port is at the same offset in sockaddr_in and sockaddr_in6; the
	 * caller's buffer may be unaligned, so copied, not cast. */
	sa_family_t family;
	uint16_t n;
	memcpy(&family, addr, sizeof(family));
	memcpy(&n, (const char *)addr + 2, sizeof(n));
	return family == AF_INET || family == AF_INET6 ? ntohs(n) : -1;
}

/* The bind code of port n. A written gate's codes change under the read
 * (a reload), hence the atomic load; a compiled one's never do. */
static inline unsigned lr_gate_bind_code_of(unsigned n)
{
	const unsigned char *g = atomic_load_explicit(&lr_gate_bind_at, memory_order_acquire);
	uint16_t block;
	memcpy(&block, g + 2 * (n >> 8), sizeof(block));
	return atomic_load_explicit(
		(const _Atomic uint8_t *)(g + LR_GATE_TOP_BYTES + ((size_t)block << 8) + (n & 255)),
		memory_order_relaxed);
}

/* The code for a bind to addr: LR_GATE_FULL (ask the policy) for anything
 * but an IP sockaddr. */
static inline unsigned lr_gate_bind_code(const struct sockaddr *addr, socklen_t len)
{
	int n = lr_gate_port(addr, len);
	return n < 0 ? LR_GATE_FULL : lr_gate_bind_code_of((unsigned)n);
}

/* True when a connect to addr may go straight to the kernel. */
static inline bool lr_gate_connect_passes(const struct sockaddr *addr, socklen_t len)
{
	int n = lr_gate_port(addr, len);
	return n >= 0 &&
	       !((atomic_load_explicit(&lr_gate_connect[n >> 6], memory_order_relaxed) >> (n & 63)) & 1);
}

/* Before new rules are published: only what the old and the new rules
 * agree on stays (t NULL: no rules). A call racing the swap then takes the
 * full path, which holds one table or the other. Neither needs a buffer or
 * writes a port whose code stays what it was. */
void lr_gate_narrow(const struct lr_table *t);
/* Once they are: exactly what the new rules say. True when the hooks now
 * read t's compiled gate in place: its image must then stay mapped for the
 * life of the process, since a hook may still be reading it after a
 * reload has replaced it (hooks hold nothing on the short way). */
bool lr_gate_open(const struct lr_table *t);

#endif

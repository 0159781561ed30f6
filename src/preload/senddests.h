/* The destinations each UDP sender's datagrams went to, as far as the
 * audit needs them: at log level "all" a socket whose first datagram bound
 * it (op = "send") gets one line per destination, not one per datagram.
 * A few keys per fd, in a zeroed array: no lock, no allocation, no system
 * call, nothing the host can close. */
#ifndef LIBREUSE_SENDDESTS_H
#define LIBREUSE_SENDDESTS_H

#include "fdstate.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* Destinations remembered per socket. Past this many the oldest is
 * forgotten, and a datagram to it again is said again: a repeated line,
 * never a missing one. */
#define LR_SEND_DESTS 4

/* [fd]: the keys of the destinations the sender at fd was said to send to,
 * newest first; all zero for a socket not followed (one the program bound,
 * or whose first datagram went while calls were not logged). Emptied when
 * the number is closed (close hooks) or its socket's first datagram is
 * said, copied by dup2/dup3, filled by the send hooks; relaxed, as
 * lr_fdstate: threads racing on one socket may lose a key, which costs a
 * repeated line. */
extern _Atomic uint64_t lr_senddests[LR_FD_TRACKED][LR_SEND_DESTS];
/* One above the highest fd ever followed: what closing a range of numbers
 * looks at (closefrom(3) touches no page of the array it never used).
 * Only grows; written by the send hooks. */
extern atomic_uint lr_senddests_top;

/* A destination as a key, never 0 (the empty slot): an IPv4 one exactly
 * (top bit set, address, port), an IPv6 one as a 63-bit FNV-1a hash of
 * address, port and scope. 0: not an IP destination. */
static inline uint64_t lr_senddest_key(const void *to, socklen_t len)
{
	sa_family_t family;
	if (!to || len < (socklen_t)sizeof(family))
		return 0;
	memcpy(&family, to, sizeof(family));
	if (family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		/* Only the 6 bytes that name it: every datagram at level "all"
		 * computes this. */
		uint32_t addr;
		uint16_t port;
		memcpy(&addr, (const char *)to + offsetof(struct sockaddr_in, sin_addr), sizeof(addr));
		memcpy(&port, (const char *)to + offsetof(struct sockaddr_in, sin_port), sizeof(port));
		return 1ull << 63 | (uint64_t)addr << 16 | port;
	}
	if (family != AF_INET6 || len < (socklen_t)sizeof(struct sockaddr_in6))
		return 0;
	struct sockaddr_in6 a;
	memcpy(&a, to, sizeof(a));
	uint64_t h = 0xcbf29ce484222325ull;
	const unsigned char *p = a.sin6_addr.s6_addr;
	for (unsigned i = 0; i < 16; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	h = (h ^ a.sin6_port) * 0x100000001b3ull;
	h = (h ^ a.sin6_scope_id) * 0x100000001b3ull;
	h &= ~(1ull << 63);
	return h ? h : 1;
}

/* Whether fd's sender is followed (its first datagram was said). */
static inline bool lr_senddest_followed(int fd)
{
	return (unsigned)fd < LR_FD_TRACKED &&
	       atomic_load_explicit(&lr_senddests[fd][0], memory_order_relaxed) != 0;
}

/* Whether key is among fd's remembered destinations. */
static inline bool lr_senddest_known(int fd, uint64_t key)
{
	for (unsigned i = 0; i < LR_SEND_DESTS; i++)
		if (atomic_load_explicit(&lr_senddests[fd][i], memory_order_relaxed) == key)
			return true;
	return false;
}

/* Remembers key as fd's newest destination (fd < LR_FD_TRACKED, key not
 * 0), forgetting the oldest. */
static inline void lr_senddest_add(int fd, uint64_t key)
{
	if (lr_senddest_known(fd, key))
		return;
	_Atomic uint64_t *s = lr_senddests[fd];
	for (unsigned i = LR_SEND_DESTS - 1; i > 0; i--)
		atomic_store_explicit(&s[i], atomic_load_explicit(&s[i - 1], memory_order_relaxed),
				      memory_order_relaxed);
	atomic_store_explicit(&s[0], key, memory_order_relaxed);
	if (atomic_load_explicit(&lr_senddests_top, memory_order_relaxed) <= (unsigned)fd)
		atomic_store_explicit(&lr_senddests_top, (unsigned)fd + 1, memory_order_relaxed);
}

/* The socket at fd is gone, or another is there now: its destinations go.
 * Every close() asks: a number above any ever followed is not even read (a
 * process with no followed sender touches no page of the array). */
static inline void lr_senddest_forget(int fd)
{
	if ((unsigned)fd >= atomic_load_explicit(&lr_senddests_top, memory_order_relaxed) ||
	    !lr_senddest_followed(fd))
		return;
	for (unsigned i = 0; i < LR_SEND_DESTS; i++)
		atomic_store_explicit(&lr_senddests[fd][i], 0, memory_order_relaxed);
}

/* fds first..last are closed. */
static inline void lr_senddest_forget_range(unsigned first, unsigned last)
{
	unsigned top = atomic_load_explicit(&lr_senddests_top, memory_order_relaxed);
	for (unsigned fd = first; fd <= last && fd < top; fd++)
		lr_senddest_forget((int)fd);
}

/* new is now the socket at old (dup2, dup3): it is followed as old is, so
 * that its own new destinations are said. */
static inline void lr_senddest_copy(int new, int old)
{
	if ((unsigned)new >= LR_FD_TRACKED)
		return;
	if (!lr_senddest_followed(old)) {
		lr_senddest_forget(new);
		return;
	}
	for (unsigned i = 0; i < LR_SEND_DESTS; i++)
		atomic_store_explicit(&lr_senddests[new][i],
				      atomic_load_explicit(&lr_senddests[old][i], memory_order_relaxed),
				      memory_order_relaxed);
	if (atomic_load_explicit(&lr_senddests_top, memory_order_relaxed) <= (unsigned)new)
		atomic_store_explicit(&lr_senddests_top, (unsigned)new + 1, memory_order_relaxed);
}

#endif

/* What a front end records of each socket, as bits: its kind, the reuse
 * options the program set and those libreuse injected, whether it is kept. */
#ifndef LIBREUSE_SOCKBITS_H
#define LIBREUSE_SOCKBITS_H

#include "policy.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* What a front end records of each socket (LR_SOCK_* bits), and reports in
 * a struct lr_sockinfo. */
enum {
	LR_SOCK_KNOWN = 1 << 0, /* its kind is known (seen created, or asked) */
	LR_SOCK_V6 = 1 << 1,
	LR_SOCK_TCP = 1 << 2,
	LR_SOCK_UDP = 1 << 3,
	LR_SOCK_BOUND = 1 << 4,
	/* two bits per option (LR_OPT_* shifted): set by the program on, off, injected */
	LR_SOCK_PROG_ON_SHIFT = 5,
	LR_SOCK_PROG_OFF_SHIFT = 7,
	LR_SOCK_INJECTED_SHIFT = 9,
	LR_SOCK_FORCED = 1 << 11, /* injected under a `force` rule */
	LR_SOCK_KEEP = 1 << 12,   /* a keep rule bound it: hand it to the keeper at listen */
	LR_SOCK_KEPT = 1 << 13,   /* a keeper or systemd holds it too: shutdown is not passed on */
	LR_SOCK_RETRIED = 1 << 14, /* supervisor: a call on it was given up by the program, to be made again */
	/* library: a kept TCP listener whose program set it blocking; the shared
	 * file stays non-blocking (src/preload/keptmode.c) */
	LR_SOCK_BLOCKS = 1 << 15,
};

/* The bits a program's own SO_REUSEADDR/SO_REUSEPORT (name) set to `on`
 * clears and sets in a socket's record. */
static inline void lr_sock_reuse_bits(int name, int on, uint16_t *clear, uint16_t *set)
{
	unsigned bit = name == SO_REUSEADDR ? LR_OPT_REUSEADDR : LR_OPT_REUSEPORT;
	unsigned on_bit = bit << LR_SOCK_PROG_ON_SHIFT, off_bit = bit << LR_SOCK_PROG_OFF_SHIFT;
	*clear = (uint16_t)(on_bit | off_bit);
	*set = (uint16_t)(on ? on_bit : off_bit);
}

/* Whether the program turning SO_REUSEADDR/SO_REUSEPORT (name) off is to
 * be ignored: a `force` rule injected it (st: the socket's LR_SOCK_* bits). */
static inline bool lr_sock_reuse_forced(uint16_t st, int name, int on)
{
	unsigned bit = name == SO_REUSEADDR ? LR_OPT_REUSEADDR : LR_OPT_REUSEPORT;
	return !on && (st & LR_SOCK_FORCED) && (st & (bit << LR_SOCK_INJECTED_SHIFT));
}

/* The lr_sockinfo a record of LR_SOCK_* bits says. */
void lr_sockinfo_of(uint16_t bits, struct lr_sockinfo *si, uint8_t *proto);
/* LR_SOCK_* bits for a socket of this domain and type/protocol. */
static inline uint16_t lr_sock_bits(int domain, int type, int protocol)
{
	/* Every socket() asks: a lookup by type (the kernel takes no other
	 * bits than SOCK_NONBLOCK and SOCK_CLOEXEC above the low four). */
	static const uint16_t kind[16] = { [SOCK_STREAM] = LR_SOCK_TCP, [SOCK_DGRAM] = LR_SOCK_UDP };
	static const int own[16] = { [0] = -1, [SOCK_STREAM] = IPPROTO_TCP, [SOCK_DGRAM] = IPPROTO_UDP };
	unsigned t = (unsigned)type & 15u;
	uint16_t k = protocol == 0 || protocol == own[t] ? kind[t] : 0;
	return (uint16_t)(LR_SOCK_KNOWN | (domain == AF_INET6 ? LR_SOCK_V6 : 0) | k);
}

/* The same, asked of the kernel; false when fd is not an IP socket. errno
 * is preserved. */
bool lr_sock_ask(int fd, uint16_t *bits);

#endif

/* What libreuse's own hooks learnt about each socket: its kind, the reuse
 * options the program set and the ones libreuse injected. Read and written
 * only with relaxed atomics on the call path: one array slot per fd, no
 * lock, no allocation, no system call. */
#ifndef LIBREUSE_FDSTATE_H
#define LIBREUSE_FDSTATE_H

#include "sockbits.h"

#include <stdatomic.h>
#include <stdint.h>

/* Sockets above this fd number are not tracked: their kind is then asked of
 * the kernel (getsockopt) and program-set options are not reported. */
#define LR_FD_TRACKED 65536

/* Shared by all threads; a slot is written only by a call on its fd, and
 * calls on one socket are the host's to serialise (two threads racing on
 * one socket race in the kernel too). So an update is a plain load and
 * store, never a locked read-modify-write: at worst, racing calls on one
 * socket lose a bit of what libreuse reports about it. */
extern _Atomic uint16_t lr_fdstate[LR_FD_TRACKED];

static inline uint16_t lr_fd_get(int fd)
{
	return (fd >= 0 && fd < LR_FD_TRACKED)
		       ? atomic_load_explicit(&lr_fdstate[fd], memory_order_relaxed)
		       : 0;
}

static inline void lr_fd_set(int fd, uint16_t v)
{
	if (fd >= 0 && fd < LR_FD_TRACKED)
		atomic_store_explicit(&lr_fdstate[fd], v, memory_order_relaxed);
}

/* Clears the bits of `clear`, then sets those of `set`. */
static inline void lr_fd_update(int fd, uint16_t clear, uint16_t set)
{
	if (fd >= 0 && fd < LR_FD_TRACKED) {
		uint16_t v = atomic_load_explicit(&lr_fdstate[fd], memory_order_relaxed);
		atomic_store_explicit(&lr_fdstate[fd], (uint16_t)((v & ~clear) | set),
				      memory_order_relaxed);
	}
}

/* Forgets fds first..last (closed): they refer to nothing now. */
static inline void lr_fd_forget(unsigned int first, unsigned int last)
{
	for (unsigned int fd = first; fd <= last && fd < LR_FD_TRACKED; fd++)
		atomic_store_explicit(&lr_fdstate[fd], 0, memory_order_relaxed);
}

static inline void lr_fd_or(int fd, uint16_t bits)
{
	lr_fd_update(fd, 0, bits);
}

/* [fd]: the options of those a kept socket is given (lr_keep_option_bit)
 * that a program set on a socket of that number, ever: never cleared (that
 * would cost every socket and close a store), so at worst an option set on
 * an earlier socket of the number is copied too, as every option once was.
 * Written by the setsockopt hook, read by adoption (keep.c), relaxed. */
extern _Atomic uint32_t lr_fdopts[LR_FD_TRACKED];

#endif

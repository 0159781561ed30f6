/* Asking a keeper for a kept socket, or handing it one — from a program's
 * own libreuse, or from the supervisor acting for a program — and fitting a
 * kept socket to stand in for the program's fresh one. */
#ifndef LIBREUSE_KEEPCLIENT_H
#define LIBREUSE_KEEPCLIENT_H

#include "keepwire.h"
#include "getenv.h"

#include <stddef.h>
#include <stdint.h>

/* Where the keeper is, and which start of the program is asking. */
struct lr_keeper_addr {
	char name[108]; /* abstract socket name; empty: no keeper */
	size_t len;
	uint32_t gen;
};

/* From LIBREUSE_KEEPER and LIBREUSE_KEEPER_GEN as env reads them (the
 * library's: as the program started; neither in secure execution). */
void lr_keeper_from_env(struct lr_keeper_addr *k, lr_getenv_fn *env);

/* A kept socket for want: 1 with *fd, and the connection it came by left
 * open at *conn (both the caller's to close, together: lr_keep_close); 0
 * without, out->why saying why when there was a reason. board: NULL, or
 * where the keeper's board (see keepwire.h) goes when it comes along (-1:
 * it did not; the caller's to close). errno is preserved. */
int lr_keeper_adopt(const struct lr_keeper_addr *k, const struct lr_keep_sock *want, int *fd,
		    int *conn, int *board, struct lr_keep_outcome *out);

/* Hands the bound (TCP: listening) socket fd to the keeper: 1 kept, 0 not.
 * board as for lr_keeper_adopt. */
int lr_keeper_offer(const struct lr_keeper_addr *k, int fd, int *board, struct lr_keep_outcome *out);

/* Readying kept socket k to stand in for the program's fresh socket fd.
 * Its type and family need no asking: systemd's sockets and the keeper's
 * are matched to want (lr_keep_same) by what the kernel said of them, and
 * want is the program's socket as its front end knows it.
 *
 * The options of the mask `only` (bits of lr_keep_option_bit) copied from
 * fd to k: those the front end saw the program set, each read and set, or
 * LR_KEEP_ALL_OPTIONS for a front end that cannot tell, each set only where
 * fd's and k's differ. */
void lr_keep_fit_options(int fd, int k, const struct lr_keep_sock *want, uint32_t only);
/* O_NONBLOCK of the file status flags fl (the program's socket's) set on
 * k, whose file every holder shares: for a front end that does not keep
 * each process's mode itself (the library does, for a TCP listener:
 * keptmode.c). */
void lr_keep_fit_mode(int k, int fl);

/* Closes a, b and c (any may be -1), errno preserved: one call when they
 * are numbers next to each other, as a connection and what it brought
 * mostly are. */
void lr_keep_close(int a, int b, int c);

/* The bit of an option lr_keep_fit_options copies to a kept socket, or -1
 * for one it does not. */
enum { LR_KEEP_LINGER_BIT = 22 };
#define LR_KEEP_ALL_OPTIONS ((uint32_t)-1)
int lr_keep_option_bit(int level, int name);

/* "PREFIX A[N]B" into out, for the outcome's words. */
void lr_keep_say(char *out, size_t n, const char *a, const char *b, long num, const char *c);

#endif

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

/* A kept socket for want: 1 with *fd (the caller's to close), 0 without,
 * out->why saying why when there was a reason. errno is preserved. */
int lr_keeper_adopt(const struct lr_keeper_addr *k, const struct lr_keep_sock *want, int *fd,
		    struct lr_keep_outcome *out);

/* Hands the bound (TCP: listening) socket fd to the keeper: 1 kept, 0 not. */
int lr_keeper_offer(const struct lr_keeper_addr *k, int fd, struct lr_keep_outcome *out);

/* The keeper's board (see keepwire.h): 1 with *fd (the caller's to close),
 * 0 without. errno is preserved. */
int lr_keeper_board(const struct lr_keeper_addr *k, int *fd);

/* Readies kept socket k to stand in for the program's fresh socket fd: the
 * same type and family (else 0, why says so), the options the program set
 * copied over, O_NONBLOCK as the program's. 1 when k fits. */
int lr_keep_fit(int fd, int k, char *why, size_t n);
/* The same, but O_NONBLOCK left as the shared file has it: for a front end
 * that keeps each process's mode itself (the library's keptmode.c), and
 * only the options of the mask `only` copied (bits of lr_keep_option_bit):
 * those the front end saw the program set. */
int lr_keep_fit_options(int fd, int k, uint32_t only, char *why, size_t n);

/* The same, told what the caller knows already: fd's type td and family
 * dd, and k's type tk (only k's family is asked). */
int lr_keep_fit_known(int fd, int td, int dd, int k, int tk, uint32_t only, char *why, size_t n);

/* The bit of an option lr_keep_fit copies to a kept socket, or -1 for one
 * it does not. */
enum { LR_KEEP_LINGER_BIT = 22 };
#define LR_KEEP_ALL_OPTIONS ((uint32_t)-1)
int lr_keep_option_bit(int level, int name);

/* "PREFIX A[N]B" into out, for the outcome's words. */
void lr_keep_say(char *out, size_t n, const char *a, const char *b, long num, const char *c);

#endif

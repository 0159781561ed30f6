/* Keeping a program's sockets, as both front ends do it — the library
 * inside the program and the supervisor outside it — written once: at a
 * keep rule's bind, a kept socket (systemd's, else the keeper's) takes the
 * place of the program's; a socket bound afresh goes to the keeper; and
 * what is said when neither can be, the same words from either front end.
 * A front end supplies only what is its own: how a socket reaches the
 * program's fd number, and what it does once the keeper holds one. */
#ifndef LIBREUSE_KEEPING_H
#define LIBREUSE_KEEPING_H

#include "getenv.h"
#include "keepclient.h"
#include "keepwire.h"

#include <stdbool.h>

struct lr_keep_front {
	/* Why this front end cannot put a socket into the program at all, or
	 * NULL (as is the member): asked before a socket is taken from
	 * anyone, which would then be taken for nothing. */
	const char *(*cannot)(void);
	/* Puts kept socket k at the program's fd, readied as the program's
	 * own socket (want) was: its options, its modes. Leaves k open (the
	 * client closes it). 1 done; 0 with errno, out->why set when the
	 * front end knows better words than errno's name. */
	int (*put)(void *ctx, int fd, int k, const struct lr_keep_sock *want,
		   struct lr_keep_outcome *out);
	/* The keeper gave (offered false) or took (true) the socket now at
	 * fd: NULL, or what the front end does then. board: the keeper's
	 * board when it came along (wants_board), else -1; the front end's to
	 * map, not to close. */
	void (*joined)(void *ctx, int fd, bool offered, int board);
	/* Whether the keeper's board should come along with the next reply
	 * of the keeper's: NULL, never. */
	bool (*wants_board)(void *ctx);
};

/* Once, before any keep (the library: at load, before the program can
 * change its environment or close its fds; the supervisor: before its
 * workers start): the keeper's address and this start's generation, and
 * systemd's sockets (sdfds.h), read through env. */
void lr_keeping_init(lr_getenv_fn *env);

/* The keeper lr_keeping_init found (len 0: none). */
const struct lr_keeper_addr *lr_keeping_keeper(void);

/* fd is about to be bound to want (name: a keep rule's systemd name, or
 * NULL). 1: a kept socket is now at fd; 0: bind as usual, out saying why
 * (out->why, or out->no_keeper). ctx: the front end's, for its calls.
 * errno is preserved. */
int lr_keeping_adopt(const struct lr_keep_front *f, void *ctx, int fd,
		     const struct lr_keep_sock *want, const char *name, struct lr_keep_outcome *out);

/* Hands the bound (TCP: listening) socket fd to the keeper: 1 kept; 0 not,
 * out saying why. errno is preserved. */
int lr_keeping_offer(const struct lr_keep_front *f, void *ctx, int fd, struct lr_keep_outcome *out);

#endif

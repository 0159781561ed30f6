/* The sockets a keeper holds, and which instance took each last. */
#ifndef LIBREUSE_STORE_H
#define LIBREUSE_STORE_H

#include "keepwire.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct lr_kept {
	int fd;
	struct lr_keep_sock id;
	ino_t ino;           /* the socket itself: one offered twice is kept once */
	unsigned taken_gen;  /* the latest instance that kept or adopted it */
};

struct lr_store {
	struct lr_kept *v;
	size_t n, cap;
};

/* Keeps fd (owned from here on, closed if refused). 0, or -1 with why. */
int lr_store_offer(struct lr_store *s, int fd, unsigned gen, char *why, size_t n);

/* A kept socket for want that instance gen has not taken yet: its fd (the
 * store's own; the caller passes it on, not closes it), now taken by gen.
 * -1 with why ("" when nothing is kept there at all). */
int lr_store_adopt(struct lr_store *s, const struct lr_keep_sock *want, unsigned gen, char *why,
		   size_t n);

/* Every kept socket has been taken by instance gen. */
bool lr_store_all_taken(const struct lr_store *s, unsigned gen);

/* "tcp 127.0.0.1:8080", with "(IPv6 only)" or "(dual-stack)" for IPv6. */
void lr_store_describe(char *buf, size_t n, const struct lr_keep_sock *k);

void lr_store_free(struct lr_store *s);

#endif

/* Keeping listeners across restarts, from inside the program: a bind that a
 * keep rule matches is given the socket a keeper (or systemd) already holds
 * for that address, at the program's own fd number; a new listener is handed
 * to the keeper. The client is both front ends' (src/keep/keeping.c); here is
 * only how the library puts a socket at the program's fd. The log lines are
 * the core's (act_keep.c). */
#ifndef LIBREUSE_KEEP_H
#define LIBREUSE_KEEP_H

#include "keepwire.h"

/* Called once, early (the library's constructor): the keeper's address and
 * this process's generation, and systemd's sockets when LISTEN_PID is ours
 * (held at numbers of libreuse's own: sdfds.h) — read before the program
 * can change or clear its environment, or close its fds. */
void lr_keep_capture(void);

/* fd is about to be bound to `want`. 1: fd now refers to a kept socket (its
 * FD_CLOEXEC and O_NONBLOCK as the program had them, and the options it set
 * copied over); 0: bind as usual. errno is preserved. */
int lr_keep_adopt(int fd, const struct lr_keep_sock *want, const char *name,
		  struct lr_keep_outcome *out);

/* Hands the bound (TCP: listening) socket fd to the keeper. 1 kept, 0 not. */
int lr_keep_offer(int fd, struct lr_keep_outcome *out);

#endif

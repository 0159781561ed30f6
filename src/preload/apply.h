/* Carrying out the policy's decision on a real socket — inject options,
 * rewrite, deny, bind a source, retry — and the log lines that tell of it.
 * The result and errno returned are exactly the real call's (or the deny
 * errno). */
#ifndef LIBREUSE_APPLY_H
#define LIBREUSE_APPLY_H

#include "policy.h"
#include "state.h"

#include <sys/socket.h>

int lr_apply_bind(struct lr_loaded *l, int fd, const struct sockaddr *addr, socklen_t len,
		  const struct lr_call *c, const struct lr_sockinfo *si);
int lr_apply_connect(struct lr_loaded *l, int fd, const struct sockaddr *addr, socklen_t len,
		     const struct lr_call *c, const struct lr_sockinfo *si);

/* Logs a call that no rule acts on (listen, setsockopt) at level "all". */
void lr_apply_log_call(struct lr_loaded *l, const char *op, int fd, uint8_t proto, int result, int err,
		       const struct lr_sockinfo *si, const char *message);

/* A listener a keep rule bound, now listening: to the keeper. */
void lr_apply_keep_listener(struct lr_loaded *l, int fd, uint8_t proto, const struct lr_sockinfo *si);
/* The program's shutdown() of a kept socket, not passed to the kernel. */
void lr_apply_shutdown_ignored(struct lr_loaded *l, int fd, uint8_t proto, const struct lr_sockinfo *si);

/* listen's line at level "all", and once per process the verdict on what
 * the program never does. */
void lr_apply_listen(struct lr_loaded *l, int fd, uint8_t proto, int ret, int err,
		     const struct lr_sockinfo *si);


#endif

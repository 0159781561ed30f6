/* A kept TCP listener's blocking mode, kept per process (keptmode.c): the
 * shared open file description stays non-blocking, and each program sees
 * and gets the mode it set. */
#ifndef LIBREUSE_KEPTMODE_H
#define LIBREUSE_KEPTMODE_H

#include <stdbool.h>

/* The file status flags of fd as the kernel has them (no hook between). */
int lr_keptmode_getfl(int fd);

/* fd has just become a kept TCP listener, and its program wants it
 * non-blocking or not: recorded for fd, and the shared file made
 * non-blocking. errno is preserved. */
void lr_keptmode_take(int fd, bool nonblock);

/* The keeper's board (keepwire.h), mapped, and this process's generation:
 * once a newer one serves, a kept listener this process wants non-blocking
 * gives it no more connections. Set once. */
void lr_keptmode_board(const void *board, unsigned gen);

#endif

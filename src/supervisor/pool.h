/* Threads for the trapped calls that may block — a connect on a blocking
 * socket, a bind with `retry` — so that one slow call never holds up
 * another: the receiving thread hands them over and goes on. */
#ifndef LIBREUSE_POOL_H
#define LIBREUSE_POOL_H

/* Runs fn(arg) on a pool thread, starting one when none is idle. fn owns
 * arg. When no thread can be had, runs it here. */
void lr_pool_run(void (*fn)(void *), void *arg);

#endif

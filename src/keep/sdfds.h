/* systemd's sockets (sd_listen_fds(3): LISTEN_PID, LISTEN_FDS,
 * LISTEN_FDNAMES), held for both front ends: the library inside the
 * program, and the supervisor outside it (the process systemd started).
 * Each is held at a number of libreuse's own, close-on-exec, away from the
 * low numbers a daemon reuses, so that a daemon that closes every fd at
 * start (close_range, closefrom, a loop) still finds its socket at its
 * first bind; the library's hooks keep the program's closes off these
 * numbers (lr_sd_is_held). */
#ifndef LIBREUSE_SDFDS_H
#define LIBREUSE_SDFDS_H

#include "keepwire.h"
#include "getenv.h"

#include <stdbool.h>
#include <stddef.h>

/* systemd passes at most this many sockets to one program that we look at. */
#define LR_SD_MAX 64
/* Where the held copies go: above what daemons open. */
#define LR_SD_HOLD_BASE 900

/* Once, at start, before the program's own code runs: when LISTEN_PID (as
 * env reads it: the library's, as the program started, so that a program
 * that unsets LISTEN_* after taking its fds changes nothing) is this
 * process (a fork child is not: it does not adopt its parent's), each passed fd is duplicated to a held number. The passed
 * fds themselves are left as they were: the program (or a child it execs)
 * may use them as systemd meant. */
void lr_sd_capture(lr_getenv_fn *env);

/* How many were held. */
int lr_sd_count(void);

/* How many were held (lr_sd_count): written by lr_sd_capture only. */
extern int lr_sd_held_count;
bool lr_sd_is_held_among(int fd);

/* Whether fd is one of the held numbers: every close() asks, and a held
 * copy is never below LR_SD_HOLD_BASE (one made there is the passed fd
 * itself, which is the program's), so most ask with one compare. */
static inline bool lr_sd_is_held(int fd)
{
	return fd >= LR_SD_HOLD_BASE && lr_sd_held_count && lr_sd_is_held_among(fd);
}

/* The held numbers within [first, last], ascending, at most max of them. */
int lr_sd_held_in(unsigned int first, unsigned int last, int *out, int max);

/* Moves the held copy at fd elsewhere (the program is about to put a file
 * at that number: dup2, dup3). */
void lr_sd_move_from(int fd);

/* systemd's socket for a bind: the one named `name` (any address), or,
 * without a name, the one whose identity is want's. A new fd (close-on-exec)
 * the caller puts in place and closes, with out->from saying which; or -1,
 * with out->why saying why when a name was asked for. */
int lr_sd_find(const struct lr_keep_sock *want, const char *name, struct lr_keep_outcome *out);

#endif

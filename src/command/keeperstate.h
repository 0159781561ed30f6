/* Asking a running keeper (`libreuse run --keep`) its state, for `libreuse
 * who`: found by its pid, through its abstract socket's name. */
#ifndef LIBREUSE_KEEPERSTATE_H
#define LIBREUSE_KEEPERSTATE_H

#include <stddef.h>
#include <sys/types.h>

/* The keeper's state as lines of text (src/keeper/keeper.c says what they
 * are) into out: 0; -2 when pid has no keeper's socket (it is no keeper);
 * -1 when the keeper did not answer within a second, or refused: why in
 * out. */
int lr_keeper_state_ask(pid_t pid, char *out, size_t n);

#endif

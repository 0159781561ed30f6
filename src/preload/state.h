/* libreuse's life inside a process: lazy start on the first IP socket call,
 * the rules in force, their hot reload, and the guard that keeps a table
 * alive while a call uses it. */
#ifndef LIBREUSE_STATE_H
#define LIBREUSE_STATE_H

#include "act.h"

#include <stdbool.h>

struct lr_guard {
	unsigned parity;
};

/* Loads the rules if that has not happened yet (the first IP socket call). */
void lr_state_start(void);

/* The rules in force for the length of one call, or NULL when there are none
 * (pass everything through). A non-NULL result must be handed back with
 * lr_state_leave. Lock-free; at most once a second it also looks whether the
 * rule file changed, and reloads it if so. */
struct lr_loaded *lr_state_enter(struct lr_guard *g);
void lr_state_leave(struct lr_guard *g);
/* The same, but never the one to load or reload the rules (for the exit
 * summary): NULL until they were loaded. */
struct lr_loaded *lr_state_peek(struct lr_guard *g);

/* Whether the rules in force log every call (the file's log.level is "all";
 * listen and setsockopt match no rule, so a rule's own level never applies
 * to them): hooks with nothing else to do ask this before entering. A hint: a reload may
 * change it under a call, which then logs or not as the old rules said. */
bool lr_state_logs_calls(void);

/* The program's name for log lines (argv[0]'s basename, else the
 * executable's). */
const char *lr_state_program(void);

#endif

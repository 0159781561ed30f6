/* libreuse's life inside a process: lazy start on the first IP socket call,
 * the rules in force, their hot reload, and the guard that keeps a table
 * alive while a call uses it. */
#ifndef LIBREUSE_STATE_H
#define LIBREUSE_STATE_H

#include "act.h"
#include "reload.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

struct lr_guard {
	unsigned parity;
};

/* Set once the rules were first loaded (or found missing). */
extern atomic_bool lr_state_started;
/* Loads the rules if that has not happened yet (the first IP socket call),
 * then returns fd: the socket() hook's tail. errno is preserved. */
int lr_state_start_at(int fd);

/* The rules in force for the length of one call, or NULL when there are none
 * (pass everything through). A non-NULL result must be handed back with
 * lr_state_leave. Lock-free; at most once a second it also looks whether the
 * rule file changed, and reloads it if so. */
struct lr_loaded *lr_state_enter(struct lr_guard *g);
void lr_state_leave(struct lr_guard *g);

/* The clock reloads are timed by: coarse, so a read is a few loads. */
static inline long long lr_state_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The reload of the rules in force (src/core/reload.c): set up by the
 * first load, claimed by the hook that finds it due, read by any hook. */
extern struct lr_reload lr_state_reload;

/* Whether the rule file is due to be looked at again: a call that takes
 * the gate's short way asks this, and takes the full path when it is (its
 * lr_state_enter does the looking), so a program whose calls no rule
 * matches still sees a new rule within a second. */
static inline bool lr_state_check_due(void)
{
	return lr_reload_due(&lr_state_reload, lr_state_now_ns());
}

/* As lr_state_enter, but never the one to load or reload the rules (for
 * the exit summary): NULL until they were loaded. */
struct lr_loaded *lr_state_peek(struct lr_guard *g);

/* Whether the rules in force log every call (the file's log.level is "all";
 * listen and setsockopt match no rule, so a rule's own level never applies
 * to them): hooks with nothing else to do ask this before entering. A hint: a reload may
 * change it under a call, which then logs or not as the old rules said. */
extern atomic_bool lr_state_calls_logged;
static inline bool lr_state_logs_calls(void)
{
	return atomic_load_explicit(&lr_state_calls_logged, memory_order_relaxed);
}

#endif

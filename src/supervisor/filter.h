/* The seccomp filter a supervised program runs under: which system calls
 * reach the supervisor (only those the rules can touch; every other call
 * costs the program nothing), installed in the child before it execs. */
#ifndef LIBREUSE_FILTER_H
#define LIBREUSE_FILTER_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

struct lr_traps {
	bool connect;  /* a connect rule, or level "all" */
	bool listen;   /* keep, or level "all" (the audit) */
	bool shutdown; /* keep: a kept listener is not shut down */
	bool send;     /* a rule with op = "send": sendto, sendmsg, sendmmsg */
};

struct lr_table;
/* Which calls the rules of t can touch, for any program (t opened for no
 * program in particular: the supervised one may exec others). */
void lr_traps_of(const struct lr_table *t, struct lr_traps *out);

/* The filter program for t, into out (room for max instructions): its
 * length, or 0 when it does not fit (a bug). Installed by the call below;
 * on its own for the tests, which run it over made-up calls. */
size_t lr_filter_program(const struct lr_traps *t, struct sock_filter *out, size_t max);

/* In the child: no_new_privs, then the filter with a user-notification
 * listener (WAIT_KILLABLE_RECV where the kernel has it). The listener fd,
 * or -1 with why (naming what the kernel lacks or refused). */
int lr_filter_install(const struct lr_traps *t, char *why, size_t n);

#endif

/* What to do with one call: a pure function of the compiled table and the
 * facts of the call, so every decision is unit-tested without LD_PRELOAD. */
#ifndef LIBREUSE_POLICY_H
#define LIBREUSE_POLICY_H

#include "rules.h"

#include <stdbool.h>
#include <stdint.h>

/* What libreuse knows of a socket from its own hooks (see fdstate.h). */
struct lr_sockinfo {
	int family;          /* AF_INET / AF_INET6 */
	unsigned prog_on;    /* LR_OPT_* the program turned on itself */
	unsigned prog_off;   /* LR_OPT_* the program turned off explicitly */
	unsigned injected;   /* LR_OPT_* libreuse already set on it */
	bool bound;          /* already bound (so a connect's source bind is moot): as
			      * recorded, or for a connect as the kernel says */
};

struct lr_decision {
	const struct lr_entry *rule; /* NULL: no rule (only a top-level keep may act) */
	int level;                  /* log level in force for this call */
	bool dry_run;               /* decide and log, change nothing */
	int deny;                   /* errno to fail with, or 0 */
	unsigned inject;            /* LR_OPT_* to set before the bind (or source bind) */
	bool rewrite;               /* use addr/port below instead of the program's */
	struct lr_addr addr;
	uint16_t port;
	bool source;                /* connect, send: bind to src_addr:src_port first */
	struct lr_addr src_addr;
	uint16_t src_port;
	uint32_t retry_ms;
	bool force;
	/* bind: the socket is to outlive the program (see keep in rules.h);
	 * never for port 0, which no next instance could ask for again. */
	bool keep;
	const char *keep_name; /* systemd's socket of this name, or NULL */
	const char *problem; /* why a rule's action cannot apply to this socket */
};

void lr_decide(const struct lr_table *t, const struct lr_call *c,
	       const struct lr_sockinfo *s, struct lr_decision *d);

/* Of the options a rule asks for (LR_OPT_*), those to inject: less what
 * the program set itself (nothing to do) and what it turned off itself
 * (its choice wins unless the rule says `force`). */
static inline unsigned lr_options_to_inject(unsigned want, bool force, unsigned prog_on,
					    unsigned prog_off)
{
	want &= ~prog_on;
	return force ? want : want & ~prog_off;
}

#endif

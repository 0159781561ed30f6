/* What the supervisor knows of each process it serves: its program's names
 * (for rules that name a program, and for log lines), the rules compiled
 * for that program, and the credentials the kernel's own checks use. */
#ifndef LIBREUSE_PROCS_H
#define LIBREUSE_PROCS_H

#include "filter.h"
#include "tablemake.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct lr_proc {
	pid_t tgid;
	char exe[NAME_MAX + 1];   /* basename of /proc/PID/exe */
	char argv0[NAME_MAX + 1]; /* basename of its argv[0]; what log lines call it */
	struct lr_loaded *loaded; /* the rules for it, or NULL: none apply */
	unsigned gen;             /* the table generation `loaded` is of */
	uid_t euid;
	uint64_t capeff;
	unsigned said; /* LR_SAID_* lines (act.h) said once per process */
};

/* Once, before any call is handled: where the rules come from, and where
 * errors in them are said. Reads the rules, and says which calls they can
 * touch: what the filter must trap (a reload can need more, and says so). */
void lr_procs_init(const struct lr_sources *src, struct lr_sink *errors, struct lr_traps *traps);

/* What is known of process tgid, read from /proc the first time. 0, or -1
 * when it is gone. */
int lr_proc_get(pid_t tgid, struct lr_proc *out);

/* Its credentials now (a daemon drops privileges after its first bind). */
int lr_proc_creds(pid_t tgid, uid_t *euid, uint64_t *capeff);

/* Whether line `bit` (LR_SAID_*) is yet to be said for tgid: true once,
 * then false, until it execs another program. */
bool lr_proc_first(pid_t tgid, unsigned bit);

/* tgid exec'd another program: its names are to be read again. */
void lr_proc_forget(pid_t tgid);

/* The rules for a program that is not running yet (the command line). */
struct lr_loaded *lr_procs_rules_for(const char *exe, const char *argv0);

/* Lines every program's sink dropped (a full pipe, a FIFO nobody reads),
 * for the summary at the end: each program has a sink of its own. */
unsigned long lr_procs_dropped(void);

#endif

/* What libreuse did, counted for the summary line it writes at exit (level
 * "actions" and above): one count per address space, so the library's are
 * its process's (a fork child starts again from zero: state.c), and the
 * supervisor's are of its whole run, every program it served together. */
#ifndef LIBREUSE_TALLY_H
#define LIBREUSE_TALLY_H

#include <stdatomic.h>
#include <stddef.h>

enum lr_tally_kind {
	LR_TALLY_INJECT,
	LR_TALLY_REWRITE,
	LR_TALLY_DENY,
	LR_TALLY_SOURCE,
	LR_TALLY_RETRY,
	LR_TALLY_KEPT,    /* sockets handed to the keeper to outlive this process */
	LR_TALLY_ADOPTED, /* binds given a kept socket instead of a new one */
	LR_TALLY_CONFLICT,
	LR_TALLY_WOULD, /* actions a dry run decided and did not carry out */
	LR_TALLY_SUPPRESSED, /* log lines the rate limit held back */
	LR_TALLY_KINDS
};

/* Incremented by any thread with relaxed atomics; reset in the library's
 * fork children (their summaries count their own calls); read at exit. */
extern atomic_ulong lr_tally[LR_TALLY_KINDS];

static inline void lr_tally_add(enum lr_tally_kind k)
{
	atomic_fetch_add_explicit(&lr_tally[k], 1, memory_order_relaxed);
}

void lr_tally_reset(void);

/* Plural names as they appear in the summary and its JSON: "injections". */
const char *lr_tally_name(enum lr_tally_kind k);

#endif

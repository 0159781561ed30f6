/* Hot reload, written once for every front end: at most once an interval,
 * look at the rule file; when it changed (and is not being written), build
 * rules from it and put them in force; a file that went away, or one whose
 * rules are bad, keeps the rules in force. The front end says only how it
 * reads the clock, how it builds rules (the library fetches a table, the
 * supervisor compiles one) and how it swaps them in. */
#ifndef LIBREUSE_RELOAD_H
#define LIBREUSE_RELOAD_H

#include "fileid.h"
#include "log.h"

#include <stdatomic.h>
#include <stdbool.h>

struct lr_reload_ops {
	/* A monotonic clock, in ns: what the interval is measured by. */
	long long (*now_ns)(void);
	/* Rules built from the file as *id found it (missing only at the first
	 * load), or NULL when there are none to put in force (their error said
	 * on the reload's sink by build itself). *read: the version of the file
	 * the rules were built from, where build can tell (the compiler reads a
	 * file rewritten under it again); left as *id otherwise. */
	void *(*build)(void *ctx, const struct lr_file_id *id, struct lr_file_id *read);
	/* Puts fresh in force: at the first load, whatever build gave (NULL:
	 * no rules); afterwards never NULL. */
	void (*swap)(void *ctx, void *fresh, bool first);
	/* Frees rules built and not put in force. */
	void (*discard)(void *ctx, void *fresh);
};

struct lr_reload {
	/* When the file is next looked at: taken by lr_reload_claim's
	 * compare-and-swap, read by anyone (lr_reload_due). */
	atomic_llong next_check_ns;
	/* The rest belongs to the one caller between a claim granted and the
	 * end of its lr_reload_run: the front end makes sure there is one (the
	 * library a flag, the supervisor its lock). */
	const char *path;
	struct lr_sink *errors;
	const struct lr_reload_ops *ops;
	void *ctx;
	bool loaded;                  /* the first load was made */
	struct lr_file_id attempted;  /* the file as last read, good or bad */
};

/* path, errors, ops and ctx are kept, not copied: they outlive r. */
void lr_reload_init(struct lr_reload *r, const char *path, struct lr_sink *errors,
		    const struct lr_reload_ops *ops, void *ctx);

/* Whether the file is due to be looked at again, as of now (the front end's
 * clock, read by itself on a hot path): a few loads. */
static inline bool lr_reload_due(const struct lr_reload *r, long long now)
{
	return now >= atomic_load_explicit(&r->next_check_ns, memory_order_relaxed);
}

/* Takes the next look: true for one caller an interval, and always before
 * the first load; the next look is then due an interval from now. */
bool lr_reload_claim(struct lr_reload *r);

/* The look itself, by the caller a claim was granted to (or, once the
 * first load was made, by any one caller at a time): the first call builds
 * whatever the file is; later ones build only when the file changed. */
void lr_reload_run(struct lr_reload *r);

#endif

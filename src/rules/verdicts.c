#include "verdicts.h"

#include <string.h>

/* A rule whose action is to inject options and nothing else, said at no
 * level in force (lr_decide, act.c: `inject` is logged at "actions", a
 * successful bind at "all", and counted when max_level is "actions"). */
static bool only_injects(const struct lr_table *t, const struct lr_action *a)
{
	int level = a->log_level >= 0 ? a->log_level : (int)t->log.level;
	return !a->deny && !a->has_rewrite && !a->has_source && !a->keep && !a->dry_run &&
	       !a->retry_ms && level < (int)LR_LOG_ACTIONS;
}

/* The nibble of proto (LR_PROTO_TCP or UDP) for the candidates cand[from,
 * to) of one interval, in file order: the first of them that applies to
 * the protocol decides, if it decides for every address and family. */
static uint8_t nibble(const struct lr_table *t, const uint32_t *cand, uint32_t from, uint32_t to,
		      uint8_t proto)
{
	for (uint32_t k = from; k < to; k++) {
		const struct lr_entry *r = &t->rules[cand[k]];
		if (!(r->proto & proto) || !lr_table_applies(t, r))
			continue;
		const struct lr_action *a = lr_table_action(t, r);
		if (r->cidr || r->family != LR_FAM_ANY || !only_injects(t, a) ||
		    t->max_level >= LR_LOG_ACTIONS)
			return 0;
		return (uint8_t)(LR_VERDICT_SETTLED | (a->reuseaddr ? LR_VERDICT_REUSEADDR : 0) |
				 (a->reuseport ? LR_VERDICT_REUSEPORT : 0) |
				 (a->force ? LR_VERDICT_FORCE : 0));
	}
	return LR_VERDICT_SETTLED;
}

void lr_bind_verdict_runs(const struct lr_table *t, lr_run_fn *fn, void *ctx)
{
	/* The compiler's: a load walks a few runs, not every interval's rules. */
	if (t->bind_runs) {
		for (size_t i = 0; i < t->nbind_runs; i++)
			fn(ctx, t->bind_runs[i] >> 8,
			   i + 1 < t->nbind_runs ? t->bind_runs[i + 1] >> 8 : 65536,
			   (uint8_t)t->bind_runs[i]);
		return;
	}
	const struct lr_index *ix = &t->index[0];
	/* Every call logged, every listener kept, or nothing done for real:
	 * the full path for all. */
	if (t->log.level >= LR_LOG_ALL || t->keep_all || t->dry_run || ix->linear) {
		fn(ctx, 0, 65536, 0);
		return;
	}
	if (ix->nintervals == 0) {
		fn(ctx, 0, 65536, LR_VERDICT_PASS);
		return;
	}
	for (uint32_t i = 0; i < ix->nintervals; i++) {
		uint32_t from = ix->off[i], to = ix->off[i + 1];
		uint8_t v = (uint8_t)(nibble(t, ix->cand, from, to, LR_PROTO_TCP) |
				      nibble(t, ix->cand, from, to, LR_PROTO_UDP) << LR_VERDICT_UDP_SHIFT);
		uint32_t end = i + 1 < ix->nintervals ? ix->bound[i + 1] : 65536;
		fn(ctx, ix->bound[i], end, v);
	}
}

static void fill(void *out, uint32_t from, uint32_t to, uint8_t v)
{
	memset((uint8_t *)out + from, v, to - from);
}

void lr_bind_verdicts(const struct lr_table *t, uint8_t out[65536])
{
	lr_bind_verdict_runs(t, fill, out);
}

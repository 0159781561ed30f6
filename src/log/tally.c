#include "tally.h"

atomic_ulong lr_tally[LR_TALLY_KINDS];

const char *lr_tally_name(enum lr_tally_kind k)
{
	static const char *const names[LR_TALLY_KINDS] = {
		"injections", "rewrites", "denies", "source_binds", "retries", "kept_sockets", "adoptions", "conflicts", "dry_run_actions",
		"suppressed_lines",
	};
	return names[k];
}

void lr_tally_reset(void)
{
	for (int k = 0; k < LR_TALLY_KINDS; k++)
		atomic_store_explicit(&lr_tally[k], 0, memory_order_relaxed);
}

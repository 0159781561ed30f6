#include "phases.h"

#include <stdio.h>

void lr_phases_text(char *out, size_t n, const struct lr_restart_phases *p)
{
	char asks[48] = "";
	if (p->asks > 1)
		snprintf(asks, sizeof(asks), " (%u restart signals, coalesced)", p->asks);
	snprintf(out, n,
		 "generation %u (pid %d) replaced generation %u (pid %d)%s: signal -> started %lld ms, "
		 "-> adopted %lld ms, -> old stopped %lld ms; total %lld ms",
		 p->gen, (int)p->pid, p->old_gen, (int)p->old_pid, asks, p->started_ms - p->asked_ms,
		 p->adopted_ms - p->started_ms, p->stopped_ms - p->adopted_ms, p->stopped_ms - p->asked_ms);
}

/* What the policy says of a bind on each port when nothing but the port
 * and the socket's protocol can change its answer: worked out once per
 * table, so that a front end can act on such a call without asking the
 * policy again (see lr_decide, whose answers these are). */
#ifndef LIBREUSE_VERDICTS_H
#define LIBREUSE_VERDICTS_H

#include "rules.h"

#include <stddef.h>
#include <stdint.h>

/* A verdict is one nibble per protocol: TCP's in the low four bits, UDP's in
 * the high four. SETTLED: the answer below holds for every address, family
 * and socket of that protocol; without it, ask lr_decide. Settled with no
 * option: no rule matches, and nothing is said unless the call fails. */
enum {
	LR_VERDICT_REUSEADDR = LR_OPT_REUSEADDR, /* inject it, as the rule says */
	LR_VERDICT_REUSEPORT = LR_OPT_REUSEPORT,
	LR_VERDICT_FORCE = 4,   /* the rule's `force`: injected despite the program's off */
	LR_VERDICT_SETTLED = 8,
	LR_VERDICT_UDP_SHIFT = 4,
};

/* Both protocols settled, nothing to inject: the common verdict. */
#define LR_VERDICT_PASS (LR_VERDICT_SETTLED | LR_VERDICT_SETTLED << LR_VERDICT_UDP_SHIFT)

/* The verdict of every port for a bind under t, as runs in port order that
 * cover 0-65535: the gate writes only the runs it must (gate.c). Settled
 * only where the matched rule does no more than inject options, on every
 * address, and nothing of it is logged or counted when it succeeds. */
void lr_bind_verdict_runs(const struct lr_table *t, lr_run_fn *fn, void *ctx);
/* The same, whole: out[port]. */
void lr_bind_verdicts(const struct lr_table *t, uint8_t out[65536]);

/* A verdict as a gate holds it: the common one, PASS, is 0, so that ports
 * no rule names are zeros. A verdict that settles nothing (0) becomes
 * LR_GATE_FULL: ask the policy. */
static inline uint8_t lr_gate_code(uint8_t verdict)
{
	return verdict ^ LR_VERDICT_PASS;
}
#define LR_GATE_FULL LR_VERDICT_PASS

/* A bind gate laid out to be read in place: uint16_t top[256], then blocks
 * of 256 codes; port n's code is block top[n >> 8]'s byte n & 255. Ranges
 * of ports alike share a block, so that the compiler puts a gate in every
 * table at a few hundred bytes (one rule: two blocks), and a process reads
 * it from the table it mapped, writing nothing (src/preload/gate.c). */
#define LR_GATE_TOP_BYTES 512u
static inline size_t lr_gate_bytes(uint32_t nblocks)
{
	return LR_GATE_TOP_BYTES + (size_t)nblocks * 256;
}

#endif

#include "gate.h"

#include <sys/mman.h>

/* 72 KiB of zero pages until the first load writes them. */
_Atomic uint8_t lr_gate_bind[65536];
_Atomic uint64_t lr_gate_connect[1024];

/* n as lr_gate_port gives it for a port in host order. */
static uint16_t wire(uint32_t port)
{
	return htons((uint16_t)port);
}

/* The connects t lets pass, by port in host order: those no rule of this
 * program's names, unless every call is logged. */
static void connect_passes(const struct lr_table *t, uint64_t out[1024])
{
	if (!t || t->log.level >= LR_LOG_ALL) {
		memset(out, t ? 0 : 0xff, 1024 * sizeof(*out));
		return;
	}
	lr_table_port_map(t, 1, out);
	for (int i = 0; i < 1024; i++)
		out[i] = ~out[i];
}

/* What one publication works out before it writes the gate: mapped for it
 * and unmapped after, so that it costs the program no memory between. */
struct scratch {
	uint8_t verdicts[65536];
	uint64_t passes[1024], words[1024];
};

/* Every call to the full path: where the scratch could not be had. */
static void close_gate(void)
{
	for (uint32_t n = 0; n < 65536; n++)
		atomic_store_explicit(&lr_gate_bind[n], 0, memory_order_relaxed);
	for (int i = 0; i < 1024; i++)
		atomic_store_explicit(&lr_gate_connect[i], 0, memory_order_relaxed);
}

static void write_gate(const struct lr_table *t, bool narrow)
{
	struct scratch *x = mmap(NULL, sizeof(*x), PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x == MAP_FAILED) {
		close_gate();
		atomic_thread_fence(memory_order_seq_cst);
		return;
	}
	if (t)
		lr_bind_verdicts(t, x->verdicts);
	else
		memset(x->verdicts, LR_VERDICT_PASS, sizeof(x->verdicts));
	for (uint32_t port = 0; port < 65536; port++) {
		uint8_t v = x->verdicts[port];
		uint16_t n = wire(port);
		if (narrow && atomic_load_explicit(&lr_gate_bind[n], memory_order_relaxed) != v)
			v = 0;
		atomic_store_explicit(&lr_gate_bind[n], v, memory_order_relaxed);
	}
	connect_passes(t, x->passes);
	for (uint32_t port = 0; port < 65536; port++)
		if ((x->passes[port >> 6] >> (port & 63)) & 1) {
			uint16_t n = wire(port);
			x->words[n >> 6] |= 1ull << (n & 63);
		}
	for (int i = 0; i < 1024; i++) {
		uint64_t w = x->words[i];
		if (narrow)
			w &= atomic_load_explicit(&lr_gate_connect[i], memory_order_relaxed);
		atomic_store_explicit(&lr_gate_connect[i], w, memory_order_relaxed);
	}
	atomic_thread_fence(memory_order_seq_cst);
	munmap(x, sizeof(*x));
}

void lr_gate_narrow(const struct lr_table *t)
{
	write_gate(t, true);
}

void lr_gate_open(const struct lr_table *t)
{
	write_gate(t, false);
}

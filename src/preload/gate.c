#include "gate.h"

#include "pages.h"
#include "sockbits.h"

/* 72 KiB of zero pages: a load writes only the ports its rules name. */
LR_ZERO_PAGES _Atomic uint8_t lr_gate_bind[65536];
LR_ZERO_PAGES _Atomic uint64_t lr_gate_connect[1024];
atomic_bool lr_gate_send;
_Atomic uint16_t lr_gate_send_mask = LR_SOCK_UDP | LR_SOCK_BOUND;

/* Which of lr_gate_bind's 16 pages, and which of lr_gate_connect's 2, were
 * ever written with something other than zero: a run of "pass" need not
 * look at a page still zero (a read would map it). Owned by the thread
 * publishing rules, as the gate is. */
static uint16_t bind_dirty;
static uint8_t connect_dirty;
/* Whether lr_gate_send_mask says level "all" (same owner): it is in .data,
 * written only when this changes. */
static bool send_mask_all;

enum {
	BIND_PAGE_SHIFT = 12,	       /* 4096 ports a page of lr_gate_bind */
	CONNECT_PAGE_SHIFT = 12 + 3, /* 32768 ports a page of lr_gate_connect */
};

/* What one publication writes: narrowing (before new rules are in force)
 * or opening (once they are). */
struct pass {
	bool narrow;
};

/* A run of bind verdicts. Narrowing sends every port whose code is about
 * to change to the full path; opening writes the new code. Each port thus
 * goes from old to new, or by way of the full path, never by a third.
 * Indexed in host order, a run of ports is a run of bytes: a rule's range
 * touches its own pages only, and a run of "pass" skips clean pages whole. */
static void bind_run(void *ctx, uint32_t from, uint32_t to, uint8_t verdict)
{
	const struct pass *p = ctx;
	uint8_t code = lr_gate_code(verdict);
	for (uint32_t port = from; port < to;) {
		unsigned page = port >> BIND_PAGE_SHIFT;
		uint32_t end = (page + 1) << BIND_PAGE_SHIFT;
		if (end > to)
			end = to;
		bool clean = !(bind_dirty >> page & 1);
		if (code == 0 && clean) {
			port = end;
			continue;
		}
		for (; port < end; port++) {
			/* A clean page holds zeros: not read, since reading a page
			 * never touched maps the zero page, and the write after it
			 * faults a second time. */
			if (!clean && atomic_load_explicit(&lr_gate_bind[port], memory_order_relaxed) == code)
				continue;
			atomic_store_explicit(&lr_gate_bind[port], p->narrow ? LR_GATE_FULL : code,
					      memory_order_relaxed);
			bind_dirty |= (uint16_t)(1u << page);
		}
	}
}

/* A run of connects: v 1 where the full path must look (a bit set).
 * Narrowing only sets bits (a port the new rules name); opening sets and
 * clears them until they say exactly what the new rules say. A word at a
 * time; a clean page is not read to clear it. */
static void connect_run(void *ctx, uint32_t from, uint32_t to, uint8_t v)
{
	const struct pass *p = ctx;
	if (!v && p->narrow)
		return;
	for (uint32_t port = from; port < to;) {
		unsigned page = port >> CONNECT_PAGE_SHIFT;
		uint32_t word_end = (port | 63) + 1, end = word_end < to ? word_end : to;
		if (!v && !(connect_dirty >> page & 1)) {
			port = (page + 1) << CONNECT_PAGE_SHIFT;
			continue;
		}
		uint64_t mask = (end - port == 64 ? ~0ull : ((1ull << (end - port)) - 1)) << (port & 63);
		_Atomic uint64_t *w = &lr_gate_connect[port >> 6];
		uint64_t old = connect_dirty >> page & 1 ? atomic_load_explicit(w, memory_order_relaxed) : 0,
			 now = v ? old | mask : old & ~mask;
		if (now != old) {
			atomic_store_explicit(w, now, memory_order_relaxed);
			connect_dirty |= (uint8_t)(1u << page);
		}
		port = end;
	}
}

static void write_gate(const struct lr_table *t, bool narrow)
{
	struct pass p = { .narrow = narrow };
	if (t)
		lr_bind_verdict_runs(t, bind_run, &p);
	else
		bind_run(&p, 0, 65536, LR_VERDICT_PASS);
	/* Every connect logged: all to the full path. */
	if (t && t->log.level >= LR_LOG_ALL)
		connect_run(&p, 0, 65536, 1);
	else if (t)
		lr_table_port_runs(t, 1, connect_run, &p);
	else
		connect_run(&p, 0, 65536, 0);
	/* Narrowing only turns it on: a send racing the swap then takes the
	 * full path, which holds one table or the other. */
	bool all = t && t->log.level >= LR_LOG_ALL;
	bool send = t && ((t->ops & LR_OP_SEND) || all);
	if (send || !narrow)
		atomic_store_explicit(&lr_gate_send, send, memory_order_relaxed);
	/* Written only when it changes: a page of .data a process that
	 * never logs every call need not fault in at its first socket. */
	if ((all || !narrow) && all != send_mask_all) {
		atomic_store_explicit(&lr_gate_send_mask,
				      (uint16_t)(all ? LR_SOCK_UDP : LR_SOCK_UDP | LR_SOCK_BOUND),
				      memory_order_relaxed);
		send_mask_all = all;
	}
	atomic_thread_fence(memory_order_seq_cst);
}

void lr_gate_narrow(const struct lr_table *t)
{
	write_gate(t, true);
}

void lr_gate_open(const struct lr_table *t)
{
	write_gate(t, false);
}

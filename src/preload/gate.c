#include "gate.h"

#include "pages.h"
#include "sockbits.h"

#include <stddef.h>

/* The bind gate gate.c writes, in verdicts.h's layout with a block per 256
 * ports (top[k] = k, written when it is first published): 64 KiB of zero
 * pages, of which a load writes only the ports its rules name. */
LR_ZERO_PAGES static struct {
	uint16_t top[256];
	_Atomic uint8_t code[65536];
} written;
_Static_assert(offsetof(__typeof__(written), code) == LR_GATE_TOP_BYTES, "a gate's layout");
/* Before any rules: every port passes. */
static const struct {
	uint16_t top[256];
	uint8_t code[256];
} all_pass;
_Atomic(const unsigned char *) lr_gate_bind_at = (const unsigned char *)&all_pass;
/* 8 KiB of zero pages, written as the bind gate is. */
LR_ZERO_PAGES _Atomic uint64_t lr_gate_connect[1024];
atomic_bool lr_gate_send;
_Atomic uint16_t lr_gate_send_mask = LR_SOCK_UDP | LR_SOCK_BOUND;

/* Whether `written` is the bind gate the hooks read (from then on, for
 * good). Owned by the thread publishing rules, as the gates are. */
static bool writing;
/* Which 4096 ports of `written`, and which of lr_gate_connect's 2 pages,
 * were ever written with something other than zero: a run of "pass" need
 * not look at ports still zero (a read would map their page). Owned by
 * the thread publishing rules, as the gates are. */
static uint16_t bind_dirty;
static uint8_t connect_dirty;
/* Whether lr_gate_send_mask says level "all" (same owner): it is in .data,
 * written only when this changes. */
static bool send_mask_all;

enum {
	BIND_PAGE_SHIFT = 12,	       /* 4096 ports: about a page of `written` */
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
			if (!clean && atomic_load_explicit(&written.code[port], memory_order_relaxed) == code)
				continue;
			atomic_store_explicit(&written.code[port], p->narrow ? LR_GATE_FULL : code,
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

/* `written` made to say what the bind gate in force says (a table's, or
 * all_pass), then published in its place: a reload writes only it. */
static void take_over(void)
{
	const unsigned char *g = atomic_load_explicit(&lr_gate_bind_at, memory_order_relaxed);
	for (uint32_t k = 0; k < 256; k++)
		written.top[k] = (uint16_t)k;
	for (uint32_t hi = 0; hi < 256; hi++) {
		uint16_t block;
		memcpy(&block, g + 2 * hi, sizeof(block));
		const unsigned char *code = g + LR_GATE_TOP_BYTES + ((size_t)block << 8);
		for (uint32_t lo = 0; lo < 256; lo++)
			if (code[lo]) {
				atomic_store_explicit(&written.code[hi << 8 | lo], code[lo], memory_order_relaxed);
				bind_dirty |= (uint16_t)(1u << (hi << 8 >> BIND_PAGE_SHIFT));
			}
	}
	atomic_store_explicit(&lr_gate_bind_at, (const unsigned char *)&written, memory_order_release);
	writing = true;
}

/* The bind gate, as write_gate says: true when t's compiled one is now
 * read in place. */
static bool write_bind(const struct lr_table *t, bool narrow)
{
	struct pass p = { .narrow = narrow };
	if (!writing) {
		/* The first rules, with their gate compiled: read where it is. */
		if (!narrow && t && t->bind_gate) {
			atomic_store_explicit(&lr_gate_bind_at, (const unsigned char *)t->bind_gate,
					      memory_order_release);
			return true;
		}
		/* No rules at the first look: all_pass says so already. */
		if (!t)
			return false;
		take_over();
	}
	if (t)
		lr_bind_verdict_runs(t, bind_run, &p);
	else
		bind_run(&p, 0, 65536, LR_VERDICT_PASS);
	return false;
}

static bool write_gate(const struct lr_table *t, bool narrow)
{
	struct pass p = { .narrow = narrow };
	bool in_place = write_bind(t, narrow);
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
	return in_place;
}

void lr_gate_narrow(const struct lr_table *t)
{
	write_gate(t, true);
}

bool lr_gate_open(const struct lr_table *t)
{
	return write_gate(t, false);
}

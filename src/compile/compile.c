/* Rule file → table image (table.h): the port index of each op, the rules
 * in the form the call path reads, actions shared, strings gathered. Runs
 * outside the program only: in the `libreuse` command and its helper. */
#include "compile.h"
#include "verdicts.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Past this many candidate entries an op's index is not expanded per port
 * interval (pathological overlapping ranges would make it quadratic); the op
 * then keeps one interval holding all its rules, which is still correct. */
#define LR_INDEX_MAX_ENTRIES (1u << 20)

/* Resolves a string handle from lr_ruleset_strdup. */
static const char *arena_str(const struct lr_ruleset *rs, const char *handle)
{
	return lr_ruleset_str(rs, handle);
}

/* Matches every call of its op and port range, in every program. */
static bool rule_is_catchall(const struct lr_rule *r)
{
	return !r->has_addr && r->family == LR_FAM_ANY && r->proto == LR_PROTO_ANY && !r->program;
}

struct growbuf {
	uint32_t *v;
	size_t n, cap;
	bool failed;
};

static int grow_push(struct growbuf *g, uint32_t x)
{
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 64;
		uint32_t *v = realloc(g->v, cap * sizeof(*v));
		if (!v)
			return -1;
		g->v = v;
		g->cap = cap;
	}
	g->v[g->n++] = x;
	return 0;
}

/* One stable counting pass: src's positions into dst, by one byte of key. */
static void counting_pass(uint32_t *dst, const uint32_t *src, const uint16_t *key, size_t n,
			  unsigned shift)
{
	size_t at[256] = { 0 };
	for (size_t i = 0; i < n; i++)
		at[(key[src[i]] >> shift) & 255]++;
	for (size_t b = 0, sum = 0; b < 256; b++) {
		size_t c = at[b];
		at[b] = sum;
		sum += c;
	}
	for (size_t i = 0; i < n; i++)
		dst[at[(key[src[i]] >> shift) & 255]++] = src[i];
}

/* Positions 0..n-1 ordered by key[], stably (equal keys keep file order):
 * two counting passes of a byte each, instead of qsort's comparisons. */
static int sort_by_port(uint32_t *out, const uint16_t *key, size_t n)
{
	uint32_t *tmp = malloc((n + 1) * sizeof(*tmp));
	if (!tmp)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (uint32_t)i;
	counting_pass(tmp, out, key, n, 0);
	counting_pass(out, tmp, key, n, 8);
	free(tmp);
	return 0;
}

/* The first position in sorted v[0..n) holding a value >= x. */
static size_t lower_bound(const uint32_t *v, size_t n, uint32_t x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index arrays for one op, built in temporaries and copied into the table's
 * block afterwards. */
struct index_build {
	struct growbuf bound, off, cand;
	bool linear;
};

static void index_build_free(struct index_build *b)
{
	free(b->bound.v);
	free(b->off.v);
	free(b->cand.v);
}

static int build_linear(struct index_build *b, const struct lr_rule *const *rules,
			const uint32_t *members, size_t nmembers)
{
	b->bound.n = b->off.n = b->cand.n = 0;
	b->linear = true;
	if (grow_push(&b->bound, 0) || grow_push(&b->off, 0))
		return -1;
	for (size_t i = 0; i < nmembers; i++) {
		if (grow_push(&b->cand, members[i]))
			return -1;
		if (rule_is_catchall(rules[members[i]]))
			break;
	}
	return grow_push(&b->off, (uint32_t)b->cand.n);
}

/* Sweeps the port space once: at each boundary rules end and start, and the
 * interval's list is the active set in file order. members are rule indices
 * in file order. */
static int build_index(struct index_build *b, const struct lr_rule *const *rules,
		       const uint32_t *members, size_t nmembers)
{
	memset(b, 0, sizeof(*b));
	if (nmembers == 0)
		return 0;
	/* Members by first port and by last port; their positions are their
	 * file order, so the active set can be kept sorted by position. */
	uint16_t *lo = malloc(nmembers * sizeof(*lo));
	uint16_t *hi = malloc(nmembers * sizeof(*hi));
	uint32_t *starts = malloc(nmembers * sizeof(*starts));
	uint32_t *ends = malloc(nmembers * sizeof(*ends));
	uint32_t *active = malloc(nmembers * sizeof(*active));
	int rc = -1;
	if (!lo || !hi || !starts || !ends || !active)
		goto out;
	for (size_t i = 0; i < nmembers; i++) {
		lo[i] = rules[members[i]]->port_lo;
		hi[i] = rules[members[i]]->port_hi;
	}
	if (sort_by_port(starts, lo, nmembers) || sort_by_port(ends, hi, nmembers))
		goto out;

	/* The boundaries, in order: port 0, every first port, every last port
	 * + 1 (the two sorted lists merged). */
	size_t nactive = 0, si = 0, ei = 0;
	uint32_t at = 0;
	for (;;) {
		while (ei < nmembers && (uint32_t)hi[ends[ei]] + 1 <= at) {
			size_t k = lower_bound(active, nactive, ends[ei++]);
			memmove(active + k, active + k + 1, (nactive - k - 1) * sizeof(*active));
			nactive--;
		}
		while (si < nmembers && lo[starts[si]] == at) {
			uint32_t pos = starts[si++];
			size_t k = lower_bound(active, nactive, pos);
			memmove(active + k + 1, active + k, (nactive - k) * sizeof(*active));
			active[k] = pos;
			nactive++;
		}
		if (grow_push(&b->bound, at) || grow_push(&b->off, (uint32_t)b->cand.n))
			goto out;
		for (size_t i = 0; i < nactive; i++) {
			uint32_t ri = members[active[i]];
			if (grow_push(&b->cand, ri))
				goto out;
			if (rule_is_catchall(rules[ri]))
				break;
		}
		if (b->cand.n > LR_INDEX_MAX_ENTRIES) {
			rc = build_linear(b, rules, members, nmembers);
			goto out;
		}
		/* The next boundary: the nearest start or end after `at` (every
		 * start at or before it, every end at or before it, is consumed). */
		uint32_t next = 65536;
		if (si < nmembers)
			next = lo[starts[si]];
		if (ei < nmembers && (uint32_t)hi[ends[ei]] + 1 < next)
			next = (uint32_t)hi[ends[ei]] + 1;
		if (next >= 65536)
			break;
		at = next;
	}
	rc = grow_push(&b->off, (uint32_t)b->cand.n);
out:
	free(lo);
	free(hi);
	free(starts);
	free(ends);
	free(active);
	return rc;
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Field by field into zeroed memory: padding and the parts a rule does not
 * use stay zero, so equal actions are equal byte for byte. */
static void endpoint_copy(struct lr_endpoint *to, const struct lr_endpoint *from)
{
	to->has_addr = from->has_addr;
	to->has_port = from->has_port;
	if (from->has_port)
		to->port = from->port;
	if (from->has_addr) {
		to->addr.family = from->addr.family;
		memcpy(to->addr.bytes, from->addr.bytes, sizeof(to->addr.bytes));
	}
}

/* The rule's action with everything it does not use zeroed, padding too, so
 * that equal actions are equal byte for byte. */
static void action_of(struct lr_action *a, const struct lr_rule *r)
{
	const struct lr_action *from = &r->action;
	memset(a, 0, sizeof(*a));
	a->reuseaddr = from->reuseaddr;
	a->reuseport = from->reuseport;
	a->force = from->force;
	a->dry_run = from->dry_run;
	a->has_rewrite = from->has_rewrite;
	a->has_source = from->has_source;
	a->log_level = from->log_level;
	a->deny = from->deny;
	a->retry_ms = from->retry_ms;
	a->keep = from->keep;
	a->keep_name = from->keep_name; /* an arena handle until laid out */
	if (from->has_rewrite)
		endpoint_copy(&a->rewrite, &from->rewrite);
	if (from->has_source)
		endpoint_copy(&a->source, &from->source);
}

/* A word at a time: every rule's action is hashed once per load. */
static uint32_t hash_action(const struct lr_action *a)
{
	uint64_t h = 0x9e3779b97f4a7c15u;
	const unsigned char *b = (const unsigned char *)a;
	size_t i = 0;
	for (; i + 8 <= sizeof(*a); i += 8) {
		uint64_t w;
		memcpy(&w, b + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdu;
	}
	for (; i < sizeof(*a); i++)
		h = (h ^ b[i]) * 0xc4ceb9fe1a85ec53u;
	return (uint32_t)(h ^ h >> 32);
}

/* The compact form of the rules that apply: entries, their actions with
 * duplicates shared, and the address blocks of the rules that have one. */
struct compact {
	struct lr_entry *entries;
	struct lr_action *actions;
	struct lr_cidr *cidrs;
	size_t nactions, ncidrs;
};

static int compact_rules(struct compact *k, const struct lr_rule *const *rules, size_t n)
{
	memset(k, 0, sizeof(*k));
	size_t nslots = 16;
	while (nslots < 2 * n)
		nslots *= 2;
	uint32_t *slots = malloc(nslots * sizeof(*slots));
	k->entries = malloc((n + 1) * sizeof(*k->entries));
	k->actions = malloc((n + 1) * sizeof(*k->actions));
	k->cidrs = malloc((n + 1) * sizeof(*k->cidrs));
	if (!slots || !k->entries || !k->actions || !k->cidrs) {
		free(slots);
		return -1;
	}
	memset(slots, 0xff, nslots * sizeof(*slots));
	for (size_t i = 0; i < n; i++) {
		const struct lr_rule *r = rules[i];
		struct lr_entry *e = &k->entries[i];
		memset(e, 0, sizeof(*e));
		e->port_lo = r->port_lo;
		e->port_hi = r->port_hi;
		e->proto = r->proto;
		e->family = r->family;
		e->index = (uint32_t)r->index;
		if (r->has_addr) {
			k->cidrs[k->ncidrs] = r->addr;
			e->cidr = (uint32_t)++k->ncidrs;
		}
		struct lr_action *a = &k->actions[k->nactions];
		action_of(a, r);
		size_t at = hash_action(a) & (nslots - 1);
		while (slots[at] != UINT32_MAX &&
		       memcmp(&k->actions[slots[at]], a, sizeof(*a)) != 0)
			at = (at + 1) & (nslots - 1);
		if (slots[at] == UINT32_MAX)
			slots[at] = (uint32_t)k->nactions++;
		e->action = slots[at];
	}
	free(slots);
	return 0;
}

static void compact_free(struct compact *k)
{
	free(k->entries);
	free(k->actions);
	free(k->cidrs);
}

/* The table's strings: handles are offset + 1, as in the ruleset's arena. */
struct strbuf {
	char *v;
	size_t n, cap;
	bool failed;
};

static uint32_t str_add(struct strbuf *b, const char *s)
{
	if (!s)
		return 0;
	size_t len = strlen(s) + 1;
	if (b->n + len > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + len)
			cap *= 2;
		char *v = realloc(b->v, cap);
		if (!v) {
			b->failed = true;
			return 0;
		}
		b->v = v;
		b->cap = cap;
	}
	memcpy(b->v + b->n, s, len);
	b->n += len;
	return (uint32_t)(b->n - len + 1);
}

/* Distinct program globs, numbered from 1 in order of first use; a rule's
 * glob is found by hash, so 10,000 rules naming a few programs cost no
 * quadratic search. */
struct progs {
	struct lr_tf_prog *v;
	const char **glob; /* the arena's, for comparing */
	size_t n;
	uint32_t *slots; /* 1 + index, 0: empty */
	size_t nslots;
};

static uint32_t prog_id(struct progs *p, struct strbuf *strs, const char *glob)
{
	size_t at = lr_text_hash(glob, 0) & (p->nslots - 1);
	while (p->slots[at] && strcmp(p->glob[p->slots[at] - 1], glob) != 0)
		at = (at + 1) & (p->nslots - 1);
	if (!p->slots[at]) {
		p->glob[p->n] = glob;
		p->v[p->n] = (struct lr_tf_prog){ .glob = str_add(strs, glob), .max_level = -1 };
		p->slots[at] = (uint32_t)++p->n;
	}
	return p->slots[at];
}

/* Adjacent runs of one verdict merged: "port << 8 | verdict" each. */
static void collect_run(void *ctx, uint32_t from, uint32_t to, uint8_t v)
{
	struct growbuf *g = ctx;
	(void)to;
	if (g->failed || (g->n && (uint8_t)g->v[g->n - 1] == v))
		return;
	if (grow_push(g, from << 8 | v) != 0)
		g->failed = true;
}

/* The bind gate in verdicts.h's layout, from the runs: each distinct
 * block of 256 ports once. Returns the number of blocks written to out
 * (room for 256), with code as scratch (65536 bytes). */
static uint32_t gate_of(const struct growbuf *runs, uint8_t *code, uint8_t *out)
{
	for (size_t i = 0; i < runs->n; i++) {
		uint32_t from = runs->v[i] >> 8, to = i + 1 < runs->n ? runs->v[i + 1] >> 8 : 65536;
		memset(code + from, lr_gate_code((uint8_t)runs->v[i]), to - from);
	}
	uint16_t top[256];
	uint8_t *blocks = out + LR_GATE_TOP_BYTES;
	uint32_t n = 0;
	for (uint32_t hi = 0; hi < 256; hi++) {
		const uint8_t *b = code + (hi << 8);
		uint32_t k = 0;
		while (k < n && memcmp(blocks + k * 256, b, 256) != 0)
			k++;
		if (k == n)
			memcpy(blocks + n++ * 256, b, 256);
		top[hi] = (uint16_t)k;
	}
	memcpy(out, top, sizeof(top));
	return n;
}

/* The bind gate for a program no glob names, appended to the image: what
 * the library would work out at every load from every interval's rules,
 * worked out once here, as runs (what a reload writes) and as a gate the
 * first load reads in place. */
static int add_bind_gate(char **image, size_t *len)
{
	struct lr_table view;
	const char *why;
	if (lr_table_open(&view, *image, *len, lr_table_no_program, NULL, NULL, &why) != 0)
		return -1;
	struct growbuf runs = { 0 };
	lr_bind_verdict_runs(&view, collect_run, &runs);
	lr_table_close(&view);
	uint8_t *code = malloc(65536), *gate = malloc(lr_gate_bytes(256));
	uint32_t nblocks = runs.failed || !code || !gate ? 0 : gate_of(&runs, code, gate);
	free(code);
	/* The gate 64-byte aligned: its blocks begin cache lines. */
	size_t at = (*len + 3) & ~(size_t)3, gate_at = (at + (1 + runs.n) * sizeof(uint32_t) + 63) & ~(size_t)63,
	       size = gate_at + lr_gate_bytes(nblocks);
	char *b = !nblocks || size > LR_TABLE_MAX_BYTES ? NULL : realloc(*image, size);
	if (!b) {
		free(runs.v);
		free(gate);
		return -1;
	}
	memset(b + *len, 0, gate_at - *len);
	uint32_t n = (uint32_t)runs.n;
	memcpy(b + at, &n, sizeof(n));
	memcpy(b + at + sizeof(n), runs.v, runs.n * sizeof(uint32_t));
	memcpy(b + gate_at, gate, lr_gate_bytes(nblocks));
	free(runs.v);
	free(gate);
	struct lr_tf_header *h = (struct lr_tf_header *)b;
	h->index[0].runs_at = (uint32_t)at;
	h->index[0].gate_at = (uint32_t)gate_at;
	h->index[0].gate_blocks = nblocks;
	h->total_size = (uint32_t)size;
	*image = b;
	*len = size;
	return 0;
}

int lr_table_build(const struct lr_ruleset *rs, const struct lr_build_info *info, void **image,
		   size_t *len)
{
	int rc = -1;
	size_t n = rs->nrules;
	struct index_build ib[LR_OPS];
	memset(ib, 0, sizeof(ib));
	struct compact k;
	memset(&k, 0, sizeof(k));
	struct strbuf strs = { 0 };
	struct progs pg = { 0 };
	uint32_t *members = malloc((n + 1) * sizeof(*members));
	const struct lr_rule **rules = malloc((n + 1) * sizeof(*rules));
	pg.nslots = 16;
	while (pg.nslots < 2 * n)
		pg.nslots *= 2;
	pg.v = malloc((n + 1) * sizeof(*pg.v));
	pg.glob = malloc((n + 1) * sizeof(*pg.glob));
	pg.slots = calloc(pg.nslots, sizeof(*pg.slots));
	if (!members || !rules || !pg.v || !pg.glob || !pg.slots)
		goto out;
	for (size_t i = 0; i < n; i++)
		rules[i] = &rs->rules[i];
	for (int op = 0; op < LR_OPS; op++) {
		size_t m = 0;
		uint8_t bit = lr_op_of_slot(op);
		for (size_t i = 0; i < n; i++)
			if (rules[i]->op & bit)
				members[m++] = (uint32_t)i;
		if (build_index(&ib[op], rules, members, m) != 0)
			goto out;
	}
	if (compact_rules(&k, rules, n) != 0)
		goto out;

	struct lr_tf_header h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, LR_TABLE_MAGIC, sizeof(h.magic));
	h.version = LR_TABLE_VERSION;
	h.header_size = sizeof(h);
	h.flags = (rs->dry_run ? LR_TF_DRY_RUN : 0) | (rs->keep_all ? LR_TF_KEEP_ALL : 0) |
		  (rs->io_uring_refuse ? LR_TF_IO_URING_REFUSE : 0);
	h.level = (uint8_t)rs->log.level;
	h.target = (uint8_t)rs->log.target;
	h.format = (uint8_t)rs->log.format;
	h.facility = (uint32_t)rs->log.facility;
	h.max_level = -1;
	h.log_path = str_add(&strs, arena_str(rs, rs->log.path));
	h.notes = info && info->notes && info->notes[0] ? str_add(&strs, info->notes) : 0;
	h.inline_hash = info ? info->inline_hash : 0;
	/* Each rule's program, and what the rules of each program add. */
	for (size_t i = 0; i < n; i++) {
		const char *glob = arena_str(rs, rules[i]->program);
		int lvl = k.actions[k.entries[i].action].log_level;
		if (!glob) {
			h.ops |= rules[i]->op;
			if (lvl > h.max_level)
				h.max_level = (int8_t)lvl;
			continue;
		}
		uint32_t id = prog_id(&pg, &strs, glob);
		k.entries[i].prog = id;
		pg.v[id - 1].ops |= rules[i]->op;
		if (lvl > pg.v[id - 1].max_level)
			pg.v[id - 1].max_level = (int8_t)lvl;
	}
	for (size_t i = 0; i < k.nactions; i++)
		k.actions[i].keep_name =
			str_add(&strs, arena_str(rs, (const char *)(uintptr_t)k.actions[i].keep_name));
	struct lr_tf_source *srcs = malloc((rs->nsources + 1) * sizeof(*srcs));
	if (!srcs)
		goto out;
	for (size_t i = 0; i < rs->nsources; i++) {
		const struct lr_source_id *s = &rs->sources[i];
		srcs[i] = (struct lr_tf_source){ .dev = s->dev, .ino = s->ino, .size = s->size,
						 .mtime_sec = s->mtime_sec, .mtime_nsec = s->mtime_nsec,
						 .path = str_add(&strs, arena_str(rs, s->path)) };
	}
	if (strs.failed) {
		free(srcs);
		goto out;
	}

	size_t size = align8(sizeof(h));
	h.rules_at = (uint32_t)size;
	size += align8(n * sizeof(struct lr_entry));
	h.actions_at = (uint32_t)size;
	size += align8(k.nactions * sizeof(struct lr_action));
	h.cidrs_at = (uint32_t)size;
	size += align8(k.ncidrs * sizeof(struct lr_cidr));
	h.progs_at = (uint32_t)size;
	size += align8(pg.n * sizeof(struct lr_tf_prog));
	h.sources_at = (uint32_t)size;
	size += align8(rs->nsources * sizeof(struct lr_tf_source));
	for (int op = 0; op < LR_OPS; op++) {
		struct lr_tf_index *x = &h.index[op];
		x->nintervals = (uint32_t)ib[op].bound.n;
		x->linear = ib[op].linear;
		/* 32-bit arrays first, then the 16-bit ones: each stays aligned. */
		x->off_at = (uint32_t)size;
		x->noff = (uint32_t)ib[op].off.n;
		size += ib[op].off.n * sizeof(uint32_t);
		x->cand_at = (uint32_t)size;
		x->ncand = (uint32_t)ib[op].cand.n;
		size += ib[op].cand.n * sizeof(uint32_t);
		x->bound_at = (uint32_t)size;
		size += ib[op].bound.n * sizeof(uint16_t);
		if (ib[op].bound.n > LR_BLOCKS_FROM) {
			x->block_at = (uint32_t)size;
			size += (LR_BLOCKS + 1) * sizeof(uint16_t);
		}
		size = align8(size);
		if (h.ops & lr_op_of_slot(op)) {
			x->map_at = (uint32_t)size;
			size += 1024 * sizeof(uint64_t);
		}
	}
	h.strings_at = (uint32_t)size;
	h.strings_len = (uint32_t)strs.n;
	size += strs.n;
	h.nrules = (uint32_t)n;
	h.nactions = (uint32_t)k.nactions;
	h.ncidrs = (uint32_t)k.ncidrs;
	h.nprogs = (uint32_t)pg.n;
	h.nsources = (uint32_t)rs->nsources;
	if (size > LR_TABLE_MAX_BYTES) {
		free(srcs);
		goto out;
	}
	h.total_size = (uint32_t)size;

	char *b = calloc(1, size);
	if (!b) {
		free(srcs);
		goto out;
	}
	memcpy(b, &h, sizeof(h));
	if (n)
		memcpy(b + h.rules_at, k.entries, n * sizeof(struct lr_entry));
	if (k.nactions)
		memcpy(b + h.actions_at, k.actions, k.nactions * sizeof(struct lr_action));
	if (k.ncidrs)
		memcpy(b + h.cidrs_at, k.cidrs, k.ncidrs * sizeof(struct lr_cidr));
	if (pg.n)
		memcpy(b + h.progs_at, pg.v, pg.n * sizeof(struct lr_tf_prog));
	if (rs->nsources)
		memcpy(b + h.sources_at, srcs, rs->nsources * sizeof(struct lr_tf_source));
	free(srcs);
	for (int op = 0; op < LR_OPS; op++) {
		const struct lr_tf_index *x = &h.index[op];
		if (x->noff)
			memcpy(b + x->off_at, ib[op].off.v, x->noff * sizeof(uint32_t));
		if (x->ncand)
			memcpy(b + x->cand_at, ib[op].cand.v, x->ncand * sizeof(uint32_t));
		uint16_t *bound = (uint16_t *)(b + x->bound_at);
		for (size_t i = 0; i < x->nintervals; i++)
			bound[i] = (uint16_t)ib[op].bound.v[i];
		if (x->map_at) {
			/* Ports covered by rules naming no program: a difference
			 * array over the ranges, then one pass. */
			int32_t *delta = calloc(65537, sizeof(*delta));
			if (!delta) {
				free(b);
				goto out;
			}
			uint8_t bit = lr_op_of_slot(op);
			for (size_t i = 0; i < n; i++)
				if ((rules[i]->op & bit) && !rules[i]->program) {
					delta[rules[i]->port_lo]++;
					delta[rules[i]->port_hi + 1]--;
				}
			uint64_t *map = (uint64_t *)(b + x->map_at);
			int32_t depth = 0;
			for (uint32_t port = 0; port < 65536; port++) {
				depth += delta[port];
				if (depth > 0)
					map[port >> 6] |= 1ull << (port & 63);
			}
			free(delta);
		}
		if (!x->block_at)
			continue;
		uint16_t *block = (uint16_t *)(b + x->block_at);
		uint32_t i = 0;
		for (uint32_t blk = 0; blk < LR_BLOCKS; blk++) {
			uint32_t port = blk << LR_BLOCK_SHIFT;
			while (i + 1 < x->nintervals && bound[i + 1] <= port)
				i++;
			block[blk] = (uint16_t)i;
		}
		block[LR_BLOCKS] = (uint16_t)(x->nintervals - 1);
	}
	if (strs.n)
		memcpy(b + h.strings_at, strs.v, strs.n);
	if (add_bind_gate(&b, &size) != 0) {
		free(b);
		goto out;
	}
	*image = b;
	*len = size;
	rc = 0;
out:
	for (int op = 0; op < LR_OPS; op++)
		index_build_free(&ib[op]);
	compact_free(&k);
	free(members);
	free(rules);
	free(strs.v);
	free(pg.v);
	free(pg.glob);
	free(pg.slots);
	return rc;
}

struct lr_table *lr_table_compile(const struct lr_ruleset *rs, const char *exe,
				  const char *argv0)
{
	void *image;
	size_t len;
	struct lr_table *t = malloc(sizeof(*t));
	if (!t || lr_table_build(rs, NULL, &image, &len) != 0) {
		free(t);
		return NULL;
	}
	const char *why;
	if (lr_table_open(t, image, len, exe, argv0, lr_table_release_malloced, &why) != 0) {
		free(image);
		free(t);
		return NULL;
	}
	return t;
}

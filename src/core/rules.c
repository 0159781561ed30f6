#include "rules.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Past this many candidate entries an op's index is not expanded per port
 * interval (pathological overlapping ranges would make it quadratic); the op
 * then keeps one interval holding all its rules, which is still correct. */
#define LR_INDEX_MAX_ENTRIES (1u << 20)

void lr_ruleset_init(struct lr_ruleset *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->log.level = LR_LOG_CONFLICTS;
	rs->log.target = LR_TARGET_STDERR;
	rs->log.format = LR_FORMAT_TEXT;
	rs->log.facility = 1 << 3; /* LOG_USER, without dragging in syslog.h */
}

void lr_ruleset_free(struct lr_ruleset *rs)
{
	free(rs->rules);
	free(rs->strings);
	memset(rs, 0, sizeof(*rs));
}

static void rule_defaults(struct lr_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->op = LR_OP_BIND;
	r->proto = LR_PROTO_ANY;
	r->family = LR_FAM_ANY;
	r->port_lo = 0;
	r->port_hi = 65535;
	r->action.log_level = -1;
}

int lr_ruleset_reserve(struct lr_ruleset *rs, size_t more)
{
	if (more > SIZE_MAX / sizeof(struct lr_rule) - rs->nrules)
		return -1;
	size_t cap = rs->nrules + more;
	if (cap <= rs->cap)
		return 0;
	struct lr_rule *n = realloc(rs->rules, cap * sizeof(*n));
	if (!n)
		return -1;
	rs->rules = n;
	rs->cap = cap;
	return 0;
}

struct lr_rule *lr_ruleset_add(struct lr_ruleset *rs)
{
	if (rs->nrules == rs->cap && lr_ruleset_reserve(rs, rs->cap ? rs->cap : 16) != 0)
		return NULL;
	struct lr_rule *r = &rs->rules[rs->nrules];
	rule_defaults(r);
	r->index = (int)rs->nrules++;
	return r;
}

/* Strings are kept as offsets until the arena stops moving, then turned into
 * pointers by the compiler; here they are stored as (arena offset + 1). */
const char *lr_ruleset_strdup(struct lr_ruleset *rs, const char *s)
{
	size_t n = strlen(s) + 1;
	if (rs->strings_len + n > rs->strings_cap) {
		size_t cap = rs->strings_cap ? rs->strings_cap : 256;
		while (cap < rs->strings_len + n)
			cap *= 2;
		char *p = realloc(rs->strings, cap);
		if (!p)
			return NULL;
		rs->strings = p;
		rs->strings_cap = cap;
	}
	size_t off = rs->strings_len;
	memcpy(rs->strings + off, s, n);
	rs->strings_len += n;
	return (const char *)(uintptr_t)(off + 1);
}

/* Resolves a string handle from lr_ruleset_strdup against an arena. */
static const char *arena_str(const char *arena, const char *handle)
{
	return handle ? arena + ((uintptr_t)handle - 1) : NULL;
}

const char *lr_ruleset_str(const struct lr_ruleset *rs, const char *handle)
{
	return arena_str(rs->strings, handle);
}

bool lr_glob_match(const char *p, const char *s)
{
	/* Iterative: on a mismatch go back to just after the last '*' and let it
	 * swallow one more character. Linear space, no recursion. */
	const char *star_p = NULL, *star_s = NULL;
	while (*s) {
		if (*p == '*') {
			star_p = ++p;
			star_s = s;
			continue;
		}
		bool ok = false;
		const char *next = p + 1;
		if (*p == '?') {
			ok = true;
		} else if (*p == '[') {
			const char *q = p + 1;
			bool neg = (*q == '!' || *q == '^');
			bool in = false;
			if (neg)
				q++;
			const char *first = q;
			while (*q && (*q != ']' || q == first)) {
				if (q[1] == '-' && q[2] && q[2] != ']') {
					if ((unsigned char)*s >= (unsigned char)q[0] &&
					    (unsigned char)*s <= (unsigned char)q[2])
						in = true;
					q += 3;
				} else {
					if (*q == *s)
						in = true;
					q++;
				}
			}
			if (*q == ']') {
				ok = in != neg;
				next = q + 1;
			} else {
				ok = (*p == *s); /* unterminated: a literal '[' */
			}
		} else if (*p) {
			ok = (*p == *s);
		}
		if (ok) {
			p = next;
			s++;
		} else if (star_p) {
			p = star_p;
			s = ++star_s;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

static bool rule_is_catchall(const struct lr_rule *r)
{
	return !r->has_addr && r->family == LR_FAM_ANY && r->proto == LR_PROTO_ANY;
}

struct growbuf {
	uint32_t *v;
	size_t n, cap;
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

static bool applies_to(const char *glob, const char *exe, const char *argv0)
{
	if (!glob || (!exe && !argv0))
		return true;
	return (exe && lr_glob_match(glob, exe)) || (argv0 && lr_glob_match(glob, argv0));
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
	a->keep_name = from->keep_name; /* a handle: each named rule its own action */
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

struct lr_table *lr_table_compile(const struct lr_ruleset *rs, const char *exe,
				  const char *argv0)
{
	struct lr_table *t = NULL;
	struct index_build ib[2];
	memset(ib, 0, sizeof(ib));
	struct compact k;
	memset(&k, 0, sizeof(k));
	size_t n = 0;
	uint32_t *members = malloc((rs->nrules + 1) * sizeof(*members));
	/* The rules that apply to this program, by reference: the table's
	 * entry i is rules[i]. */
	const struct lr_rule **rules = malloc((rs->nrules + 1) * sizeof(*rules));
	if (!members || !rules)
		goto out;
	for (size_t i = 0; i < rs->nrules; i++) {
		if (applies_to(arena_str(rs->strings, rs->rules[i].program), exe, argv0))
			rules[n++] = &rs->rules[i];
	}
	for (int op = 0; op < 2; op++) {
		size_t m = 0;
		uint8_t bit = op == 0 ? LR_OP_BIND : LR_OP_CONNECT;
		for (size_t i = 0; i < n; i++)
			if (rules[i]->op & bit)
				members[m++] = (uint32_t)i;
		if (build_index(&ib[op], rules, members, m) != 0)
			goto out;
	}
	if (compact_rules(&k, rules, n) != 0)
		goto out;

	const char *path = arena_str(rs->strings, rs->log.path);
	size_t size = align8(sizeof(struct lr_table));
	size_t entries_at = size;
	size += align8(n * sizeof(struct lr_entry));
	size_t actions_at = size;
	size += align8(k.nactions * sizeof(struct lr_action));
	size_t cidrs_at = size;
	size += align8(k.ncidrs * sizeof(struct lr_cidr));
	size_t arrays_at[2];
	for (int op = 0; op < 2; op++) {
		arrays_at[op] = size;
		size += (ib[op].off.n + ib[op].cand.n) * sizeof(uint32_t);
		size += ib[op].bound.n * sizeof(uint16_t);
		if (ib[op].bound.n)
			size += (LR_BLOCKS + 1) * sizeof(uint16_t);
		size = align8(size);
	}
	size_t path_at = size;
	size += path ? strlen(path) + 1 : 0;
	size_t names_at = size;
	for (size_t i = 0; i < k.nactions; i++)
		if (k.actions[i].keep_name)
			size += strlen(arena_str(rs->strings, k.actions[i].keep_name)) + 1;

	char *block = calloc(1, size);
	if (!block)
		goto out;
	t = (struct lr_table *)block;
	t->block = block;
	t->block_size = size;
	t->log = rs->log;
	t->dry_run = rs->dry_run;
	t->keep_all = rs->keep_all;
	t->nrules = n;
	t->nactions = k.nactions;
	t->ncidrs = k.ncidrs;
	if (path) {
		strcpy(block + path_at, path);
		t->log.path = block + path_at;
	}
	t->rules = memcpy(block + entries_at, k.entries, n * sizeof(struct lr_entry));
	struct lr_action *acts = memcpy(block + actions_at, k.actions, k.nactions * sizeof(struct lr_action));
	for (size_t i = 0; i < k.nactions; i++) {
		if (!acts[i].keep_name)
			continue;
		const char *name = arena_str(rs->strings, acts[i].keep_name);
		size_t len = strlen(name) + 1;
		acts[i].keep_name = memcpy(block + names_at, name, len);
		names_at += len;
	}
	t->actions = acts;
	t->cidrs = memcpy(block + cidrs_at, k.cidrs, k.ncidrs * sizeof(struct lr_cidr));
	t->max_level = t->log.level;
	for (size_t i = 0; i < k.nactions; i++)
		if (k.actions[i].log_level > (int)t->max_level)
			t->max_level = (enum lr_level)k.actions[i].log_level;
	for (int op = 0; op < 2; op++) {
		struct lr_index *ix = &t->index[op];
		uint32_t *a = (uint32_t *)(block + arrays_at[op]);
		ix->nintervals = (uint32_t)ib[op].bound.n;
		ix->linear = ib[op].linear;
		/* 32-bit arrays first, then the 16-bit ones: each stays aligned. */
		ix->off = a;
		ix->cand = ix->off + ib[op].off.n;
		ix->bound = (uint16_t *)(ix->cand + ib[op].cand.n);
		if (ib[op].off.n)
			memcpy(ix->off, ib[op].off.v, ib[op].off.n * sizeof(uint32_t));
		if (ib[op].cand.n)
			memcpy(ix->cand, ib[op].cand.v, ib[op].cand.n * sizeof(uint32_t));
		for (size_t i = 0; i < ib[op].bound.n; i++)
			ix->bound[i] = (uint16_t)ib[op].bound.v[i];
		if (ix->nintervals) {
			ix->block = ix->bound + ib[op].bound.n;
			uint32_t i = 0;
			for (uint32_t b = 0; b < LR_BLOCKS; b++) {
				uint32_t port = b << LR_BLOCK_SHIFT;
				while (i + 1 < ix->nintervals && ix->bound[i + 1] <= port)
					i++;
				ix->block[b] = (uint16_t)i;
			}
			ix->block[LR_BLOCKS] = (uint16_t)(ix->nintervals - 1);
		}
	}
out:
	index_build_free(&ib[0]);
	index_build_free(&ib[1]);
	compact_free(&k);
	free(members);
	free(rules);
	return t;
}

void lr_table_free(struct lr_table *t)
{
	if (t)
		free(t->block);
}

static bool rule_matches(const struct lr_table *t, const struct lr_entry *r,
			 const struct lr_call *c)
{
	/* The port is checked again: in a linear index (see build_linear) the
	 * interval says nothing about it. */
	if (!(r->proto & c->proto) || c->port < r->port_lo || c->port > r->port_hi)
		return false;
	uint8_t fam = c->addr.family == AF_INET ? LR_FAM_V4 : LR_FAM_V6;
	if (!(r->family & fam))
		return false;
	return !r->cidr || lr_cidr_match(&t->cidrs[r->cidr - 1], &c->addr);
}

const struct lr_entry *lr_table_match(const struct lr_table *t, const struct lr_call *c)
{
	const struct lr_index *ix = &t->index[c->op == LR_OP_CONNECT];
	if (ix->nintervals == 0)
		return NULL;
	/* The last interval starting at or below the port: between the
	 * intervals holding the first port of its block and of the next. */
	uint32_t b = c->port >> LR_BLOCK_SHIFT;
	uint32_t lo = ix->block[b], hi = ix->block[b + 1] + 1;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (ix->bound[mid] <= c->port)
			lo = mid;
		else
			hi = mid;
	}
	for (uint32_t k = ix->off[lo]; k < ix->off[lo + 1]; k++) {
		const struct lr_entry *r = &t->rules[ix->cand[k]];
		if (rule_matches(t, r, c))
			return r;
	}
	return NULL;
}

/* Opening a table image for one program, and the lookup the call path
 * makes in it. Runs inside the program: nothing here parses text, and
 * nothing trusts an offset before it was checked against the image. */
#include "table.h"
#include "verdicts.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

_Static_assert(sizeof(struct lr_tf_header) == 248, "the header's layout is the format");
_Static_assert(sizeof(struct lr_tf_source) == 40, "32- and 64-bit readers agree");
_Static_assert(sizeof(struct lr_tf_prog) == 8, "32- and 64-bit readers agree");
_Static_assert(sizeof(struct lr_entry) == 24, "32- and 64-bit readers agree");
_Static_assert(sizeof(struct lr_action) == 68, "32- and 64-bit readers agree");
_Static_assert(sizeof(struct lr_cidr) == 18, "32- and 64-bit readers agree");

/* The port map of an op no rule names: read-only, shared by every table. */
static const uint64_t no_ports[1024];

uint64_t lr_text_hash(const char *s, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325u ^ seed;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3u;
	return h ? h : 1;
}

const char lr_table_no_program[] = "";

static bool applies_to(const char *glob, const char *exe, const char *argv0)
{
	if (exe == lr_table_no_program)
		return false;
	if (!exe && !argv0)
		return true;
	return (exe && lr_glob_match(glob, exe)) || (argv0 && lr_glob_match(glob, argv0));
}

/* [at, at + count * size) lies inside the image, at an aligned offset. */
static bool inside(const struct lr_tf_header *h, uint32_t at, uint64_t count, size_t size,
		   size_t align)
{
	return at >= h->header_size && at % align == 0 && count * size <= h->total_size &&
	       at <= h->total_size - count * size;
}

static bool handle_ok(const struct lr_tf_header *h, uint32_t handle)
{
	return handle <= h->strings_len;
}

/* An action's flags are bools in the image: a byte other than 0 or 1 is no
 * value of the type, and reading it as one is undefined. Looked at as
 * bytes, before anything reads them as bools. */
static bool action_ok(const struct lr_action *action, uint32_t strings_len)
{
	static const size_t flags[] = {
		offsetof(struct lr_action, reuseaddr),	 offsetof(struct lr_action, reuseport),
		offsetof(struct lr_action, force),	 offsetof(struct lr_action, dry_run),
		offsetof(struct lr_action, has_rewrite), offsetof(struct lr_action, has_source),
		offsetof(struct lr_action, keep),
		offsetof(struct lr_action, rewrite) + offsetof(struct lr_endpoint, has_addr),
		offsetof(struct lr_action, rewrite) + offsetof(struct lr_endpoint, has_port),
		offsetof(struct lr_action, source) + offsetof(struct lr_endpoint, has_addr),
		offsetof(struct lr_action, source) + offsetof(struct lr_endpoint, has_port),
	};
	const unsigned char *bytes = (const unsigned char *)action;
	unsigned char any = 0;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		any |= bytes[flags[i]];
	return any <= 1 && action->keep_name <= strings_len && action->log_level <= LR_LOG_ALL;
}

/* A prefix longer than its family's address would be compared past it
 * (lr_cidr_match). */
static bool cidr_ok(const struct lr_cidr *c)
{
	return c->prefix <= (c->addr.family == AF_INET ? 32 : c->addr.family == AF_INET6 ? 128 : -1);
}

/* What must hold before anything reads the image at all: the header, the
 * bounds of every section and index (so that a record's offset, once its
 * index is checked, lies inside), the strings' end, the programs and
 * sources (read whole at open), and the bind runs (walked whole at load).
 * Constant work but for the programs, the sources and the runs, however
 * many rules: what each rule, action, address block and candidate holds
 * is checked by check_records, or where a lookup first reaches it. */
static const char *check_header(const struct lr_tf_header *h, size_t len)
{
	if (len < sizeof(*h) || memcmp(h->magic, LR_TABLE_MAGIC, sizeof(h->magic)) != 0)
		return "not a libreuse table";
	if (h->version != LR_TABLE_VERSION || h->header_size != sizeof(*h))
		return "a table of another libreuse version";
	if (h->total_size != len)
		return "truncated table";
	const char *b = (const char *)h;
	if (!inside(h, h->rules_at, h->nrules, sizeof(struct lr_entry), 4) ||
	    !inside(h, h->actions_at, h->nactions, sizeof(struct lr_action), 4) ||
	    !inside(h, h->cidrs_at, h->ncidrs, sizeof(struct lr_cidr), 1) ||
	    !inside(h, h->progs_at, h->nprogs, sizeof(struct lr_tf_prog), 4) ||
	    !inside(h, h->sources_at, h->nsources, sizeof(struct lr_tf_source), 8) ||
	    !inside(h, h->strings_at, h->strings_len, 1, 1))
		return "an array lies outside the table";
	/* Strings end inside their section, so none can run off its end. */
	if (h->strings_len && b[h->strings_at + h->strings_len - 1] != '\0')
		return "unterminated strings";
	if (!handle_ok(h, h->log_path) || !handle_ok(h, h->notes) || h->level > LR_LOG_ALL ||
	    h->target > LR_TARGET_JOURNAL || h->format > LR_FORMAT_JSON)
		return "bad log settings";
	const struct lr_tf_prog *p = (const struct lr_tf_prog *)(b + h->progs_at);
	for (uint32_t i = 0; i < h->nprogs; i++)
		if (!p[i].glob || !handle_ok(h, p[i].glob))
			return "a program points outside the table";
	const struct lr_tf_source *s = (const struct lr_tf_source *)(b + h->sources_at);
	for (uint32_t i = 0; i < h->nsources; i++)
		if (!s[i].path || !handle_ok(h, s[i].path))
			return "a source points outside the table";
	const struct lr_tf_index *bx = &h->index[0];
	if (bx->runs_at) {
		if (!inside(h, bx->runs_at, 1, 4, 4))
			return "the bind runs lie outside the table";
		const uint32_t *runs = (const uint32_t *)(b + bx->runs_at);
		if (runs[0] == 0 || runs[0] > 65536 || !inside(h, bx->runs_at + 4, runs[0], 4, 4))
			return "the bind runs lie outside the table";
		for (uint32_t i = 1; i <= runs[0]; i++)
			if (i == 1 ? runs[1] >> 8 != 0 : runs[i] >> 8 <= runs[i - 1] >> 8 || runs[i] >> 8 > 65535)
				return "the bind runs are out of order";
		/* The gate a hook reads in place: every block it names inside. */
		if (bx->gate_blocks == 0 || bx->gate_blocks > 256 || bx->gate_at % 64 ||
		    !inside(h, bx->gate_at, lr_gate_bytes(bx->gate_blocks), 1, 1))
			return "the bind gate lies outside the table";
		const uint16_t *top = (const uint16_t *)(b + bx->gate_at);
		for (uint32_t i = 0; i < 256; i++)
			if (top[i] >= bx->gate_blocks)
				return "the bind gate points outside itself";
	} else if (bx->gate_at || bx->gate_blocks) {
		return "a bind gate without its runs";
	}
	for (int op = 0; op < LR_OPS; op++) {
		const struct lr_tf_index *x = &h->index[op];
		if (op && (x->runs_at || x->gate_at || x->gate_blocks))
			return "runs where there are none";
		if (x->map_at && !inside(h, x->map_at, 1024, 8, 8))
			return "a port map lies outside the table";
		if (!x->nintervals)
			continue;
		if (x->nintervals > 65536 || x->noff != x->nintervals + 1 ||
		    !inside(h, x->off_at, x->noff, 4, 4) || !inside(h, x->cand_at, x->ncand, 4, 4) ||
		    !inside(h, x->bound_at, x->nintervals, 2, 2) ||
		    (x->block_at && !inside(h, x->block_at, LR_BLOCKS + 1, 2, 2)))
			return "an index lies outside the table";
	}
	return NULL;
}

/* What every rule, action, address block and index entry holds: read
 * whole by whatever walks every interval (the gate's runs worked out at
 * load, lr_table_port_runs without a port map), so checked whole before
 * such a walk. The lookup checks what it reaches itself (entry_ok). */
static const char *check_records(const struct lr_tf_header *h)
{
	const char *b = (const char *)h;
	/* The loops over what grows with the rules gather a verdict without a
	 * branch, so that the compiler makes vector code of them. */
	const struct lr_entry *e = (const struct lr_entry *)(b + h->rules_at);
	bool bad = false;
	for (uint32_t i = 0; i < h->nrules; i++)
		bad |= (e[i].action >= h->nactions) | (e[i].cidr > h->ncidrs) | (e[i].prog > h->nprogs) |
		       (e[i].port_lo > e[i].port_hi);
	if (bad)
		return "a rule points outside the table";
	for (uint32_t i = 0; i < h->ncidrs; i++) {
		struct lr_cidr c;
		memcpy(&c, b + h->cidrs_at + (size_t)i * sizeof(c), sizeof(c));
		if (!cidr_ok(&c))
			return "an address block is malformed";
	}
	const struct lr_action *a = (const struct lr_action *)(b + h->actions_at);
	for (uint32_t i = 0; i < h->nactions; i++)
		if (!action_ok(&a[i], h->strings_len))
			return "an action points outside the table";
	for (int op = 0; op < LR_OPS; op++) {
		const struct lr_tf_index *x = &h->index[op];
		if (!x->nintervals)
			continue;
		const uint32_t *off = (const uint32_t *)(b + x->off_at);
		const uint32_t *cand = (const uint32_t *)(b + x->cand_at);
		const uint16_t *block = (const uint16_t *)(b + x->block_at);
		const uint16_t *bound = (const uint16_t *)(b + x->bound_at);
		bool order = bound[0] != 0;
		for (uint32_t i = 0; i < x->nintervals; i++)
			order |= off[i] > off[i + 1];
		for (uint32_t i = 1; i < x->nintervals; i++)
			order |= bound[i] <= bound[i - 1];
		if (order)
			return "an index is out of order";
		if (off[x->nintervals] > x->ncand)
			return "an index points outside the table";
		bool out = false;
		for (uint32_t i = 0; i < x->ncand; i++)
			out |= cand[i] >= h->nrules;
		if (x->block_at) {
			out |= block[0] >= x->nintervals;
			for (uint32_t i = 1; i <= LR_BLOCKS; i++)
				out |= (block[i] >= x->nintervals) | (block[i] < block[i - 1]);
		}
		if (out)
			return "an index points outside the table";
	}
	return NULL;
}

int lr_table_open(struct lr_table *t, const void *image, size_t len, const char *exe,
		  const char *argv0, void (*release)(void *, size_t), const char **why)
{
	memset(t, 0, sizeof(*t));
	const struct lr_tf_header *h = image;
	const char *b = image;
	if ((uintptr_t)image % 8) {
		*why = "misaligned table";
		return -1;
	}
	if ((*why = check_header(h, len)))
		return -1;
	uint8_t *applies = malloc((size_t)h->nprogs + 1);
	if (!applies) {
		*why = "out of memory";
		return -1;
	}
	t->image = image;
	t->image_len = len;
	t->release = release;
	t->strings = b + h->strings_at;
	t->strings_len = h->strings_len;
	t->log.level = (enum lr_level)h->level;
	t->log.target = (enum lr_target)h->target;
	t->log.format = (enum lr_format)h->format;
	t->log.facility = (int)h->facility;
	t->log.path = lr_table_str(t, h->log_path);
	t->notes = lr_table_str(t, h->notes);
	t->dry_run = h->flags & LR_TF_DRY_RUN;
	t->keep_all = h->flags & LR_TF_KEEP_ALL;
	t->io_uring_refuse = h->flags & LR_TF_IO_URING_REFUSE;
	t->nrules = h->nrules;
	t->nactions = h->nactions;
	t->ncidrs = h->ncidrs;
	t->nprogs = h->nprogs;
	t->rules = (const struct lr_entry *)(b + h->rules_at);
	t->actions = (const struct lr_action *)(b + h->actions_at);
	t->cidrs = (const struct lr_cidr *)(b + h->cidrs_at);
	/* What this program's rules add to those of every program. */
	t->ops = h->ops;
	int max = h->max_level > (int8_t)h->level ? h->max_level : (int8_t)h->level;
	applies[0] = 1;
	const struct lr_tf_prog *p = (const struct lr_tf_prog *)(b + h->progs_at);
	for (uint32_t i = 0; i < h->nprogs; i++) {
		applies[i + 1] = applies_to(lr_table_str(t, p[i].glob), exe, argv0);
		if (!applies[i + 1])
			continue;
		t->ops |= p[i].ops;
		if (p[i].max_level > max)
			max = p[i].max_level;
	}
	t->max_level = (enum lr_level)max;
	unsigned prog_ops = 0;
	bool named = false;
	for (uint32_t i = 0; i < h->nprogs; i++) {
		prog_ops |= applies[i + 1] ? p[i].ops : 0;
		named = named || applies[i + 1];
	}
	t->applies = applies;
	/* Worked out for a program no glob names: this one's, if none does. */
	if (h->index[0].runs_at && !named) {
		const uint32_t *runs = (const uint32_t *)(b + h->index[0].runs_at);
		t->nbind_runs = runs[0];
		t->bind_runs = runs + 1;
		t->bind_gate = (const uint8_t *)b + h->index[0].gate_at;
	} else if ((*why = check_records(h))) {
		/* Without the compiler's runs the gate's are worked out here, from
		 * every interval's rules and actions: all of them are read now.
		 * With them, and no program glob naming this one (port maps, not
		 * intervals, for the other gates), only lookups read a record,
		 * and each checks what it reaches: opening costs the same at 1
		 * rule as at 10,000. */
		free(applies);
		memset(t, 0, sizeof(*t));
		return -1;
	}
	for (int op = 0; op < LR_OPS; op++) {
		const struct lr_tf_index *x = &h->index[op];
		struct lr_index *ix = &t->index[op];
		ix->nintervals = (t->ops & lr_op_of_slot(op)) ? x->nintervals : 0;
		ix->linear = x->linear;
		ix->off = (const uint32_t *)(b + x->off_at);
		ix->cand = (const uint32_t *)(b + x->cand_at);
		ix->ncand = x->ncand;
		ix->bound = (const uint16_t *)(b + x->bound_at);
		ix->block = x->block_at ? (const uint16_t *)(b + x->block_at) : NULL;
		/* The map covers rules that name no program: with rules of this
		 * program's for the op, the index is asked instead. */
		t->port_map[op] = (prog_ops & lr_op_of_slot(op)) ? NULL
				  : x->map_at ? (const uint64_t *)(b + x->map_at) : no_ports;
	}
	return 0;
}

void lr_table_close(struct lr_table *t)
{
	free((void *)t->applies);
	if (t->release)
		t->release((void *)t->image, t->image_len);
	memset(t, 0, sizeof(*t));
}

void lr_table_release_malloced(void *image, size_t len)
{
	(void)len;
	free(image);
}

void lr_table_free(struct lr_table *t)
{
	if (t) {
		lr_table_close(t);
		free(t);
	}
}

size_t lr_table_count_applying(const struct lr_table *t)
{
	size_t n = 0;
	/* A rule no lookup reached may be unchecked: its program first. */
	for (size_t i = 0; i < t->nrules; i++)
		n += t->rules[i].prog <= t->nprogs && lr_table_applies(t, &t->rules[i]);
	return n;
}

/* A rule a lookup reached, checked before anything of it is followed: a
 * damaged one matches nothing (lr_table_open did not read it). */
static bool entry_ok(const struct lr_table *t, const struct lr_entry *r)
{
	if (r->action >= t->nactions || r->cidr > t->ncidrs || r->prog > t->nprogs ||
	    !action_ok(&t->actions[r->action], (uint32_t)t->strings_len))
		return false;
	if (!r->cidr)
		return true;
	struct lr_cidr c;
	memcpy(&c, &t->cidrs[r->cidr - 1], sizeof(c));
	return cidr_ok(&c);
}

static bool rule_matches(const struct lr_table *t, const struct lr_entry *r,
			 const struct lr_call *c)
{
	/* The port is checked again: in a linear index (see build_linear) the
	 * interval says nothing about it. */
	if (!(r->proto & c->proto) || c->port < r->port_lo || c->port > r->port_hi ||
	    !entry_ok(t, r) || !lr_table_applies(t, r))
		return false;
	uint8_t fam = c->addr.family == AF_INET ? LR_FAM_V4 : LR_FAM_V6;
	if (!(r->family & fam))
		return false;
	return !r->cidr || lr_cidr_match(&t->cidrs[r->cidr - 1], &c->addr);
}

const struct lr_entry *lr_table_match(const struct lr_table *t, const struct lr_call *c)
{
	const struct lr_index *ix = &t->index[lr_op_slot(c->op)];
	if (ix->nintervals == 0)
		return NULL;
	/* The last interval starting at or below the port: between the
	 * intervals holding the first port of its block and of the next. */
	uint32_t b = c->port >> LR_BLOCK_SHIFT;
	uint32_t lo = 0, hi = ix->nintervals;
	if (ix->block) {
		lo = ix->block[b];
		hi = ix->block[b + 1] + 1u;
		/* Unchecked at open: out of order, the search would leave them. */
		if (lo >= hi || hi > ix->nintervals)
			return NULL;
	}
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (ix->bound[mid] <= c->port)
			lo = mid;
		else
			hi = mid;
	}
	if (ix->off[lo] > ix->off[lo + 1] || ix->off[lo + 1] > ix->ncand)
		return NULL;
	for (uint32_t k = ix->off[lo]; k < ix->off[lo + 1]; k++) {
		if (ix->cand[k] >= t->nrules)
			continue;
		const struct lr_entry *r = &t->rules[ix->cand[k]];
		if (rule_matches(t, r, c))
			return r;
	}
	return NULL;
}

/* Runs of the set bits of a port map, and of the clear ones between. */
static void map_runs(const uint64_t *map, lr_run_fn *fn, void *ctx)
{
	/* An op no rule names: every table's first load walks one (connect,
	 * most files), 1,024 words for one run. */
	if (map == no_ports) {
		fn(ctx, 0, 65536, 0);
		return;
	}
	uint32_t from = 0;
	uint8_t v = map[0] & 1;
	for (uint32_t port = 0; port < 65536;) {
		uint64_t w = map[port >> 6] >> (port & 63);
		/* Where the bits stop being v, within this word. */
		uint64_t change = v ? ~w : w;
		uint32_t left = 64 - (port & 63);
		uint32_t step = change ? (uint32_t)__builtin_ctzll(change) : left;
		if (step >= left) {
			/* And every whole word of v after it, a compare each. */
			uint64_t same = v ? ~0ull : 0;
			for (port += left; port < 65536 && map[port >> 6] == same;)
				port += 64;
			continue;
		}
		port += step;
		fn(ctx, from, port, v);
		from = port;
		v ^= 1;
	}
	fn(ctx, from, 65536, v);
}

void lr_table_port_runs(const struct lr_table *t, int op, lr_run_fn *fn, void *ctx)
{
	const uint64_t *shared = t->port_map[op];
	if (shared) {
		map_runs(shared, fn, ctx);
		return;
	}
	const struct lr_index *ix = &t->index[op];
	/* A linear index says nothing of ports: every port may match. */
	if (ix->linear || ix->nintervals == 0) {
		fn(ctx, 0, 65536, ix->linear);
		return;
	}
	for (uint32_t i = 0; i < ix->nintervals; i++) {
		bool any = false;
		for (uint32_t k = ix->off[i]; k < ix->off[i + 1] && !any; k++)
			any = lr_table_applies(t, &t->rules[ix->cand[k]]);
		uint32_t end = i + 1 < ix->nintervals ? ix->bound[i + 1] : 65536;
		fn(ctx, ix->bound[i], end, any);
	}
}

static void set_bits(void *ctx, uint32_t from, uint32_t to, uint8_t v)
{
	uint64_t *map = ctx;
	for (uint32_t port = v ? from : to; port < to; port++)
		map[port >> 6] |= 1ull << (port & 63);
}

void lr_table_port_map(const struct lr_table *t, int op, uint64_t map[1024])
{
	memset(map, 0, 1024 * sizeof(*map));
	lr_table_port_runs(t, op, set_bits, map);
}

/* What a rule file says, as the parser builds it up: the rules, a string
 * arena, the files read. The compiler's input (compile.c), never the
 * library's: the library reads a compiled table. */
#include "ruleset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	free(rs->sources);
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

int lr_ruleset_add_source(struct lr_ruleset *rs, const char *path, const struct stat *st)
{
	const char *h = lr_ruleset_strdup(rs, path);
	struct lr_source_id *n = h ? realloc(rs->sources, (rs->nsources + 1) * sizeof(*n)) : NULL;
	if (!n)
		return -1;
	rs->sources = n;
	n[rs->nsources++] = (struct lr_source_id){
		.path = h,
		.dev = (uint64_t)st->st_dev,
		.ino = (uint64_t)st->st_ino,
		.size = (uint64_t)st->st_size,
		.mtime_sec = (uint64_t)st->st_mtim.tv_sec,
		.mtime_nsec = (uint32_t)st->st_mtim.tv_nsec,
	};
	return 0;
}


/* Rules as the rule file states them, and the compiled table the call path
 * reads: built once per load, never written afterwards, indexed by operation
 * and port so that a lookup does not grow with rules that cannot match. */
#ifndef LIBREUSE_RULES_H
#define LIBREUSE_RULES_H

#include "addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lr_level {
	LR_LOG_OFF = 0,
	LR_LOG_ERRORS,
	LR_LOG_CONFLICTS,
	LR_LOG_ACTIONS,
	LR_LOG_ALL,
};

/* Bit sets, so that "any" is simply both bits. */
enum { LR_OP_BIND = 1, LR_OP_CONNECT = 2, LR_OP_ANY = 3 };
enum { LR_PROTO_TCP = 1, LR_PROTO_UDP = 2, LR_PROTO_ANY = 3 };
enum { LR_FAM_V4 = 1, LR_FAM_V6 = 2, LR_FAM_ANY = 3 };

/* Socket options libreuse injects and tracks, as bits. */
enum { LR_OPT_REUSEADDR = 1, LR_OPT_REUSEPORT = 2 };

enum lr_target { LR_TARGET_STDERR, LR_TARGET_FILE, LR_TARGET_SYSLOG };
enum lr_format { LR_FORMAT_TEXT, LR_FORMAT_JSON };

/* What a matched rule does. Rules that do the same share one, so a file of
 * 10,000 rules that differ only in their ports holds a single action. */
struct lr_action {
	bool reuseaddr, reuseport, force, dry_run;
	bool has_rewrite, has_source;
	/* keep = true: the listener outlives the program (a keeper, or systemd's
	 * socket of the same address); keep = "NAME": systemd's socket of that
	 * FileDescriptorName. keep_name is a ruleset string handle until
	 * compiled, then a pointer into the table. */
	bool keep;
	const char *keep_name;
	int8_t log_level; /* enum lr_level, or -1 for the file's level */
	int deny;         /* errno, or 0 */
	uint32_t retry_ms;
	struct lr_endpoint rewrite, source;
};

struct lr_rule {
	/* match */
	const char *program; /* glob, or NULL for any */
	uint8_t op, proto, family;
	bool has_addr;
	uint16_t port_lo, port_hi; /* 0-65535 when not given */
	struct lr_cidr addr;
	struct lr_action action;
	/* where it came from, for messages and `libreuse check` */
	int line;
	int index; /* position in the file, 0-based */
};

struct lr_log_conf {
	enum lr_level level;
	enum lr_target target;
	enum lr_format format;
	int facility;     /* syslog facility, as LOG_USER etc. */
	const char *path; /* for LR_TARGET_FILE */
};

enum { LR_LOGKEY_LEVEL = 1, LR_LOGKEY_TARGET = 2, LR_LOGKEY_FORMAT = 4, LR_LOGKEY_FACILITY = 8 };

/* What a rule file says, before compiling: owned strings live in `strings`. */
struct lr_ruleset {
	struct lr_log_conf log;
	unsigned log_set; /* LR_LOGKEY_* a source already gave: the first source wins */
	bool dry_run;
	bool keep_all; /* top-level keep = true: every listener is kept, rule or not */
	struct lr_rule *rules;
	size_t nrules, cap;
	char *strings; /* arena for program globs and the log path */
	size_t strings_len, strings_cap;
};

/* One operation's index: the port space cut into intervals at every rule
 * boundary; interval i starts at bound[i] and owns cand[off[i]..off[i+1]),
 * rule indices in file order, cut after the first rule that matches every
 * address and family (nothing after it can ever win).
 * Blocks of 4 ports: a lookup then searches at most 5 intervals, and the
 * block map costs 32 KiB an operation that has rules. */
#define LR_BLOCK_SHIFT 2
#define LR_BLOCKS (65536 >> LR_BLOCK_SHIFT)

struct lr_index {
	uint32_t nintervals;
	/* block[b]: the interval holding port b << LR_BLOCK_SHIFT, so a lookup
	 * searches only the few intervals of one block (block[LR_BLOCKS] is the
	 * last interval). Empty when nintervals is 0. */
	uint16_t *block; /* intervals number at most 65,536: an index fits */
	uint16_t *bound; /* a port */
	uint32_t *off;
	uint32_t *cand;
	bool linear; /* too many overlaps to expand: cand is every rule of the op */
};

/* A rule as the call path reads it: 20 bytes, against 104 for the rule as
 * parsed; the address block and the action live in side arrays. */
struct lr_entry {
	uint16_t port_lo, port_hi;
	uint8_t proto, family;
	uint32_t cidr;   /* 1 + its index in lr_table.cidrs, or 0: any address */
	uint32_t action; /* its index in lr_table.actions */
	uint32_t index;  /* position in the file, 0-based */
};

struct lr_table {
	struct lr_log_conf log;
	enum lr_level max_level; /* the file's level or a rule's, whichever is higher */
	bool dry_run;
	bool keep_all;
	size_t nrules, nactions, ncidrs;
	const struct lr_entry *rules; /* those that apply to this program */
	const struct lr_action *actions;
	const struct lr_cidr *cidrs;
	struct lr_index index[2]; /* [0] bind, [1] connect */
	void *block;              /* one allocation holding everything above */
	size_t block_size;
};

void lr_ruleset_init(struct lr_ruleset *rs);
void lr_ruleset_free(struct lr_ruleset *rs);
/* Returns NULL when out of memory. */
struct lr_rule *lr_ruleset_add(struct lr_ruleset *rs);
/* Makes room for `more` rules beyond those held; -1 when out of memory. */
int lr_ruleset_reserve(struct lr_ruleset *rs, size_t more);
/* Returns a handle (not a pointer: the arena may move), resolved with
 * lr_ruleset_str once the ruleset is complete. */
const char *lr_ruleset_strdup(struct lr_ruleset *rs, const char *s);
const char *lr_ruleset_str(const struct lr_ruleset *rs, const char *handle);

/* Compiles the rules that apply to a program called exe (basename of the
 * executable) or argv0; both NULL keeps every rule. NULL when out of memory. */
struct lr_table *lr_table_compile(const struct lr_ruleset *rs, const char *exe,
				  const char *argv0);
void lr_table_free(struct lr_table *t);

/* The facts of one call that matching needs. */
struct lr_call {
	uint8_t op;    /* LR_OP_BIND or LR_OP_CONNECT */
	uint8_t proto; /* LR_PROTO_TCP, LR_PROTO_UDP, or 0 for neither */
	uint16_t port;
	struct lr_addr addr;
};

/* The first rule that matches, or NULL. Pure, lock-free, allocation-free. */
const struct lr_entry *lr_table_match(const struct lr_table *t, const struct lr_call *c);

static inline const struct lr_action *lr_table_action(const struct lr_table *t,
						      const struct lr_entry *e)
{
	return &t->actions[e->action];
}

/* fnmatch-like glob (*, ?, [...]) with no locale and no recursion limit
 * problems, used for program names. */
bool lr_glob_match(const char *pattern, const char *name);

#endif

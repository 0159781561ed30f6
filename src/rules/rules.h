/* Rules as the rule file states them, and the compiled table the call path
 * reads: built once per load, never written afterwards, indexed by operation
 * and port so that a lookup does not grow with rules that cannot match. */
#ifndef LIBREUSE_RULES_H
#define LIBREUSE_RULES_H

#include "addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

enum lr_level {
	LR_LOG_OFF = 0,
	LR_LOG_ERRORS,
	LR_LOG_CONFLICTS,
	LR_LOG_ACTIONS,
	LR_LOG_ALL,
};

/* Bit sets, so that "any" is simply both bits. "any" is bind and connect
 * only: send (the first datagram of an unbound UDP socket) is named, so a
 * rule file written before it existed traps no datagram. */
enum { LR_OP_BIND = 1, LR_OP_CONNECT = 2, LR_OP_ANY = 3, LR_OP_SEND = 4 };
/* The operations a table indexes, each in a slot of its own. */
#define LR_OPS 3
static inline int lr_op_slot(uint8_t op)
{
	return op == LR_OP_BIND ? 0 : op == LR_OP_CONNECT ? 1 : 2;
}
static inline uint8_t lr_op_of_slot(int slot)
{
	return (uint8_t)(1u << slot);
}
enum { LR_PROTO_TCP = 1, LR_PROTO_UDP = 2, LR_PROTO_ANY = 3 };
enum { LR_FAM_V4 = 1, LR_FAM_V6 = 2, LR_FAM_ANY = 3 };

/* Socket options libreuse injects and tracks, as bits. */
enum { LR_OPT_REUSEADDR = 1, LR_OPT_REUSEPORT = 2 };

enum lr_target { LR_TARGET_STDERR, LR_TARGET_FILE, LR_TARGET_SYSLOG, LR_TARGET_JOURNAL };
enum lr_format { LR_FORMAT_TEXT, LR_FORMAT_JSON };

/* What a matched rule does. Rules that do the same share one, so a file of
 * 10,000 rules that differ only in their ports holds a single action. Part
 * of the table image (table.h): fixed-width fields, the same layout for 32-
 * and 64-bit readers, no pointers. */
struct lr_action {
	bool reuseaddr, reuseport, force, dry_run;
	bool has_rewrite, has_source;
	/* keep = true: the listener outlives the program (a keeper, or systemd's
	 * socket of the same address); keep = "NAME": systemd's socket of that
	 * FileDescriptorName. keep_name is a string handle (0: none): into the
	 * ruleset's arena until compiled, then into the table's strings. */
	bool keep;
	uint32_t keep_name;
	int8_t log_level; /* enum lr_level, or -1 for the file's level */
	int32_t deny;     /* errno, or 0 */
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

struct lr_source_id {
	const char *path; /* a string handle */
	uint64_t dev, ino, size, mtime_sec;
	uint32_t mtime_nsec;
};

/* One operation's index: the port space cut into intervals at every rule
 * boundary; interval i starts at bound[i] and owns cand[off[i]..off[i+1]),
 * rule indices in file order, cut after the first rule that matches every
 * address, family and program (nothing after it can ever win).
 * Blocks of 4 ports: a lookup then searches at most 5 intervals, and the
 * block map costs 32 KiB an operation that has more than LR_BLOCKS_FROM
 * intervals; with fewer, a search of them all takes as few steps, and a
 * small rule file makes a small table (read at every program's start). */
#define LR_BLOCK_SHIFT 2
#define LR_BLOCKS (65536 >> LR_BLOCK_SHIFT)
#define LR_BLOCKS_FROM 64

struct lr_index {
	uint32_t nintervals;
	/* block[b]: the interval holding port b << LR_BLOCK_SHIFT, so a lookup
	 * searches only the few intervals of one block (block[LR_BLOCKS] is the
	 * last interval). NULL for LR_BLOCKS_FROM intervals or fewer. */
	const uint16_t *block; /* intervals number at most 65,536: an index fits */
	const uint16_t *bound; /* a port */
	const uint32_t *off;
	const uint32_t *cand;
	uint32_t ncand; /* cand's length: an offset is checked against it at lookup */
	bool linear; /* too many overlaps to expand: cand is every rule of the op */
};

/* A rule as the call path reads it: 24 bytes, against 104 for the rule as
 * parsed; the address block, the program and the action live in side
 * arrays. Part of the table image. */
struct lr_entry {
	uint16_t port_lo, port_hi;
	uint8_t proto, family;
	uint16_t unused;
	uint32_t cidr;   /* 1 + its index in lr_table.cidrs, or 0: any address */
	uint32_t action; /* its index in lr_table.actions */
	uint32_t prog;   /* 1 + its program glob's index, or 0: any program */
	uint32_t index;  /* position in the file, 0-based */
};

/* The rules in force for one program: a view of a table image (table.h),
 * which holds every rule of the file for every program; the view says
 * which program globs name this one. Immutable once opened. */
struct lr_table {
	struct lr_log_conf log;
	enum lr_level max_level; /* the file's level or a rule's, whichever is higher */
	bool dry_run;
	bool keep_all;
	bool io_uring_refuse;
	unsigned ops; /* LR_OP_* a rule of this program's could match: 0 leaves at once */
	size_t nrules, nactions, ncidrs, nprogs;
	const struct lr_entry *rules;
	const struct lr_action *actions;
	const struct lr_cidr *cidrs;
	const char *strings; /* handles are offsets + 1 into it */
	size_t strings_len;
	const char *notes;      /* what loading the rules had to say, or NULL */
	const uint8_t *applies; /* [prog]: 1 when that glob names this program ([0]: any) */
	struct lr_index index[LR_OPS]; /* [lr_op_slot(op)]: bind, connect, send */
	/* [slot]: the ports a rule could match a call of at all, one bit each;
	 * NULL: ask the index (rules of this program's own). */
	const uint64_t *port_map[LR_OPS];
	/* The bind gate's runs as the compiler worked them out, each
	 * (first port << 8 | verdict) up to the next one's first port; NULL
	 * where this program's own rules change them (worked out at load). */
	const uint32_t *bind_runs;
	size_t nbind_runs;
	/* The same as a gate to read in place (verdicts.h), with bind_runs. */
	const uint8_t *bind_gate;
	const void *image;        /* the bytes all of the above point into */
	size_t image_len;
	void (*release)(void *image, size_t len); /* how the image goes (NULL: it stays) */
};

void lr_table_free(struct lr_table *t);

/* Whether a rule of the table is one of this program's. */
static inline bool lr_table_applies(const struct lr_table *t, const struct lr_entry *e)
{
	return t->applies[e->prog];
}

/* False when no rule of the table could match a call of op (LR_OP_BIND,
 * LR_OP_CONNECT or LR_OP_SEND) on port: the hook's one check before
 * anything else. */
static inline bool lr_table_may_match(const struct lr_table *t, uint8_t op, uint16_t port)
{
	const uint64_t *map = t->port_map[lr_op_slot(op)];
	return !map || (map[port >> 6] >> (port & 63)) & 1;
}

/* Every port a rule of this program's could match a call of op (a slot:
 * 0 bind, 1 connect, 2 send) on, one bit each, into map: what lr_table_may_match says, as a
 * whole map the front end may keep. */
void lr_table_port_map(const struct lr_table *t, int op, uint64_t map[1024]);
/* Ports [from, to), in host order, that share v: a verdict (verdicts.h),
 * or in a port map 1 where a rule could match and 0 where none can. */
typedef void lr_run_fn(void *ctx, uint32_t from, uint32_t to, uint8_t v);
/* The same map as runs in port order, covering 0-65535. */
void lr_table_port_runs(const struct lr_table *t, int op, lr_run_fn *fn, void *ctx);

/* How many of the table's rules are this program's. */
size_t lr_table_count_applying(const struct lr_table *t);

/* A string of the table's by handle (NULL for 0). */
static inline const char *lr_table_str(const struct lr_table *t, uint32_t handle)
{
	return handle && handle <= t->strings_len ? t->strings + handle - 1 : NULL;
}

/* The facts of one call that matching needs. */
struct lr_call {
	uint8_t op;    /* LR_OP_BIND, LR_OP_CONNECT or LR_OP_SEND (its destination) */
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

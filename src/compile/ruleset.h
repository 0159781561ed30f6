/* What a rule file says, before compiling (the parser's output, the
 * compiler's input): in the command only. */
#ifndef LIBREUSE_RULESET_H
#define LIBREUSE_RULESET_H

#include "rules.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* What a rule file says, before compiling: owned strings live in `strings`. */
struct lr_ruleset {
	struct lr_log_conf log;
	unsigned log_set; /* LR_LOGKEY_* a source already gave: the first source wins */
	bool dry_run;
	bool keep_all; /* top-level keep = true: every listener is kept, rule or not */
	/* io_uring = "refuse": io_uring_setup fails with ENOSYS under the
	 * supervisor, so programs fall back to the calls it sees. */
	bool io_uring_refuse;
	struct lr_rule *rules;
	size_t nrules, cap;
	char *strings; /* arena for program globs and the log path */
	size_t strings_len, strings_cap;
	/* Every file the rules were read from (the rule file, its @includes),
	 * as it was when read: a table compiled from them is stale once one
	 * of them differs. */
	struct lr_source_id *sources;
	size_t nsources;
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

/* Records a file the rules are read from; -1 when out of memory. */
int lr_ruleset_add_source(struct lr_ruleset *rs, const char *path, const struct stat *st);

#endif

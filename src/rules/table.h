/* The compiled table: what a rule file becomes outside the program (the
 * `libreuse` command, or the helper the library starts), and all the
 * library inside the program ever reads. One block of bytes, read-only and
 * position independent: fixed-width fields, offsets instead of pointers, the
 * same layout for 32- and 64-bit readers (x86 is little-endian for both),
 * and a version, so that a table from another build is refused, never
 * misread. Nothing follows an offset or an index of it unchecked: opening
 * one checks the header and the bounds of every section, and either every
 * record (when the gate's runs must be worked out from them) or none, each
 * rule, action and address block then checked where a lookup reaches it. */
#ifndef LIBREUSE_TABLE_H
#define LIBREUSE_TABLE_H

#include "rules.h"

#include <stddef.h>
#include <stdint.h>

#define LR_TABLE_MAGIC "\177LRTABLE" /* 8 bytes, NUL not included */
/* Bumped with any change of the layout below or of what a field means. */
#define LR_TABLE_VERSION 6u /* 4: a third index, op = "send"; 5: bind gate runs; 6: the gate */
/* Larger than any table a 16 MiB rule file compiles to. */
#define LR_TABLE_MAX_BYTES (256u << 20)

enum { LR_TF_DRY_RUN = 1, LR_TF_KEEP_ALL = 2, LR_TF_IO_URING_REFUSE = 4 };

struct lr_tf_index {
	uint32_t nintervals, linear;
	uint32_t off_at, noff;   /* uint32_t[noff]: noff = nintervals + 1 */
	uint32_t cand_at, ncand; /* uint32_t[ncand] */
	uint32_t bound_at;       /* uint16_t[nintervals] */
	uint32_t block_at;       /* uint16_t[LR_BLOCKS + 1], or 0: none */
	/* uint64_t[1024]: bit p set when a rule naming no program covers port
	 * p (0: no such rule, no map). The hook's one check. */
	uint32_t map_at;
	/* Bind index only: uint32_t[1 + n], n then the bind gate's runs for a
	 * program no program glob names (lr_table.bind_runs); 0: none. */
	uint32_t runs_at;
	/* Bind index only, with runs_at: the same as a gate (verdicts.h),
	 * gate_blocks blocks, 64-byte aligned (lr_table.bind_gate). */
	uint32_t gate_at, gate_blocks;
};

/* A file the rules came from, as it was when compiled. */
struct lr_tf_source {
	uint64_t dev, ino, size, mtime_sec;
	uint32_t mtime_nsec;
	uint32_t path; /* string handle */
};

/* A program glob, and what the rules naming it add to the file's. */
struct lr_tf_prog {
	uint32_t glob; /* string handle */
	uint8_t ops;   /* LR_OP_* of its rules */
	int8_t max_level;
	uint16_t unused;
};

struct lr_tf_header {
	char magic[8];
	uint32_t version, header_size, total_size, flags;
	uint8_t level, target, format;
	int8_t max_level;  /* of the rules that name no program */
	uint32_t facility;
	uint32_t log_path; /* string handle */
	uint32_t notes;    /* string handle: said by every process that loads it */
	uint32_t nrules, nactions, ncidrs, nprogs, nsources;
	uint32_t ops;      /* LR_OP_* of the rules that name no program */
	uint32_t rules_at, actions_at, cidrs_at, progs_at, sources_at, strings_at, strings_len;
	uint32_t unused;
	uint64_t inline_hash; /* of the LIBREUSE_RULES text compiled in, 0: none */
	struct lr_tf_index index[LR_OPS];
};

/* Checks an image and opens the view of it for a program called exe or
 * argv0 (both NULL: every rule applies). release, if given, is called with
 * the image by lr_table_close. 0, or -1 with *why saying what is wrong. */
int lr_table_open(struct lr_table *t, const void *image, size_t len, const char *exe,
		  const char *argv0, void (*release)(void *, size_t), const char **why);
void lr_table_close(struct lr_table *t);
/* As exe for lr_table_open: a program no program glob names. */
extern const char lr_table_no_program[];
/* The release of an image lr_table_build made (malloc'ed). */
void lr_table_release_malloced(void *image, size_t len);

/* The files an image was compiled from (lr_table_open checked them). */
static inline const struct lr_tf_source *lr_table_sources(const struct lr_table *t, size_t *n)
{
	const struct lr_tf_header *h = t->image;
	*n = h->nsources;
	return (const struct lr_tf_source *)((const char *)t->image + h->sources_at);
}

static inline uint64_t lr_table_inline_hash(const struct lr_table *t)
{
	return ((const struct lr_tf_header *)t->image)->inline_hash;
}

/* FNV-1a, 64 bits: names LIBREUSE_RULES text and cache files; never 0. */
uint64_t lr_text_hash(const char *s, uint64_t seed);

#endif

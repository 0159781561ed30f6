/* A restart's phases and what each took: the restart signal, the new
 * instance started, every kept socket taken by it (from then on it is the
 * one that accepts), the old instance gone. Said at level "actions" once
 * the old instance is gone, and kept for `libreuse who`. */
#ifndef LIBREUSE_PHASES_H
#define LIBREUSE_PHASES_H

#include <stddef.h>
#include <sys/types.h>

struct lr_restart_phases {
	unsigned gen, old_gen; /* gen 0: none recorded */
	pid_t pid, old_pid;
	unsigned asks;      /* restart signals it answered (coalesced) */
	long long asked_ms; /* the first of them (CLOCK_MONOTONIC ms) */
	long long started_ms, adopted_ms, stopped_ms;
};

/* "generation G (pid P) replaced generation G0 (pid P0): signal → started
 * A ms, → adopted B ms, → old stopped C ms; total D ms" into out. */
void lr_phases_text(char *out, size_t n, const struct lr_restart_phases *p);

#endif

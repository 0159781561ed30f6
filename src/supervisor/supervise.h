/* libreuse run --seccomp: the program runs under a seccomp filter whose
 * trapped calls come to this process, which applies the rules from outside
 * it — for programs LD_PRELOAD cannot reach (static, Go). */
#ifndef LIBREUSE_SUPERVISE_H
#define LIBREUSE_SUPERVISE_H

#include <stdbool.h>

/* Runs argv under the supervisor until every process under the filter is
 * gone; returns the program's exit status for the command (128+N for a
 * signal). When the kernel cannot give seccomp user notification: with
 * `required`, one line and 126; without, one warning and the program runs
 * untouched. */
int lr_supervise_run(char **argv, bool required);

#endif

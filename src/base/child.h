/* Running a program as a child (the keeper, the supervisor): the signals
 * the parent takes to pass on, and the child's end in a status and words. */
#ifndef LIBREUSE_CHILD_H
#define LIBREUSE_CHILD_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

/* Blocks every signal a parent can pass on (not the faults, which are its
 * own) and returns a signalfd for them, close-on-exec and non-blocking; the
 * mask before is saved in *orig, for children to restore. -1 on error. */
int lr_child_signals(sigset_t *orig);

/* The command's exit status for a child's wait status: its own, or 128+N
 * for a signal N, as shells say it. */
int lr_child_exit_code(int status);

/* /proc/PID/WHAT ("stat", "status", "environ", "fdinfo/3"...) into buf,
 * NUL-terminated: its length, or -1 when it cannot be read (the process
 * is gone, or exiting). */
long lr_child_read(pid_t pid, const char *what, char *buf, size_t n);

/* The parent of process pid, from its stat; -1 when it cannot be read.
 * Neither this nor lr_child_read allocates or calls stdio, or reaches the
 * library's own close hook: both run inside the host too (holders.c). */
pid_t lr_proc_parent(pid_t pid);

/* "status 3", "killed by SIGKILL". */
const char *lr_child_status_text(int status, char *buf, size_t n);

#endif

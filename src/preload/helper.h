/* The helper: a process the library starts to compile the rules, so that
 * no parser runs inside the program. Started so that the program cannot
 * tell: not its child but the child of a vfork child of its own that never
 * execs and has exit signal 0 (so sends no SIGCHLD, and no wait() of the
 * program's can reap it), with no atfork handler run, no fd of the
 * program's left to it, and the program's signal mask and dispositions
 * untouched; and so that tools that follow a program's children (valgrind,
 * strace -f, gdb, ptrace sandboxes) follow it: vfork semantics only, with
 * nothing shared in memory that the program depends on. */
#ifndef LIBREUSE_HELPER_H
#define LIBREUSE_HELPER_H

#include <stddef.h>

/* How long a helper may take before it is killed and the program goes on
 * with no rules. */
#define LR_HELPER_TIMEOUT_MS 2000

struct lr_helper_out {
	void *image; /* what it wrote (lr_image_read's), or NULL */
	size_t len;
	char why[256]; /* when image is NULL: what went wrong */
};

/* Runs path with argv and envp, in (or /dev/null when -1) as its standard
 * input, collecting its standard output. 0 when it exited 0 having written
 * something; -1 otherwise, with out->why set (what it wrote, if anything, is
 * left in out->image for the caller to read). The calling thread waits for
 * it, LR_HELPER_TIMEOUT_MS at most. */
int lr_helper_run(const char *path, char *const argv[], char *const envp[], int in,
		  struct lr_helper_out *out);

#endif

/* Calls the program makes itself. A bind or connect no rule changes is
 * answered CONTINUE: the kernel runs it in the program's own thread, on its
 * CPU, exactly as asked. Where a log line may need its outcome, the
 * supervisor keeps a duplicate of the socket and learns the outcome
 * afterwards from the socket itself, once the calling thread is done with
 * the call: at that thread's next trapped call (a thread makes one call at a
 * time), when /proc shows it out of the call, or at the end. */
#ifndef LIBREUSE_WATCH_H
#define LIBREUSE_WATCH_H

#include "act.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct lr_watch {
	pid_t tid, tgid;
	uid_t euid;
	char program[NAME_MAX + 1];
	struct lr_loaded *loaded; /* never freed (procs.c) */
	int dup;                  /* the supervisor's duplicate of the socket */
	struct lr_call c;         /* op, address, port; proto is read at the end */
	struct sockaddr_storage ss;
	socklen_t len;
	/* The call as /proc/TID/syscall shows it while the thread is in it. */
	long nr;
	uint64_t arg0, arg1;
	/* Before the call, where a line at level "all" must tell an already
	 * bound or connected socket's EINVAL or EISCONN from a success. */
	bool was_bound, was_connected;
	bool nonblock;
	bool matched; /* a rule matched (and changes nothing: a dry run) */
	long long since_ns;
};

/* Once, before the first call: the thread that learns outcomes. */
void lr_watch_start(void);

/* A call about to be answered CONTINUE: expected before the answer (the
 * program may be gone, and the end flushed, before it is added), then
 * added (takes w->dup), or unexpected when the answer failed. */
void lr_watch_expect(void);
void lr_watch_add(const struct lr_watch *w);
void lr_watch_unexpect(void);

/* Thread tid makes a new trapped call (nr, its first two arguments): its
 * previous one is over — or, the same blocking connect still under way,
 * interrupted and made again, and then its outcome is the new call's. */
void lr_watch_thread_next(pid_t tid, long nr, uint64_t arg0, uint64_t arg1);

/* Another bind is coming: every call whose socket already shows its
 * outcome is settled, so no duplicate kept here holds a port a program has
 * closed (the socket lives while any copy does). Looks at sockets only. */
void lr_watch_shown(void);

/* At the end (nothing left under the filter): every outcome, now. */
void lr_watch_flush(void);

#endif

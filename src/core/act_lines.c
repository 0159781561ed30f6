/* Lines of their own, about a process rather than a socket: io_uring
 * (refused, or passed and said once), a call the supervisor cannot decode,
 * and the exit summary. Apart because no call is carried out here: they
 * only say. */
#include "act.h"
#include "actstep.h"

#include "fmt.h"

#include <stdatomic.h>
#include <string.h>

/* A line about the caller alone, no socket, at the file's level. */
static void plain_action(struct lr_loaded *l, const struct lr_caller *who, enum lr_level at,
			 const char *op, const char *action, const char *message)
{
	struct lr_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.kind = LR_EV_ACTION;
	ev.program = who->program;
	ev.pid = who->pid;
	ev.op = op;
	ev.action = action;
	ev.message = message;
	emit(l, (int)l->table->log.level, at, &ev);
}

bool lr_act_io_uring(struct lr_loaded *l, const struct lr_caller *who, bool first)
{
	if (l->table->io_uring_refuse) {
		plain_action(l, who, LR_LOG_ACTIONS, "io_uring_setup", "refused",
			     "with ENOSYS (io_uring = \"refuse\"): the program is left the socket calls "
			     "libreuse sees");
		return true;
	}
	if (first)
		plain_action(l, who, LR_LOG_ACTIONS, "io_uring_setup", "passed",
			     "(said once per process): socket operations submitted through the ring "
			     "(connect; bind and listen since Linux 6.11) are not seen, and no rule applies "
			     "to them; io_uring = \"refuse\" (run --no-io-uring) makes the program fall "
			     "back to plain calls");
	return false;
}

void lr_act_undecoded(struct lr_loaded *l, const struct lr_caller *who, const char *what)
{
	char msg[256];
	struct lr_buf b = LR_BUF(msg);
	lr_buf_str(&b, "with ENOSYS: ");
	lr_buf_str(&b, what);
	lr_buf_str(&b, ", which libreuse cannot decode, and does not let pass unseen");
	plain_action(l, who, LR_LOG_ERRORS, "syscall", "refused", msg);
}

/* The counts so far, and the lines the sink dropped; false when there is
 * nothing to tell. */
static bool gather_summary(const struct lr_loaded *l, struct lr_summary *sum)
{
	bool any = false;
	for (int k = 0; k < LR_TALLY_KINDS; k++) {
		sum->counts[k] = atomic_load_explicit(&lr_tally[k], memory_order_relaxed);
		any = any || sum->counts[k];
	}
	sum->dropped = atomic_load_explicit(&l->sink.dropped, memory_order_relaxed);
	return any || sum->dropped;
}

static void summary(struct lr_loaded *l, const struct lr_caller *who, bool failures_only)
{
	struct lr_summary sum;
	sum.failures_only = failures_only;
	/* A program libreuse neither acted on nor saw fail gets no line: under
	 * a system-wide install that is almost every program. */
	if (!gather_summary(l, &sum))
		return;
	struct lr_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.kind = LR_EV_SUMMARY;
	ev.program = who->program;
	ev.pid = who->pid;
	ev.summary = &sum;
	lr_log_event(&l->sink, &ev);
	if (sum.dropped && l->sink.kind != LR_TARGET_STDERR) {
		/* A full disk or a stalled syslog lost lines: say so where a
		 * person will see it, since the sink itself may not take it. */
		struct lr_sink err;
		lr_sink_stderr(&err);
		err.format = l->sink.format;
		lr_log_event(&err, &ev);
	}
}

void lr_act_summary(struct lr_loaded *l, const struct lr_caller *who)
{
	if (l->table->max_level >= LR_LOG_ACTIONS)
		summary(l, who, false);
	else if (atomic_load_explicit(&lr_tally[LR_TALLY_SUPPRESSED], memory_order_relaxed) ||
		 atomic_load_explicit(&l->sink.dropped, memory_order_relaxed))
		/* Lines the rate limit held back are said at exit, whatever the
		 * level: a flood that ended within the window is otherwise never
		 * counted anywhere. */
		summary(l, who, true);
}

/* The restart queue (one restart under way, one pending, later signals
 * coalesced), the keeper's quitting, a new instance taking over, the
 * deadlines of instances, and what follows an instance's end: the next
 * restart, a respawn, or the keeper done. */
#include "state.h"

#include "child.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define LR_RESPAWN_FIRST_MS 100
#define LR_RESPAWN_MAX_MS 5000
/* An instance that ran this long resets the respawn backoff. */
#define LR_RESPAWN_RESET_MS 10000

/* A restart: a new instance that will take the kept sockets from the one
 * serving. asked_ms is when it was asked for (the first signal of those it
 * answers). */
static bool begin_restart(struct keeper *k, long long asked_ms, unsigned asks)
{
	struct instance *in = lr_inst_start(k, I_STARTING);
	if (!in)
		return false;
	in->asked_ms = asked_ms;
	in->replaced.asks = asks;
	lr_keeper_say("restart: started pid %d (generation %u)%s", (int)in->pid, in->gen,
	              asks > 1 ? " for restart signals coalesced while the last one was under way" : "");
	return true;
}

/* The restart asked for while another was under way, now that none is:
 * started as soon as the last one ends, so the instance serving at the end
 * is one started after the last signal (the newest binary and
 * configuration). With nothing serving (a crash, a failed start), it is the
 * program started again. Held while no instance slot is free: looked at
 * again whenever an instance is gone. */
static void run_pending(struct keeper *k)
{
	if (!k->pending || k->quitting || lr_inst_by_state(k, I_STARTING))
		return;
	bool started;
	if (lr_inst_by_state(k, I_SERVING)) {
		started = begin_restart(k, k->pending_asked_ms, k->pending_asks);
	} else {
		k->respawn_at = 0;
		started = lr_inst_start(k, I_SERVING) != NULL;
	}
	if (started)
		k->pending = false;
}

void lr_restart_ask(struct keeper *k)
{
	if (k->quitting)
		return;
	struct instance *starting = lr_inst_by_state(k, I_STARTING);
	if (starting || k->pending) {
		/* Lost, a deploy made during a restart would leave the old
		 * binary serving: it is queued, and the signals coalesce. */
		if (!k->pending) {
			k->pending = true;
			k->pending_asked_ms = lr_keeper_now_ms();
			k->pending_asks = 0;
		}
		k->pending_asks++;
		if (starting)
			lr_keeper_say("restart under way (pid %d, generation %u): SIG%s queued, %s", (int)starting->pid,
			              starting->gen, sigabbrev_np(k->o->restart_signal),
			              k->pending_asks > 1 ? "with the one queued already" : "to run once it ends");
		run_pending(k); /* held only by a full table */
		return;
	}
	if (!lr_inst_by_state(k, I_SERVING)) {
		/* Waiting to respawn: start now. */
		k->respawn_at = 0;
		lr_inst_start(k, I_SERVING);
		return;
	}
	if (!begin_restart(k, lr_keeper_now_ms(), 1)) {
		/* No slot (old instances still stopping): asked for, not lost. */
		k->pending = true;
		k->pending_asked_ms = lr_keeper_now_ms();
		k->pending_asks = 1;
	}
}

void lr_restart_quit(struct keeper *k, int sig)
{
	struct instance *cur = lr_inst_by_state(k, I_SERVING);
	if (!k->quitting) {
		k->quitting = true;
		k->quit_gen = cur ? cur->gen : 0;
		k->respawn_at = 0;
	}
	for (int i = 0; i < LR_INSTANCES; i++) {
		struct instance *in = &k->inst[i];
		if (in->state == I_SERVING || in->state == I_STARTING)
			lr_inst_stop(k, in, sig);
		else if (in->state == I_STOPPING)
			lr_inst_signal(in, sig);
	}
}

/* A new instance that took every kept socket replaces the old one. */
void lr_restart_check_ready(struct keeper *k)
{
	struct instance *next = lr_inst_by_state(k, I_STARTING);
	if (!next || !lr_store_all_taken(&k->store, next->gen))
		return;
	struct instance *old = lr_inst_by_state(k, I_SERVING);
	next->state = I_SERVING;
	next->deadline_ms = 0;
	next->adopted_ms = lr_keeper_now_ms();
	k->restarts_done++;
	/* Before the old one is told: from now on it takes no connection. */
	lr_inst_set_serving(k, next->gen);
	long long since = next->adopted_ms - next->asked_ms;
	if (old) {
		lr_keeper_say("restart: pid %d (generation %u) took %zu kept socket(s) %lld ms after SIG%s; stopping "
		              "pid %d with SIG%s",
		              (int)next->pid, next->gen, k->store.n, since, sigabbrev_np(k->o->restart_signal),
		              (int)old->pid, sigabbrev_np(k->o->stop_signal));
		old->replaced = (struct lr_restart_phases){ .gen = next->gen,
							    .pid = next->pid,
							    .old_gen = old->gen,
							    .old_pid = old->pid,
							    .asks = next->replaced.asks,
							    .asked_ms = next->asked_ms,
							    .started_ms = next->started_ms,
							    .adopted_ms = next->adopted_ms };
		lr_inst_stop(k, old, k->o->stop_signal);
	} else {
		lr_keeper_say("restart: pid %d (generation %u) took %zu kept socket(s) %lld ms after SIG%s; the "
		              "instance it replaces was gone already",
		              (int)next->pid, next->gen, k->store.n, since, sigabbrev_np(k->o->restart_signal));
	}
	run_pending(k);
}

/* An old instance replaced by a restart is gone: the restart's phases. */
static void report_restart(struct keeper *k, struct instance *old)
{
	if (!old->replaced.gen)
		return;
	old->replaced.stopped_ms = lr_keeper_now_ms();
	k->last = old->replaced;
	if (k->o->log_actions) {
		char line[400];
		lr_phases_text(line, sizeof(line), &k->last);
		lr_keeper_say("restart done: %s", line);
	}
}

/* A new instance that did not take its sockets in time: stopped. */
static void not_ready(struct keeper *k, struct instance *in)
{
	struct instance *old = lr_inst_by_state(k, I_SERVING);
	char on[64] = "; nothing serves";
	if (old)
		snprintf(on, sizeof(on), "; pid %d serves on", (int)old->pid);
	lr_keeper_say("restart failed: pid %d (generation %u) did not take its sockets within %d ms; "
	              "stopping it%s",
	              (int)in->pid, in->gen, k->o->ready_timeout_ms, on);
	k->restarts_failed++;
	lr_inst_stop(k, in, k->o->stop_signal);
	/* Nothing serving: started again (lr_restart_settle, once it is gone) as after
	 * a crash. Else a restart asked for meanwhile runs now. */
	in->failed_alone = !old;
	run_pending(k);
}

void lr_restart_deadlines(struct keeper *k, long long now)
{
	for (int i = 0; i < LR_INSTANCES; i++) {
		struct instance *in = &k->inst[i];
		if (!in->deadline_ms || now < in->deadline_ms)
			continue;
		if (in->state == I_STARTING) {
			not_ready(k, in);
		} else if (in->state == I_STOPPING && !in->killed) {
			lr_keeper_say("pid %d (generation %u) still running %d ms after SIG%s: SIGKILL",
			              (int)in->pid, in->gen, k->o->stop_timeout_ms,
			              sigabbrev_np(k->o->stop_signal));
			lr_inst_kill(in);
			in->deadline_ms = 0;
		}
	}
}

/* --respawn's pause over: the program started again. */
void lr_restart_respawn_due(struct keeper *k, long long now)
{
	if (k->respawn_at && now >= k->respawn_at) {
		k->respawn_at = 0;
		lr_inst_start(k, I_SERVING);
	}
}

/* Nothing serves and nothing is starting: an instance that served
 * crashed, or the one meant to replace it failed with none left behind.
 * A restart asked for meanwhile starts the program now; else --respawn
 * starts it again after a pause that grows while it keeps failing; else
 * the keeper is done, with its status. */
static void nothing_serves(struct keeper *k, const struct instance *in, const char *st)
{
	if (lr_inst_by_state(k, I_SERVING) || lr_inst_by_state(k, I_STARTING))
		return;
	if (k->pending) {
		lr_keeper_say("pid %d (generation %u) exited (%s): starting the program again for the restart "
		              "asked for meanwhile",
		              (int)in->pid, in->gen, st);
		run_pending(k);
		return;
	}
	if (!k->o->respawn) {
		k->exit_status = lr_child_exit_code(in->status);
		k->done = true;
		return;
	}
	long long ran = lr_keeper_now_ms() - in->started_ms;
	if (ran >= LR_RESPAWN_RESET_MS || !k->respawn_ms)
		k->respawn_ms = LR_RESPAWN_FIRST_MS;
	lr_keeper_say("pid %d (generation %u) exited (%s): starting it again in %d ms", (int)in->pid, in->gen, st,
	              k->respawn_ms);
	k->respawn_at = lr_keeper_now_ms() + k->respawn_ms;
	k->respawn_ms = k->respawn_ms * 2 > LR_RESPAWN_MAX_MS ? LR_RESPAWN_MAX_MS : k->respawn_ms * 2;
}

/* An instance all of whose processes are gone, outside a quit: what it
 * was says what follows (st: its status, said). */
static void gone(struct keeper *k, struct instance *in, enum state was, const char *st)
{
	if (was == I_STOPPING) {
		/* How long an old instance took to finish: what a restart
		 * costs, and how near it came to the stop timeout. */
		lr_keeper_say("pid %d (generation %u) exited (%s) %lld ms after SIG%s", (int)in->pid, in->gen,
		              st, lr_keeper_now_ms() - in->stop_ms, sigabbrev_np(k->o->stop_signal));
		report_restart(k, in);
		if (in->failed_alone)
			nothing_serves(k, in, st);
	} else if (was == I_STARTING) {
		struct instance *old = lr_inst_by_state(k, I_SERVING);
		lr_keeper_say("restart failed: pid %d (generation %u) exited (%s) before taking its sockets%s",
		              (int)in->pid, in->gen, st, old ? "; the old instance serves on" : "");
		k->restarts_failed++;
		if (old)
			run_pending(k);
		else
			nothing_serves(k, in, st);
	} else if (was == I_SERVING) {
		/* A restart under way: the new instance becomes the one. */
		nothing_serves(k, in, st);
	}
}

/* What follows an instance's end, all of it gone. */
void lr_restart_settle(struct keeper *k)
{
	if (k->unsettled)
		return;
	bool freed = false;
	for (int i = 0; i < LR_INSTANCES; i++) {
		struct instance *in = &k->inst[i];
		if (in->state == I_FREE || lr_inst_alive(in))
			continue;
		char st[64];
		lr_child_status_text(in->status, st, sizeof(st));
		enum state was = in->state;
		in->state = I_FREE;
		freed = true;
		if (!k->quitting)
			gone(k, in, was, st);
		else if (in->gen == k->quit_gen)
			k->exit_status = lr_child_exit_code(in->status);
	}
	if (freed)
		run_pending(k); /* one held for want of a free slot */
	if (k->quitting) {
		bool any = false;
		for (int i = 0; i < LR_INSTANCES; i++)
			any = any || k->inst[i].state != I_FREE;
		k->done = !any;
	}
}

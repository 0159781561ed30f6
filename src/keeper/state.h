/* The keeper's state, shared by the files that make it up: keeper.c its
 * loop (signals, deadlines, the channel), instances.c its instances and
 * their processes, restarts.c the restart queue and what follows an
 * instance's end, requests.c what it answers its peers. One process, one
 * thread, one loop: lr_keeper_run owns the one struct keeper, and only the
 * functions below, called from its loop, touch it. */
#ifndef LIBREUSE_KEEPER_STATE_H
#define LIBREUSE_KEEPER_STATE_H

#include "conns.h"
#include "keeper.h"
#include "outsiders.h"
#include "phases.h"
#include "store.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A restart overlaps at most a few instances: the serving one, the one
 * starting, and those still stopping. */
#define LR_INSTANCES 8
/* Processes of one instance, other than the one the keeper started, that
 * spoke to it (a daemon's forked-off main process). */
#define LR_EXTRAS 16

enum state { I_FREE, I_STARTING, I_SERVING, I_STOPPING };

struct instance {
	enum state state;
	unsigned gen;
	pid_t pid; /* the process the keeper started */
	bool running;
	int status; /* wait status of the last of its processes reaped */
	long long started_ms, deadline_ms;
	long long stop_ms; /* when it was sent the stop signal: 0 before */
	bool killed;
	/* A restart's times, for its report (0: not reached): when it was
	 * asked (the first of the signals it answers), and when this instance
	 * took every kept socket. */
	long long asked_ms, adopted_ms;
	/* An old instance: the restart that replaced it, reported once it is
	 * gone (gen 0: it was not replaced). */
	struct lr_restart_phases replaced;
	/* A new instance stopped for not taking its sockets in time while no
	 * other served: once gone, the program is started again as after a
	 * crash. */
	bool failed_alone;
	int nextra;
	pid_t extra[LR_EXTRAS];
	int extra_fd[LR_EXTRAS]; /* pidfd; -1 once that process is gone */
};

/* The keeper's whole state: one process, one thread, one loop. */
struct keeper {
	const struct lr_keeper_opts *o;
	pid_t self;
	int listener, sigfd;
	sigset_t orig_mask;
	struct lr_store store;
	struct instance inst[LR_INSTANCES];
	unsigned last_gen;
	bool quitting, done;
	unsigned quit_gen; /* whose status the keeper exits with */
	int exit_status;
	long long respawn_at; /* 0: none due */
	int respawn_ms;
	/* A restart asked for while one is under way: it runs as soon as that
	 * one ends (taken over, failed), however many signals asked for it
	 * meanwhile (they coalesce). asked_ms is the first of them; asks, how
	 * many. */
	bool pending;
	long long pending_asked_ms;
	unsigned pending_asks;
	/* Restarts carried out and failed, and the last one carried out. */
	unsigned restarts_done, restarts_failed;
	struct lr_restart_phases last;
	/* A child of ours was seen exiting before it could be told to an
	 * instance: what it leaves behind is not ours to judge until it is
	 * reaped and the tree looked at again. */
	bool unsettled;
	struct lr_conns conns;         /* requests of the tree, in flight */
	struct lr_outsiders outsiders; /* who else connected */
	long long hangup_said_s;       /* the last second a hang-up was said */
	long long hangups_unsaid;
	/* Given up for a moment when out of fds, so that a connection the
	 * keeper cannot take is taken and closed, not left to wake poll for
	 * ever. */
	int reserve_fd;
	long long fds_said_s;
	/* The board (keepwire.h): a memfd its instances map, and the keeper's
	 * own mapping of it; -1 and NULL where it could not be made. */
	int board_fd;
	_Atomic uint32_t *board;
};

/* keeper.c: its lines (on stderr, "libreuse: keeper[PID]: "), its clock. */
void lr_keeper_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lr_keeper_say_line(const char *line);
long long lr_keeper_now_ms(void);

/* instances.c: the instance table and the processes of each. */
bool lr_inst_alive(const struct instance *in);
struct instance *lr_inst_by_state(struct keeper *k, enum state s);
struct instance *lr_inst_by_gen(struct keeper *k, unsigned gen);
void lr_inst_signal(const struct instance *in, int sig);
void lr_inst_kill(struct instance *in);
void lr_inst_stop(struct keeper *k, struct instance *in, int sig);
void lr_inst_set_serving(struct keeper *k, unsigned gen);
struct instance *lr_inst_start(struct keeper *k, enum state s);
void lr_inst_add_extra(struct instance *in, pid_t pid, int pidfd);
bool lr_inst_known(const struct keeper *k, pid_t pid);
bool lr_inst_started_by_us(const struct keeper *k, pid_t pid);
void lr_inst_claim_orphans(struct keeper *k);
void lr_inst_reap(struct keeper *k);

/* restarts.c: a restart asked for (queued while one is under way), the
 * keeper asked to quit, a new instance ready, deadlines of instances, and
 * what follows an instance's end. */
void lr_restart_ask(struct keeper *k);
void lr_restart_quit(struct keeper *k, int sig);
void lr_restart_check_ready(struct keeper *k);
void lr_restart_deadlines(struct keeper *k, long long now);
void lr_restart_respawn_due(struct keeper *k, long long now);
void lr_restart_settle(struct keeper *k);

/* requests.c: connections accepted (their credentials looked at), requests
 * served, those that never came hung up on. */
void lr_requests_accept(struct keeper *k);
void lr_requests_serve(struct keeper *k, struct lr_conn *c);
void lr_requests_deadlines(struct keeper *k, long long now);

#endif

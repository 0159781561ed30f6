/* The keeper: `libreuse run --keep` stays the parent of the program and
 * holds a reference to every socket its instances keep, so that a restart
 * (a new instance takes the sockets, then the old one is stopped) or a crash
 * with --respawn refuses and resets no connection: they wait in the kept
 * socket's queue. */
#ifndef LIBREUSE_KEEPER_H
#define LIBREUSE_KEEPER_H

#include <stdbool.h>

struct lr_keeper_opts {
	char **argv;          /* the program and its arguments */
	int restart_signal;   /* to the keeper: start a new instance (SIGHUP) */
	int stop_signal;      /* to an old instance once replaced (SIGTERM) */
	int ready_timeout_ms; /* for a new instance to take every kept socket */
	int stop_timeout_ms;  /* after stop_signal, before SIGKILL */
	bool respawn;         /* start the program again when it exits by itself */
	bool log_actions;     /* the rules' log level is "actions" or more: each
			       * restart's phases are said */
};

/* Runs the program under a keeper until it is over; returns the exit status
 * for the command (the program's own, 128+N for a signal, 126/127 when it
 * cannot be started). The environment must already hold what the program's
 * libreuse needs (LD_PRELOAD, rules); the keeper adds its own address. */
int lr_keeper_run(const struct lr_keeper_opts *o);

#endif

/* The connections of the keeper's own tree whose request has not arrived
 * yet. Each has a deadline, the table is bounded, and nothing here blocks:
 * a peer that says nothing holds one slot for a second, never the keeper. */
#ifndef LIBREUSE_CONNS_H
#define LIBREUSE_CONNS_H

#include "peer.h"

#include <stdbool.h>

/* Requests in flight at once; a restart needs one per kept socket of the
 * new instance, a few at a time. */
#define LR_CONNS_MAX 64
/* How long a request may take to arrive once connected. */
#define LR_CONN_TIMEOUT_MS 1000

struct lr_conn {
	int fd; /* -1: slot free */
	struct lr_peer peer;
	bool instance; /* the peer is a process the keeper counts to an instance */
	/* Not of the keeper's tree, but of its user (or root): may ask the
	 * keeper's state, nothing else. */
	bool asker;
	long long since_ms, deadline_ms;
};

struct lr_conns {
	struct lr_conn c[LR_CONNS_MAX];
};

void lr_conns_init(struct lr_conns *t);

/* Takes conn and peer (both closed here when the slot goes). When the table
 * is full, the oldest connection of a peer that is not an instance goes
 * first, else the oldest; *evicted then says whose (pid), else 0. */
struct lr_conn *lr_conns_add(struct lr_conns *t, int conn, const struct lr_peer *peer, bool instance,
			     long long now_ms, pid_t *evicted);

void lr_conns_drop(struct lr_conn *c);

/* The earliest deadline, or 0 when none is held. */
long long lr_conns_next_deadline(const struct lr_conns *t);

void lr_conns_free(struct lr_conns *t);

#endif

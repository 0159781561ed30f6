/* Who may ask the keeper: only processes of its own tree, whatever user
 * they run as now (a daemon drops privileges after bind). */
#ifndef LIBREUSE_PEER_H
#define LIBREUSE_PEER_H

#include <stdbool.h>
#include <sys/types.h>

struct lr_peer {
	pid_t pid;
	uid_t uid;
	int pidfd; /* the peer itself (SO_PEERPIDFD, Linux 6.5+), or -1 */
};

/* The process at the other end of a connected AF_UNIX socket. -1 on error. */
int lr_peer_of(int conn, struct lr_peer *p);

/* Whether p descends from root (the keeper is a child subreaper, so a
 * daemon that double-forks stays below it). With a pidfd, also that p is
 * still the process that connected, not a reused pid. */
bool lr_peer_descends(const struct lr_peer *p, pid_t root);


void lr_peer_close(struct lr_peer *p);

#endif

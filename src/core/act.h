/* Carrying out the policy's decision on a real socket — inject options,
 * rewrite, deny, bind a source, retry, keep — and the log lines that tell
 * of it, for every front end. The front end says how its calls reach the
 * socket (struct lr_socket_ops) and who made the call (struct lr_caller):
 * the shim acts on the program's own fd with libc's real functions; the
 * seccomp supervisor on a duplicate of the program's socket. The result and
 * errno returned are exactly the real call's (or the deny errno). */
#ifndef LIBREUSE_ACT_H
#define LIBREUSE_ACT_H

#include "keepwire.h"
#include "log.h"
#include "policy.h"
#include "rules.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Rules in force and where their log lines go; immutable once published. */
struct lr_loaded {
	struct lr_table *table;
	struct lr_sink sink;
};

#include "sockbits.h"

struct lr_caller;

/* How a front end's calls reach the socket, and what it records of it. */
struct lr_socket_ops {
	int (*bind)(int fd, const struct sockaddr *addr, socklen_t len);
	int (*connect)(int fd, const struct sockaddr *addr, socklen_t len);
	int (*setsockopt)(int fd, int level, int name, const void *val, socklen_t len);
	/* Clears, then sets, LR_SOCK_* bits of what is known of fd. */
	void (*mark)(const struct lr_caller *who, int fd, uint16_t clear, uint16_t set);
	/* keep: a kept socket in place of the caller's fd (1), or why not (0);
	 * the caller's bound socket handed to the keeper (1), or why not (0). */
	int (*adopt)(const struct lr_caller *who, int fd, const struct lr_keep_sock *want,
		     const char *name, struct lr_keep_outcome *out);
	int (*offer)(const struct lr_caller *who, int fd, struct lr_keep_outcome *out);
	/* Whether line `said` (LR_SAID_*) is yet to be said for who's process:
	 * true once, then false. Kept by the front end, which knows what a
	 * process is (the library: its own; the supervisor: each it serves). */
	bool (*first)(const struct lr_caller *who, unsigned said);
};

/* Lines said once a process (struct lr_socket_ops.first). */
enum {
	LR_SAID_IO_URING = 1,  /* io_uring_setup passed: the ring's calls pass no rule */
	LR_SAID_VERDICT = 2,   /* at its first listener: what the program never sets */
	LR_SAID_NO_KEEPER = 4, /* keep not possible: no keeper, no systemd socket */
};

/* Who made the call, for the log lines and the explanations. */
struct lr_caller {
	const struct lr_socket_ops *ops;
	pid_t pid;           /* 0: this process */
	uid_t euid;          /* whose binds the kernel checks; (uid_t)-1: this process's */
	const char *program; /* the name log lines give */
	void *ctx;           /* the front end's own */
};

int lr_act_bind(struct lr_loaded *l, const struct lr_caller *who, int fd,
		const struct sockaddr *addr, socklen_t len, const struct lr_call *c,
		const struct lr_sockinfo *si);
int lr_act_connect(struct lr_loaded *l, const struct lr_caller *who, int fd,
		   const struct sockaddr *addr, socklen_t len, const struct lr_call *c,
		   const struct lr_sockinfo *si);

/* The first datagram of a UDP socket the record does not show bound (c:
 * its destination, op LR_OP_SEND), before it goes: on a socket still
 * unbound, a rule's deny, or its source bind with the rule's options — the
 * bind the kernel would otherwise make itself, to a port it picks. 0 when
 * the datagram is to go (the front end sends it); -1 with errno when the
 * program must see its send fail (denied, or the source not to be had).
 * *said: a line about the datagram is due, lr_act_sent's. */
int lr_act_send(struct lr_loaded *l, const struct lr_caller *who, int fd, const struct lr_call *c,
		const struct lr_sockinfo *si, bool *said);
/* That datagram's line, once sent: its outcome (ret, e) when known; else
 * that it went to the kernel (the supervisor: the program sends it). */
void lr_act_sent(struct lr_loaded *l, const struct lr_caller *who, int fd, const struct lr_call *c,
		 const struct lr_sockinfo *si, bool known, int ret, int e);

/* A later datagram of a sender whose first was said, to a destination it
 * had not sent to (c), once sent (ret, e): its line at level "all". Rules
 * act at a socket's first datagram only, so none is applied or named here;
 * the front end says each destination of a socket once (as far as it
 * remembers them), never every datagram. */
void lr_act_sent_to(struct lr_loaded *l, const struct lr_caller *who, int fd,
		    const struct lr_call *c, const struct lr_sockinfo *si, int ret, int e);

/* Whether carrying out the decision for this call would make it differ
 * from the call the program asked for (deny, rewrite, source, injected
 * options, keep, retry; never in a dry run). When it would not, a front end
 * that can let the program make the call itself does so, and reports it
 * afterwards with lr_act_bind/lr_act_connect through ops that return the
 * outcome the program had. fd: the socket, asked whether it is bound when a
 * source rule matches. */
bool lr_act_changes(struct lr_loaded *l, int fd, const struct lr_call *c,
		    const struct lr_sockinfo *si);

/* The errors that make a failed bind or connect a conflict: the kernel
 * refused the address. */
static inline bool lr_is_conflict(int e)
{
	return e == EADDRINUSE || e == EADDRNOTAVAIL || e == EACCES;
}

/* A bind or connect no rule could match, made already by the front end
 * (ret, e): its line, if one is due (a conflict). errno is left as e. */
void lr_act_unruled(struct lr_loaded *l, const struct lr_caller *who, int fd,
		    const struct lr_call *c, const struct lr_sockinfo *si, int ret, int e);

/* The program's own setsockopt of SO_REUSEADDR or SO_REUSEPORT on a socket
 * whose kind is known (st): done through who's ops — or, when forced, not
 * done and reported as success — recorded, and logged at level "all" when
 * l is given. Returns what the program sees, errno as it must see it. */
int lr_act_reuse_option(struct lr_loaded *l, const struct lr_caller *who, int fd, uint16_t st,
			int name, const void *val, socklen_t len);

/* After the program's listen(fd, backlog) (ret, err) on a socket recorded
 * as st: a listener a keep rule bound goes to the keeper; at level "all"
 * the line, with the backlog as asked, and once the verdict on what the
 * program never does — once in the life of the process this runs in, which
 * under the supervisor is once for all the programs it serves. */
void lr_act_listened(struct lr_loaded *l, const struct lr_caller *who, int fd, uint16_t st,
		     int backlog, int ret, int err);

/* The program's shutdown() of a socket recorded as kept: true when it must
 * not reach the kernel (it would stop the socket for every holder, the
 * next instance too), and said so; false when fd is no longer the kept
 * socket (the number was reused), and the record is cleared. */
bool lr_act_shutdown(struct lr_loaded *l, const struct lr_caller *who, int fd, uint16_t st);

/* io_uring_setup by who: true when the rules refuse it (io_uring =
 * "refuse"; the front end answers ENOSYS), said at level "actions"; else,
 * when first (once per process), the line saying the ring's socket
 * operations pass no rule. */
bool lr_act_io_uring(struct lr_loaded *l, const struct lr_caller *who, bool first);

/* A trapped call the front end could not decode (what): refused with
 * ENOSYS, and said at level "errors". */
void lr_act_undecoded(struct lr_loaded *l, const struct lr_caller *who, const char *what);

/* At the end: counts per kind, lines suppressed and dropped, if anything
 * was done or held back. */
void lr_act_summary(struct lr_loaded *l, const struct lr_caller *who);

#endif

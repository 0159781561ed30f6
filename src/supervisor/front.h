/* The supervisor as a front end of the core: its calls reach the program's
 * socket through a duplicate (pidfd_getfd) — the same socket — with the
 * supervisor's own system calls, checked as the kernel would check the
 * program's; what it knows of each socket is kept by socket inode; a kept
 * socket goes into the program with SECCOMP_IOCTL_NOTIF_ADDFD. */
#ifndef LIBREUSE_FRONT_H
#define LIBREUSE_FRONT_H

#include "act.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The trapped call a worker thread is acting for. */
struct lr_trapped {
	int listener;
	uint64_t id;     /* the notification */
	pid_t tgid;
	int pidfd;
	int target;      /* the program's fd number */
	int dup;         /* the supervisor's duplicate of it */
	ino_t ino;       /* the socket (0: not asked yet, lr_front_ino) */
	bool retried;    /* the program gave up this call once (a signal) and made it again */
	bool udp;        /* the socket is UDP's */
	/* The program made this call itself (answered CONTINUE): the core's
	 * bind and connect return its outcome (ret, err) and do nothing. */
	bool made;
	int ret, err;
};

/* Once: the keeper to ask (from the environment), systemd's sockets when
 * systemd started the supervisor (held for keep: sdfds.h), and the
 * kernel's lowest unprivileged port. */
void lr_front_init(void);

/* The caller for one trapped call of process (tgid, program, euid). */
void lr_front_caller(struct lr_caller *who, struct lr_trapped *t, const char *program, uid_t euid);

/* The errno the program's own bind of its socket dup to addr most likely
 * met, learnt afterwards: the same bind tried on a fresh socket of the same
 * kind with the same options, as the program would be checked (its
 * privileges). A bind that now succeeds met EADDRINUSE: the one refusal
 * that goes away by itself. For the trapped call t (its process). */
int lr_front_bind_errno(struct lr_trapped *t, int dup, const struct sockaddr *addr, socklen_t len);

/* The kind of socket dup is (LR_SOCK_KNOWN, V6, TCP, UDP bits), in one
 * system call where the kernel names its protocol (the socket's
 * "system.sockprotoname"), else asked as the core asks. False when it is
 * not an IP socket. errno is preserved. */
bool lr_front_kind(int dup, uint16_t *bits);

/* The inode of the socket at fd of thread tid, read from /proc without
 * reaching for it (one readlink): 0 when fd is no socket, or is gone. For
 * a record only, never to act on: the fd may change once read. */
ino_t lr_front_ino_at(pid_t tid, int fd);

/* The inode of t's socket, asked of its duplicate the first time (0: it
 * is none, or the duplicate is closed). */
ino_t lr_front_ino(struct lr_trapped *t);

/* Whether any socket has a record yet: until one has, a trap need not ask
 * its socket's inode to find none. */
bool lr_front_any(void);

/* What is recorded of a socket (LR_SOCK_* bits), by inode (0: nothing). */
uint16_t lr_front_get(ino_t ino);
void lr_front_set(ino_t ino, uint16_t bits);
void lr_front_update(ino_t ino, uint16_t clear, uint16_t set);

#endif

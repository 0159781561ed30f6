/* What a program under libreuse and its keeper say to each other: one
 * fixed-size message each way over an AF_UNIX SOCK_SEQPACKET connection to
 * the keeper's abstract address, with a socket passed by SCM_RIGHTS. An
 * abstract address needs no file: a program that chroots or closes every fd
 * at start-up still reaches it (it connects afresh for every request). */
#ifndef LIBREUSE_KEEPWIRE_H
#define LIBREUSE_KEEPWIRE_H

#include "addr.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The keeper's abstract socket name, and which start of the program (its
 * generation) a process belongs to; both set by the keeper for each
 * instance it starts, inherited by the instance's children. */
#define LR_KEEPER_ENV "LIBREUSE_KEEPER"
#define LR_KEEPER_GEN_ENV "LIBREUSE_KEEPER_GEN"

#define LR_KEEP_MAGIC 0x6c726b31u /* "lrk1" */

enum lr_keep_op {
	LR_KEEP_OFFER = 1, /* program → keeper: hold this socket (passed along) */
	LR_KEEP_ADOPT = 2, /* program → keeper: a kept socket for this address? */
	/* 3: the board's own request, before it came along with an adopt or
	 * an offer (LR_KEEP_WANT_BOARD). */
	/* `libreuse who` → keeper: its state, as lines of text in one message
	 * of at most LR_KEEP_STATE_MAX bytes (asked by a process of the
	 * keeper's user or root, of its tree or not). */
	LR_KEEP_STATE = 4,
};
#define LR_KEEP_STATE_MAX 4096

/* The keeper's board: a page its instances map read-only. Its first word
 * is the generation now serving (0 before the first), raised once a new
 * instance took every kept socket and before the old one is told to stop:
 * a process of an older generation then takes no more connections from a
 * kept listener (src/preload/keptmode.c), so none is accepted by a process
 * on its way out. */
#define LR_KEEPER_BOARD_SIZE 4096

enum lr_keep_status {
	LR_KEEP_OK = 1,      /* offer taken; or adopt: the socket comes along */
	LR_KEEP_NONE = 2,    /* adopt: nothing kept there (reason may say why not) */
	LR_KEEP_REFUSED = 3, /* the asker is not one of the keeper's instances */
	LR_KEEP_FAILED = 4,  /* the keeper could not do it (reason says why) */
};

/* A socket's identity, as adoption compares it. */
struct lr_keep_sock {
	uint8_t proto;  /* LR_PROTO_TCP / LR_PROTO_UDP */
	uint8_t family; /* the socket's: AF_INET / AF_INET6 */
	uint8_t v6only; /* IPV6_V6ONLY of an AF_INET6 socket */
	uint16_t port;
	struct lr_addr addr; /* as bound (v4-mapped on a dual-stack socket) */
};

struct lr_keep_msg {
	uint32_t magic;
	uint32_t op;     /* enum lr_keep_op, or enum lr_keep_status in a reply */
	uint32_t gen;    /* request: the asker's generation (0: unknown) */
	int32_t pid;     /* reply: the keeper's pid */
	struct lr_keep_sock sock;
	/* Request of an adopt or an offer: LR_KEEP_WANT_BOARD, the board comes
	 * along with the reply (an adopt's: after the socket; an offer's:
	 * alone), saving the asker a request of its own. */
	uint32_t want;
	char reason[156]; /* reply: why not, in words; NUL-terminated */
};
#define LR_KEEP_WANT_BOARD 1u

/* The 32-bit library speaks to the 64-bit keeper: fixed-width fields only,
 * laid out the same by both. */
_Static_assert(sizeof(struct lr_keep_msg) == 200, "one layout for 32- and 64-bit programs");

/* What a keep came to, in words for the log line. */
struct lr_keep_outcome {
	char from[320]; /* adopted or kept: "the keeper (pid N)", "systemd fd 3 \"web\"" */
	char why[320];  /* not: why, or "" when there was simply nothing to take */
	bool no_keeper; /* neither a keeper nor systemd's sockets: said once a process
			   (LR_SAID_NO_KEEPER, kept by the front end) */
};

/* len bytes as one message over a connected AF_UNIX socket, with fd (or
 * -1), and extra (or -1) after it, passed along: 0, or -1 with errno
 * (EPROTO: sent short). The receiver: the length received (or -1), fd[0]
 * and fd[1] the first two fds that came (O_CLOEXEC; any more are closed),
 * -1 where none did. */
int lr_send_fd(int sock, const void *data, size_t len, int fd, int extra);
long lr_recv_fd(int sock, void *data, size_t len, int fd[2]);

/* One message, and fd and extra (or -1) with it. 0, or -1 with errno. Both
 * are one system call and async-signal-safe. recv gives *fd -1 when none
 * came, and the second fd at *extra (closed when extra is NULL); a message
 * of the wrong size or magic is EPROTO. Received fds are O_CLOEXEC. */
int lr_keep_send(int sock, const struct lr_keep_msg *m, int fd, int extra);
int lr_keep_recv(int sock, struct lr_keep_msg *m, int *fd, int *extra);

/* A bound socket's identity, asked of the kernel; -1 when fd is not a
 * bound TCP or UDP socket of AF_INET or AF_INET6. errno is preserved. */
int lr_keep_identify(int fd, struct lr_keep_sock *out);

/* Whether two sockets are the same for adoption: protocol, family,
 * address, port and IPV6_V6ONLY. */
int lr_keep_same(const struct lr_keep_sock *a, const struct lr_keep_sock *b);

#endif

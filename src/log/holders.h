/* Who holds a port: the local sockets bound to it, asked of the kernel the
 * way ss(8) does (NETLINK_SOCK_DIAG with a port filter), else read from
 * /proc/net/{tcp,tcp6,udp,udp6}; and the processes owning them, by the
 * socket inode in /proc/PID/fd. Used on a failed call only, and by the
 * `libreuse who` command. No malloc, no stdio: it may run inside any call of
 * the host, and every file it opens is closed before it returns. */
#ifndef LIBREUSE_HOLDERS_H
#define LIBREUSE_HOLDERS_H

#include "addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Enough to name the holders of one port in one log line. */
#define LR_HOLDERS_MAX 8

/* Linux's socket states (include/net/tcp_states.h); UDP reports
 * LR_ST_CLOSE for a bound, unconnected socket. */
enum {
	LR_ST_ESTABLISHED = 1,
	LR_ST_SYN_SENT,
	LR_ST_SYN_RECV,
	LR_ST_FIN_WAIT1,
	LR_ST_FIN_WAIT2,
	LR_ST_TIME_WAIT,
	LR_ST_CLOSE,
	LR_ST_CLOSE_WAIT,
	LR_ST_LAST_ACK,
	LR_ST_LISTEN,
	LR_ST_CLOSING,
};

struct lr_holder {
	uint8_t proto; /* LR_PROTO_TCP / LR_PROTO_UDP */
	uint8_t state;
	bool has_uid;  /* TIME_WAIT sockets belong to nobody */
	bool v6only;   /* an IPv6 socket that does not take IPv4 */
	uint16_t port;
	uint32_t uid;
	uint64_t inode;
	struct lr_addr addr;
	int pid;          /* 0 when no process this user can see owns it */
	char program[16]; /* /proc/PID/comm */
};

struct lr_holders {
	size_t n;     /* entries in h */
	size_t total; /* sockets found, which may exceed LR_HOLDERS_MAX */
	bool from_proc; /* read from /proc/net: netlink was not available */
	struct lr_holder h[LR_HOLDERS_MAX];
};

/* Finds the sockets of proto (LR_PROTO_TCP or LR_PROTO_UDP) bound to port,
 * IPv4 and IPv6, listeners first, and their owners. Returns 0, or -1 with
 * nothing found when neither source could be read. errno is preserved. */
int lr_holders_find(uint8_t proto, uint16_t port, struct lr_holders *out);

/* The two sources on their own, without owners (for tests and `who`). */
int lr_holders_netlink(uint8_t proto, uint16_t port, struct lr_holders *out);
int lr_holders_procnet(uint8_t proto, uint16_t port, struct lr_holders *out);
/* Fills pid and program of every holder with an inode, as far as
 * /proc/PID/fd of other processes can be read. */
void lr_holders_owners(struct lr_holders *h);

struct lr_buf;
/* "pid 12 (nginx)": a holder whose owner was found (h->pid != 0). */
void lr_holder_put_process(struct lr_buf *b, const struct lr_holder *h);

/* "LISTEN", "TIME_WAIT", ...; a bound UDP socket is "UNCONN" as in ss. */
const char *lr_holder_state_name(const struct lr_holder *h);

#endif

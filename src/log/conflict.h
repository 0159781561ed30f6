/* The facts of one refused bind or connect in the host — the socket's own
 * options, its uid, the sysctls that matter, the holders of the port — and
 * the reason explain.c derives from them. Failure path only. */
#ifndef LIBREUSE_CONFLICT_H
#define LIBREUSE_CONFLICT_H

#include "explain.h"

struct lr_conflict {
	bool has_holders;
	struct lr_holders holders;
	char reason[384];
};

/* addr/port: the address the kernel refused (after any rewrite). errno is
 * preserved. */
void lr_conflict_gather(int fd, uint8_t op, uint8_t proto, const struct lr_addr *addr,
			uint16_t port, int err, uid_t uid, struct lr_conflict *out);

/* Reads the sysctls explain.c may need into r (shared with `libreuse who`). */
void lr_conflict_sysctls(struct lr_refusal *r);

#endif

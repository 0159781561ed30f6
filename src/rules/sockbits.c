/* A socket's record of LR_SOCK_* bits (sockbits.h): what it says of the
 * socket, and the bits asked of the kernel for a socket not seen created.
 * Every front end and the core read the record; it is the rules' facts of
 * a socket, so it lives beside them. */
#include "sockbits.h"

#include <errno.h>

/* What a record of LR_SOCK_* bits says of a socket. */
void lr_sockinfo_of(uint16_t st, struct lr_sockinfo *si, uint8_t *proto)
{
	si->family = (st & LR_SOCK_V6) ? AF_INET6 : AF_INET;
	si->prog_on = (st >> LR_SOCK_PROG_ON_SHIFT) & 3u;
	si->prog_off = (st >> LR_SOCK_PROG_OFF_SHIFT) & 3u;
	si->bound = (st & LR_SOCK_BOUND) != 0;
	si->injected = (st >> LR_SOCK_INJECTED_SHIFT) & 3u;
	*proto = (st & LR_SOCK_TCP) ? LR_PROTO_TCP : (st & LR_SOCK_UDP) ? LR_PROTO_UDP : 0;
}

bool lr_sock_ask(int fd, uint16_t *bits)
{
	int domain, type, protocol, saved = errno;
	socklen_t l1 = sizeof(int), l2 = sizeof(int), l3 = sizeof(int);
	bool ok = getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l1) == 0 &&
		  getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l2) == 0 &&
		  getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &l3) == 0 &&
		  (domain == AF_INET || domain == AF_INET6);
	errno = saved;
	if (ok)
		*bits = lr_sock_bits(domain, type, protocol);
	return ok;
}

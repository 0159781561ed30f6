/* Nothing escapes silently: the kernel's sockets now, on the ports of the
 * audited programs, that no line of the trail explains (a static helper,
 * another libc, a process started before libreuse). Asked of sock_diag
 * through the core's holders, as `libreuse who` does. */
#ifndef LIBREUSE_AUDIT_UNSEEN_H
#define LIBREUSE_AUDIT_UNSEEN_H

#include "audit_model.h"

/* Fills each program's unseen list from the kernel's listeners (TCP) and
 * bound sockets (UDP) on the ports its listeners used. */
void au_unseen_check(struct au_model *m);
/* The same for the whole host: every port with a TCP listener or a bound
 * UDP socket now (the ports read from /proc/net, their owners asked as
 * `who` asks), into m->host_unseen. */
void au_unseen_check_host(struct au_model *m);

#endif

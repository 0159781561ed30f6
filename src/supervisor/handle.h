/* One trapped call, from its notification to its answer: read what the
 * program passed, check the call is still waiting, reach its socket, let
 * the core decide and act, answer. */
#ifndef LIBREUSE_HANDLE_H
#define LIBREUSE_HANDLE_H

#include <linux/seccomp.h>

void lr_handle(int listener, const struct seccomp_notif *req);

#endif

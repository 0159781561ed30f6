/* The seccomp user-notification plumbing: receiving a trapped call, reading
 * its arguments out of the program, reaching its socket, answering. */
#ifndef LIBREUSE_NOTIFY_H
#define LIBREUSE_NOTIFY_H

#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Blocks until a trapped call arrives. 0, or -1 with errno (ENOENT: the
 * call was gone before it could be received, a normal event). */
int lr_notify_recv(int listener, struct seccomp_notif *req);

/* Whether the call is still waiting: checked after reading its memory and
 * before acting on what was read (the thread may have died, and its pid
 * been reused). */
bool lr_notify_valid(int listener, uint64_t id);

/* Copies len bytes at addr out of process pid. 0, or -1. */
int lr_notify_read(pid_t pid, uint64_t addr, void *buf, size_t len);

/* A pidfd for the process of thread tid (any thread, not only the leader)
 * and its thread group id. -1 when it is gone. */
int lr_notify_pidfd(pid_t tid, pid_t *tgid);

/* The same, kept open for the thread's next calls: each take is handed
 * back with lr_notify_pidfd_put (gone: the process was found dead, so the
 * entry is dropped). A pidfd names one process for good, so a kept one is
 * never another's: once its process is gone, pidfd_getfd says ESRCH. */
int lr_notify_pidfd_take(pid_t tid, pid_t *tgid);
void lr_notify_pidfd_put(int pidfd, bool gone);

/* The answers. Each returns 0, or -1 with errno (ENOENT: the program gave
 * up the call — a signal — and will make it again: not an error). */
int lr_notify_return(int listener, uint64_t id, long val, int err);
int lr_notify_continue(int listener, uint64_t id);
/* Installs fd in the program at number target (replacing what is there)
 * with O_CLOEXEC when cloexec. */
int lr_notify_addfd(int listener, uint64_t id, int fd, int target, bool cloexec);

/* Asks the kernel for the faster wake-up of the supervisor's answers
 * (Linux 6.6); harmless where missing. */
void lr_notify_sync_wakeup(int listener);

#endif

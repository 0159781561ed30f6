/* What this kernel offers the supervisor and the keeper, probed once (in
 * the command, never in a program): each feature with the Linux version
 * that brought it, so a missing one is said in one line, and its fallback
 * (or a clean refusal) follows. */
#ifndef LIBREUSE_KERNEL_H
#define LIBREUSE_KERNEL_H

#include <fcntl.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>

/* The names of what newer kernels brought, for builds against older
 * headers (Debian 12's are 6.1's): defined here once, for every user. */
#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9 */
#endif
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5) /* Linux 5.19 */
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64) /* Linux 6.6 */
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

enum lr_kfeature {
	LR_K_USER_NOTIF,   /* seccomp user notification: the supervisor itself */
	LR_K_PIDFD_OPEN,   /* pidfd_open: the supervisor's and keeper's hold on a process */
	LR_K_PIDFD_GETFD,  /* pidfd_getfd: a program's socket, duplicated */
	LR_K_NOTIF_ADDFD,  /* SECCOMP_IOCTL_NOTIF_ADDFD: a kept socket put into a program */
	LR_K_KILLABLE_RECV, /* SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV */
	LR_K_PEERPIDFD,    /* SO_PEERPIDFD: the keeper's peer, not a reused pid */
	LR_K_SYNC_WAKE_UP, /* SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP */
	LR_K_PIDFD_THREAD, /* PIDFD_THREAD: a pidfd for a thread */
	LR_K_COUNT
};

struct lr_kfeature_info {
	const char *name;    /* as LIBREUSE_TEST_KERNEL_LACKS names it */
	const char *what;    /* in words */
	const char *since;   /* "Linux 6.9" */
	const char *without; /* what happens without it */
};

const struct lr_kfeature_info *lr_kfeature(enum lr_kfeature f);

/* Whether the kernel has f (probed at the first ask, then remembered).
 * LIBREUSE_TEST_KERNEL_LACKS (a comma-separated list of names) makes the
 * probes of those fail, so each fallback and message runs on any kernel. */
bool lr_kernel_has(enum lr_kfeature f);

/* Whether the kernel has f but a filter of this process's denies it
 * (pidfd_getfd only), and the line saying so. */
bool lr_kernel_refused(enum lr_kfeature f);
void lr_kernel_refused_line(enum lr_kfeature f, char *out, size_t n);

/* The line saying f is missing: "this kernel (6.1.0-...) has no WHAT (NAME,
 * Linux X): WITHOUT". */
void lr_kernel_lacks_line(enum lr_kfeature f, char *out, size_t n);

#endif

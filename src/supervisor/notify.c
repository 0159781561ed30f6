#include "notify.h"

#include "child.h"
#include "kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

int lr_notify_recv(int listener, struct seccomp_notif *req)
{
	memset(req, 0, sizeof(*req)); /* the kernel wants it zeroed */
	int r;
	do
		r = ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req);
	while (r < 0 && errno == EINTR);
	return r;
}

bool lr_notify_valid(int listener, uint64_t id)
{
	return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

int lr_notify_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -1;
}

/* Tgid from /proc/TID/status, for kernels without PIDFD_THREAD. */
static pid_t tgid_of(pid_t tid)
{
	char buf[1024];
	if (lr_child_read(tid, "status", buf, sizeof(buf)) < 0)
		return -1;
	const char *t = strstr(buf, "\nTgid:");
	return t ? (pid_t)strtol(t + 6, NULL, 10) : -1;
}

/* *exact: the pidfd names thread tid itself (a leader's names its process,
 * whose pid tid stays while any of it lives), not only its process. */
static int open_pidfd(pid_t tid, pid_t *tgid, bool *exact)
{
	/* Without PIDFD_THREAD only a thread-group leader opens: then tid is
	 * the process, and /proc need not be asked (the common case). */
	int fd = (int)syscall(SYS_pidfd_open, tid, 0);
	*exact = fd >= 0;
	if (fd >= 0) {
		*tgid = tid;
		return fd;
	}
	*tgid = tgid_of(tid);
	if (*tgid < 0)
		return -1;
	/* Another thread: itself where the kernel can (Linux 6.9), else its
	 * process; either way pidfd_getfd reaches the process's files. */
	fd = lr_kernel_has(LR_K_PIDFD_THREAD) ? (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD) : -1;
	*exact = fd >= 0;
	if (fd < 0)
		fd = (int)syscall(SYS_pidfd_open, *tgid, 0);
	return fd;
}

int lr_notify_pidfd(pid_t tid, pid_t *tgid)
{
	bool exact;
	return open_pidfd(tid, tgid, &exact);
}

/* Threads whose pidfd is kept open, shared by the receiving thread and the
 * pool, under `lock`. A slot in use (users > 0) is never closed. */
#define LR_PIDFDS 512
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	pid_t tid, tgid;
	int fd; /* -1: free */
	int users;
	bool gone;
	unsigned long used; /* when last taken, for eviction */
} kept[LR_PIDFDS];
static unsigned long tick;

static void init_kept(void)
{
	static bool done; /* under `lock` */
	if (done)
		return;
	for (int i = 0; i < LR_PIDFDS; i++)
		kept[i].fd = -1;
	done = true;
}

int lr_notify_pidfd_take(pid_t tid, pid_t *tgid)
{
	pthread_mutex_lock(&lock);
	init_kept();
	for (int i = 0; i < LR_PIDFDS; i++) {
		if (kept[i].fd >= 0 && kept[i].tid == tid && !kept[i].gone) {
			kept[i].users++;
			kept[i].used = ++tick;
			*tgid = kept[i].tgid;
			int fd = kept[i].fd;
			pthread_mutex_unlock(&lock);
			return fd;
		}
	}
	pthread_mutex_unlock(&lock);
	bool exact;
	int fd = open_pidfd(tid, tgid, &exact);
	/* Kept only when it names the thread itself: a process's pidfd kept
	 * for a thread number could, once that thread is gone and its number
	 * another process's thread's, reach the wrong process's files. */
	if (fd < 0 || !exact)
		return fd;
	pthread_mutex_lock(&lock);
	int slot = -1;
	for (int i = 0; i < LR_PIDFDS; i++) {
		if (kept[i].fd < 0) {
			slot = i;
			break;
		}
		if (kept[i].users == 0 && (slot < 0 || kept[i].used < kept[slot].used))
			slot = i;
	}
	if (slot >= 0) {
		if (kept[slot].fd >= 0)
			close(kept[slot].fd);
		kept[slot].tid = tid;
		kept[slot].tgid = *tgid;
		kept[slot].fd = fd;
		kept[slot].users = 1;
		kept[slot].gone = false;
		kept[slot].used = ++tick;
	}
	pthread_mutex_unlock(&lock);
	/* No slot free of users: this one is the caller's alone, closed at put
	 * (it is found in no slot). */
	return fd;
}

void lr_notify_pidfd_put(int pidfd, bool gone)
{
	if (pidfd < 0)
		return;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < LR_PIDFDS; i++) {
		if (kept[i].fd == pidfd) {
			kept[i].users--;
			kept[i].gone = kept[i].gone || gone;
			if (kept[i].gone && kept[i].users == 0) {
				close(kept[i].fd);
				kept[i].fd = -1;
			}
			pthread_mutex_unlock(&lock);
			return;
		}
	}
	pthread_mutex_unlock(&lock);
	close(pidfd);
}

static int send_resp(int listener, struct seccomp_notif_resp *resp)
{
	int r;
	do
		r = ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
	while (r < 0 && errno == EINTR);
	return r;
}

int lr_notify_return(int listener, uint64_t id, long val, int err)
{
	struct seccomp_notif_resp resp = { .id = id, .val = err ? 0 : val, .error = err ? -err : 0 };
	return send_resp(listener, &resp);
}

int lr_notify_continue(int listener, uint64_t id)
{
	struct seccomp_notif_resp resp = { .id = id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE };
	return send_resp(listener, &resp);
}

int lr_notify_addfd(int listener, uint64_t id, int fd, int target, bool cloexec)
{
	struct seccomp_notif_addfd a = { .id = id, .flags = SECCOMP_ADDFD_FLAG_SETFD, .srcfd = (__u32)fd,
					 .newfd = (__u32)target, .newfd_flags = cloexec ? O_CLOEXEC : 0 };
	return ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &a) == target ? 0 : -1;
}

void lr_notify_sync_wakeup(int listener)
{
	if (lr_kernel_has(LR_K_SYNC_WAKE_UP))
		ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
}

#include "notify.h"

#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9 */
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

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

int lr_notify_pidfd(pid_t tid, pid_t *tgid)
{
	/* Without PIDFD_THREAD only a thread-group leader opens: then tid is
	 * the process, and /proc need not be asked (the common case). */
	int fd = (int)syscall(SYS_pidfd_open, tid, 0);
	if (fd >= 0) {
		*tgid = tid;
		return fd;
	}
	*tgid = tgid_of(tid);
	if (*tgid < 0)
		return -1;
	/* Another thread: itself where the kernel can (Linux 6.9), else its
	 * process; either way pidfd_getfd reaches the process's files. */
	fd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
	if (fd < 0)
		fd = (int)syscall(SYS_pidfd_open, *tgid, 0);
	return fd;
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
	ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
}

#include "peer.h"

#include "child.h"
#include "kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Deeper than any real process tree; a loop in what /proc says cannot hold
 * the keeper. */
#define LR_TREE_DEPTH 256

int lr_peer_of(int conn, struct lr_peer *p)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return -1;
	p->pid = cred.pid;
	p->uid = cred.uid;
	int fd = -1;
	len = sizeof(fd);
	if (!lr_kernel_has(LR_K_PEERPIDFD) || getsockopt(conn, SOL_SOCKET, SO_PEERPIDFD, &fd, &len) != 0)
		fd = -1; /* older kernel: the pid alone */
	p->pidfd = fd;
	return 0;
}

bool lr_peer_descends(const struct lr_peer *p, pid_t root)
{
	pid_t pid = p->pid;
	bool found = false;
	for (int depth = 0; depth < LR_TREE_DEPTH && pid > 1; depth++) {
		pid_t parent = lr_proc_parent(pid);
		if (parent == root) {
			found = true;
			break;
		}
		pid = parent;
	}
	/* The walk read /proc by number: make sure the number still names the
	 * process that connected (it was alive all along, so not reused). */
	if (found && p->pidfd >= 0 && syscall(SYS_pidfd_send_signal, p->pidfd, 0, NULL, 0) != 0)
		found = false;
	return found;
}

void lr_peer_close(struct lr_peer *p)
{
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
}

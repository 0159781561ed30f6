#include "keeperstate.h"

#include "keepwire.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The keeper's abstract name, "libreuse-keeper-PID-RANDOM", as
 * /proc/net/unix lists it (with a leading '@'): 0 with the name. */
static int keeper_name(pid_t pid, char *name, size_t n)
{
	FILE *f = fopen("/proc/net/unix", "re");
	if (!f)
		return -1;
	char prefix[48], line[512];
	int plen = snprintf(prefix, sizeof(prefix), "@libreuse-keeper-%d-", (int)pid);
	int found = -1;
	while (found && fgets(line, sizeof(line), f)) {
		char *at = strchr(line, '@');
		if (!at || strncmp(at, prefix, (size_t)plen) != 0)
			continue;
		at[strcspn(at, " \n")] = '\0';
		if (strlen(at + 1) < n) {
			memcpy(name, at + 1, strlen(at + 1) + 1);
			found = 0;
		}
	}
	fclose(f);
	return found;
}

int lr_keeper_state_ask(pid_t pid, char *out, size_t n)
{
	char name[108];
	if (keeper_name(pid, name, sizeof(name)) != 0) {
		snprintf(out, n, "pid %d has no keeper's socket", (int)pid);
		return -2;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	memcpy(sa.sun_path + 1, name, len);
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct lr_keep_msg m = { .magic = LR_KEEP_MAGIC, .op = LR_KEEP_STATE };
	if (s < 0 ||
	    connect(s, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len)) != 0 ||
	    lr_keep_send(s, &m, -1, -1) != 0) {
		snprintf(out, n, "cannot ask keeper pid %d: %s", (int)pid, strerror(errno));
		if (s >= 0)
			close(s);
		return -1;
	}
	struct pollfd p = { .fd = s, .events = POLLIN };
	ssize_t got = poll(&p, 1, 1000) == 1 ? recv(s, out, n - 1, 0) : -1;
	close(s);
	if (got <= 0) {
		snprintf(out, n, "keeper pid %d did not answer", (int)pid);
		return -1;
	}
	out[got] = '\0';
	/* A keeper of another user refuses in a message of its own. */
	if ((size_t)got == sizeof(struct lr_keep_msg)) {
		memcpy(&m, out, sizeof(m));
		if (m.magic == LR_KEEP_MAGIC) {
			m.reason[sizeof(m.reason) - 1] = '\0';
			snprintf(out, n, "keeper pid %d refused: %s", (int)pid, m.reason);
			return -1;
		}
	}
	return 0;
}

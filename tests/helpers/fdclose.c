/* fdclose PORT MODE: what a daemon does to its fds at start, around two
 * binds to 127.0.0.1:PORT. The first bind loads the rules (and opens the
 * sink); then MODE closes every fd from 3 on — "close_range" or
 * "closefrom" — and a socketpair takes fds 3 and 4, as sshd's listener
 * takes fd 3. The second bind must be logged like the first, and nothing
 * of libreuse's may arrive on the program's fd 3.
 * MODE "dup2" instead points every fd from 3 on at a socketpair of its own.
 * Prints "bound N" for each bind's port, then "fd3 clean" or "fd3 got N". */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void bind_once(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
		printf("bind failed %d\n", errno);
	} else {
		socklen_t len = sizeof(a);
		getsockname(s, (struct sockaddr *)&a, &len);
		printf("bound %d\n", ntohs(a.sin_port));
	}
	close(s);
}

/* The binds after the host's deed, then whether anything of libreuse's
 * came to the program's socket (peer: its other end). */
static int binds_then_check(int port, int peer, int overwritten)
{
	bind_once(port);
	bind_once(port);
	char buf[4096];
	ssize_t n = recv(peer, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN && overwritten >= 0)
		printf("fd3 clean (%d fds overwritten)\n", overwritten);
	else if (n < 0 && errno == EAGAIN)
		printf("fd3 clean\n");
	else
		printf("fd3 got %zd\n", n);
	return 0;
}

/* MODE dup2: the program's socketpair end dup2'ed over every other fd it
 * has from 3 on (libreuse's among them), as a daemon that points all its
 * fds at one place; then the same two binds and the same check. */
static int dup2_over_all(int port)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 1;
	int fds[4096], n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d)) && n < 4096) {
		int fd = atoi(e->d_name);
		if (fd >= 3 && fd != sv[0] && fd != sv[1] && fd != dirfd(d))
			fds[n++] = fd;
	}
	if (d)
		closedir(d);
	for (int i = 0; i < n; i++)
		dup2(sv[0], fds[i]);
	return binds_then_check(port, sv[1], n);
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	int port = atoi(argv[1]);
	bind_once(port);
	if (strcmp(argv[2], "dup2") == 0)
		return dup2_over_all(port);
	if (strcmp(argv[2], "closefrom") == 0)
		closefrom(3);
	else
		close_range(3, ~0U, 0);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || sv[0] != 3) {
		printf("socketpair at %d\n", sv[0]);
		return 1;
	}
	return binds_then_check(port, sv[1], -1);
}

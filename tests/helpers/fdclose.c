/* fdclose PORT MODE: what a daemon does to its fds at start, around two
 * binds to 127.0.0.1:PORT. The first bind loads the rules (and opens the
 * sink); then MODE closes every fd from 3 on — "close_range" or
 * "closefrom" — and a socketpair takes fds 3 and 4, as sshd's listener
 * takes fd 3. The second bind must be logged like the first, and nothing
 * of libreuse's may arrive on the program's fd 3.
 * Prints "bound N" for each bind's port, then "fd3 clean" or "fd3 got N". */
#include <arpa/inet.h>
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

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	int port = atoi(argv[1]);
	bind_once(port);
	if (strcmp(argv[2], "closefrom") == 0)
		closefrom(3);
	else
		close_range(3, ~0U, 0);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || sv[0] != 3) {
		printf("socketpair at %d\n", sv[0]);
		return 1;
	}
	bind_once(port);
	bind_once(port);
	char buf[4096];
	ssize_t n = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN)
		printf("fd3 clean\n");
	else
		printf("fd3 got %zd\n", n);
	return 0;
}

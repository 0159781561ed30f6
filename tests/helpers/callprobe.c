/* Makes awkward socket calls and prints each result and errno name, so a
 * test can compare a run with and without libreuse line by line. The ports
 * come from the command line: PORT is free, HELD is taken by someone else. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void show(const char *what, int ret)
{
	printf("%s: %s %s\n", what, ret < 0 ? "-1" : "ok", ret < 0 ? strerrorname_np(errno) : "-");
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: callprobe PORT HELD UNIXPATH\n");
		return 2;
	}
	int port = atoi(argv[1]), held = atoi(argv[2]);
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;

	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	show("socket nonblock|cloexec", s);
	errno = 0;
	show("bind NULL addr", bind(s, NULL, sizeof(in)));
	show("bind short len", bind(s, (struct sockaddr *)&in, 3));
	show("bind len 0", bind(s, (struct sockaddr *)&in, 0));
	show("bind not a socket", bind(0 + 1000, (struct sockaddr *)&in, sizeof(in)));
	show("setsockopt bad level", setsockopt(s, 12345, 1, &one, sizeof(one)));
	show("setsockopt SO_REUSEADDR short", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, 2));
	show("setsockopt SO_REUSEADDR NULL", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, NULL, sizeof(int)));
	struct sockaddr_in held_addr = in;
	held_addr.sin_port = htons((uint16_t)held);
	show("bind held port", bind(s, (struct sockaddr *)&held_addr, sizeof(held_addr)));
	show("bind free port", bind(s, (struct sockaddr *)&in, sizeof(in)));
	show("bind again", bind(s, (struct sockaddr *)&in, sizeof(in)));
	show("listen", listen(s, 5));
	close(s);

	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in refused = in;
	refused.sin_port = htons((uint16_t)port); /* closed again above */
	show("connect refused", connect(c, (struct sockaddr *)&refused, sizeof(refused)));
	show("connect short", connect(c, (struct sockaddr *)&refused, 5));
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	show("connect AF_UNSPEC", connect(c, &unspec, sizeof(unspec)));
	close(c);

	int u = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", argv[3]);
	unlink(un.sun_path);
	show("unix bind", bind(u, (struct sockaddr *)&un, sizeof(un)));
	show("unix bind again", bind(u, (struct sockaddr *)&un, sizeof(un)));
	close(u);
	unlink(un.sun_path);
	show("close bad fd", close(-1));
	return 0;
}

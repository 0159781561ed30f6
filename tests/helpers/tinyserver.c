/* tinyserver PORT: a TCP server in C that sets no socket option of its own,
 * built here for x86-64 and, with -m32, for i386 (dynamic and static): it
 * binds 127.0.0.1:PORT, listens, prints "READY 127.0.0.1 PORT" (or
 * "BINDERR errno"), and answers each connection with "PID PEERPORT\n",
 * closing it itself. On SIGTERM it finishes the connection in hand and
 * exits 0, as the keeper's graceful restarts expect. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: tinyserver PORT\n");
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term; /* no SA_RESTART: accept returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stdout, NULL, _IONBF, 0);
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bind(s, (struct sockaddr *)&in, sizeof(in)) != 0 || listen(s, 128) != 0) {
		printf("BINDERR %d\n", errno);
		return 1;
	}
	printf("READY 127.0.0.1 %s\n", argv[1]);
	while (!stop) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		int c = accept(s, (struct sockaddr *)&peer, &len);
		if (c < 0)
			continue; /* EINTR: look at stop */
		char line[64];
		int n = snprintf(line, sizeof(line), "%d %d\n", (int)getpid(), ntohs(peer.sin_port));
		ssize_t w = write(c, line, (size_t)n);
		(void)w;
		close(c);
	}
	return 0;
}

/* keptaccept PORT restart|intr [TIMEOUT_MS]: a blocking accept() loop on
 * 127.0.0.1:PORT, to compare what a blocking accept does on a kept listener
 * (whose shared file libreuse keeps non-blocking) with what the kernel's
 * does. SIGUSR1 has a handler, installed with SA_RESTART ("restart") or
 * without ("intr"); TIMEOUT_MS sets SO_RCVTIMEO. Prints "READY", then a line
 * per accept() return: "ACCEPT" or "ERR errno-name". SIGTERM (no
 * SA_RESTART) ends it with status 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_usr1(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: keptaccept PORT restart|intr [TIMEOUT_MS]\n");
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = strcmp(argv[2], "restart") == 0 ? SA_RESTART : 0;
	sigaction(SIGUSR1, &sa, NULL);
	/* SIGTERM stops it: without SA_RESTART in "intr" mode only, so that a
	 * "restart" process has no handler but restarting ones (it is then
	 * ended by SIGKILL). */
	if (!sa.sa_flags) {
		sa.sa_handler = on_term;
		sigaction(SIGTERM, &sa, NULL);
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (argc > 3) {
		int ms = atoi(argv[3]);
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	if (bind(s, (struct sockaddr *)&in, sizeof(in)) != 0 || listen(s, 16) != 0) {
		printf("BINDERR %d\n", errno);
		return 1;
	}
	printf("READY\n");
	while (!stop) {
		int c = accept(s, NULL, NULL);
		if (c >= 0) {
			printf("ACCEPT\n");
			close(c);
		} else {
			printf("ERR %s\n", strerrorname_np(errno));
		}
	}
	return 0;
}

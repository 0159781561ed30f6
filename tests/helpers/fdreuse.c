/* fdreuse HOW PORT: a TCP socket's fd number comes to hold a UDP socket
 * by HOW — dup2, dup3 (over it), or close_range, closefrom, fclose of an
 * fdopen'ed stream (then a UDP socket moved there with F_DUPFD, which no
 * hook sees) — and the UDP socket at that number is bound to 127.0.0.1:PORT.
 * Prints "ok" or "-1 ERRNAME". Sets no options. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: fdreuse dup2|dup3|close_range|closefrom|fclose PORT\n");
		return 2;
	}
	const char *how = argv[1];
	/* Both from socket(), so libreuse's hook has seen each for what it is;
	 * the UDP one first, below n, so closefrom(n) leaves it; single-
	 * threaded, so nothing else takes n once it is free. */
	int udp = socket(AF_INET, SOCK_DGRAM, 0);
	int n = socket(AF_INET, SOCK_STREAM, 0);
	if (n < 0 || udp < 0) {
		perror("socket");
		return 1;
	}
	if (strcmp(how, "dup2") == 0) {
		dup2(udp, n);
	} else if (strcmp(how, "dup3") == 0) {
		dup3(udp, n, O_CLOEXEC);
	} else {
		if (strcmp(how, "close_range") == 0)
			close_range((unsigned)n, (unsigned)n, 0);
		else if (strcmp(how, "closefrom") == 0)
			closefrom(n);
		else if (strcmp(how, "fclose") == 0)
			fclose(fdopen(n, "r+"));
		else
			return 2;
		if (fcntl(udp, F_DUPFD, n) != n) {
			perror("F_DUPFD");
			return 1;
		}
	}
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	if (bind(n, (struct sockaddr *)&in, sizeof(in)) != 0) {
		printf("-1 %s\n", strerrorname_np(errno));
		return 1;
	}
	printf("ok\n");
	return 0;
}

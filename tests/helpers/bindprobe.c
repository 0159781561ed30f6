/* bindprobe PORT [ADDR]: binds a TCP socket and prints "ok ADDR PORT" with
 * where it ended up, or "-1 ERRNAME". Sets no options; used where a test
 * needs a compiled program (set-user-ID copies, static and musl builds). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bindprobe PORT [ADDR]\n");
		return 2;
	}
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
	inet_pton(AF_INET, argc > 2 ? argv[2] : "127.0.0.1", &in.sin_addr);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(s, (struct sockaddr *)&in, sizeof(in)) != 0) {
#ifdef __GLIBC__
		printf("-1 %s\n", strerrorname_np(errno));
#else /* musl (its build for t_exec.sh) has no errno names */
		printf("-1 %d\n", errno);
#endif
		return 1;
	}
	socklen_t len = sizeof(in);
	getsockname(s, (struct sockaddr *)&in, &len);
	char addr[INET_ADDRSTRLEN];
	printf("ok %s %d\n", inet_ntop(AF_INET, &in.sin_addr, addr, sizeof(addr)), ntohs(in.sin_port));
	return 0;
}

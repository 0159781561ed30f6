/* connprobe PORT: connects a TCP socket to 127.0.0.1:PORT and prints
 * "ok ADDR PORT" with the local end it got, or "-1 ERRNAME". Sets no
 * options; built for x86-64 and i386 (the source rule's tests). */
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
		fprintf(stderr, "usage: connprobe PORT\n");
		return 2;
	}
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(s, (struct sockaddr *)&to, sizeof(to)) != 0) {
		printf("-1 %s\n", strerrorname_np(errno));
		return 1;
	}
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	getsockname(s, (struct sockaddr *)&me, &len);
	char addr[INET_ADDRSTRLEN];
	printf("ok %s %d\n", inet_ntop(AF_INET, &me.sin_addr, addr, sizeof(addr)), ntohs(me.sin_port));
	return 0;
}

/* confighost PORT: a host that exports a function of every name
 * libconfig.so.9 exports (generated at build time, build/helpers/
 * confighost_names.c), each one aborting — as lighttpd exports config_init
 * and config_read. Binds 127.0.0.1:PORT and prints "bound N"; it exits 0
 * only if no code of libconfig's ever ran inside it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
		printf("bind failed %d\n", errno);
		return 1;
	}
	socklen_t len = sizeof(a);
	getsockname(s, (struct sockaddr *)&a, &len);
	printf("bound %d\n", ntohs(a.sin_port));
	return 0;
}

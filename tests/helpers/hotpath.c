/* hotpath PORT HELD: after a warm-up, a thousand bind cycles that libreuse
 * acts on (inject, rewrite) and conflicts it logs; prints how many
 * allocations and locks the warm-up and the loop made (libcount must be preloaded). */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void cycle(int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	bind(s, (struct sockaddr *)&in, sizeof(in));
	listen(s, 1);
	close(s);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&in, sizeof(in)); /* refused: nobody listens */
	close(c);
}

int main(int argc, char **argv)
{
	long (*counted)(void) = (long (*)(void))dlsym(RTLD_DEFAULT, "lr_test_count");
	if (!counted || argc < 3) {
		fprintf(stderr, "hotpath: preload libcount.so; usage: hotpath PORT HELD\n");
		return 2;
	}
	int port = atoi(argv[1]), held = atoi(argv[2]);
	long start = counted();
	cycle(port); /* warm-up: rules loaded, sinks opened */
	cycle(held);
	long before = counted();
	for (int i = 0; i < 1000; i++) {
		cycle(port);
		cycle(held);
	}
	printf("warm-up %ld loop %ld\n", before - start, counted() - before);
	return 0;
}

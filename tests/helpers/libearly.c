/* A library whose constructor binds a socket: when a program links it, this
 * runs before libreuse's own constructor (ld.so initialises dependencies of
 * the program before the preloaded object), so the hook is reached first. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int early_result = 99;
int early_errno;

__attribute__((constructor)) static void early(void)
{
	const char *port = getenv("EARLY_PORT");
	if (!port)
		return;
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	early_result = bind(s, (struct sockaddr *)&in, sizeof(in));
	early_errno = errno;
}

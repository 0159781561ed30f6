/* bindloop N GOFILE [reuse]: waits until GOFILE exists (a tracer attached
 * to the supervisor meanwhile), then N cycles of socket, bind to
 * 127.0.0.1:0, close — binds no rule concerns — and prints "bound N".
 * With "reuse", each socket is given SO_REUSEADDR before its bind, as most
 * servers do. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4)
		return 2;
	int reuse = argc == 4 && strcmp(argv[3], "reuse") == 0;
	int n = atoi(argv[1]);
	for (int i = 0; i < 1000 && access(argv[2], F_OK) != 0; i++)
		usleep(10000);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int ok = 0;
	for (int i = 0; i < n; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		int one = 1;
		if (reuse)
			setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			ok++;
		close(s);
	}
	printf("bound %d\n", ok);
	return 0;
}

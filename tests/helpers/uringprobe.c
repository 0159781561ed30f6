/* uringprobe PORT: connects to 127.0.0.1:PORT through an io_uring
 * (IORING_OP_CONNECT, liburing from Debian), as a program that prefers the
 * ring would; when the ring cannot be had (io_uring_setup fails, as under
 * io_uring = "refuse"), falls back to connect(2). Prints
 *   "ring ok ADDR PORT"            connected through the ring (local end)
 *   "ring -1 ERRNAME"              io_uring_setup refused, then
 *   "fallback ok ADDR PORT" or "fallback -1 ERRNAME". */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void local_end(const char *how, int s)
{
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	getsockname(s, (struct sockaddr *)&me, &len);
	char addr[INET_ADDRSTRLEN];
	printf("%s ok %s %d\n", how, inet_ntop(AF_INET, &me.sin_addr, addr, sizeof(addr)), ntohs(me.sin_port));
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: uringprobe PORT\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct io_uring ring;
	int r = io_uring_queue_init(4, &ring, 0);
	if (r == 0) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		io_uring_prep_connect(sqe, s, (struct sockaddr *)&to, sizeof(to));
		io_uring_submit(&ring);
		struct io_uring_cqe *cqe;
		r = io_uring_wait_cqe(&ring, &cqe);
		int res = r < 0 ? r : cqe->res;
		if (res < 0) {
			printf("ring -1 %s\n", strerrorname_np(-res));
			return 1;
		}
		local_end("ring", s);
		return 0;
	}
	printf("ring -1 %s\n", strerrorname_np(-r));
	if (connect(s, (struct sockaddr *)&to, sizeof(to)) != 0) {
		printf("fallback -1 %s\n", strerrorname_np(errno));
		return 1;
	}
	local_end("fallback", s);
	return 0;
}

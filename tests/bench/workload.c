/* The benchmark's workloads, timed from inside: prints nanoseconds per
 * cycle for N cycles (after a warm-up of N/10).
 *
 *   workload bind N PORT       socket, setsockopt SO_REUSEADDR, bind 127.0.0.1:PORT, close
 *   workload bind-self N PORT  the same, the program also setting SO_REUSEPORT itself
 *   workload connect N PORT    connect to a loopback listener on PORT, accept, reset, close both
 *   workload rss PORT          one bind cycle, then prints VmRSS in KiB
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return in;
}

static void bind_cycle(int port, int self_reuseport)
{
	struct sockaddr_in in = loopback(port);
	int one = 1;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (self_reuseport)
		setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&in, sizeof(in)) != 0) {
		perror("bind");
		exit(1);
	}
	close(s);
}

static int listener = -1;

static void connect_cycle(int port)
{
	struct sockaddr_in in = loopback(port);
	if (listener < 0) {
		int one = 1;
		listener = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(listener, (struct sockaddr *)&in, sizeof(in)) != 0 || listen(listener, 128) != 0) {
			perror("listen");
			exit(1);
		}
	}
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&in, sizeof(in)) != 0) {
		perror("connect");
		exit(1);
	}
	int a = accept(listener, NULL, NULL);
	/* The client resets instead of closing politely: tens of thousands of
	 * cycles would otherwise fill the ephemeral range with TIME_WAIT, and
	 * runs that met it measured ten times slower than runs that did not. */
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(c, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(c);
	close(a);
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = atol(line + 6);
	if (f)
		fclose(f);
	return kib;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "rss") == 0) {
		bind_cycle(atoi(argv[2]), 0);
		printf("%ld\n", rss_kib());
		return 0;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: workload bind|bind-self|connect N PORT | workload rss PORT\n");
		return 2;
	}
	const char *mode = argv[1];
	long n = atol(argv[2]);
	int port = atoi(argv[3]);
	int which = strcmp(mode, "bind") == 0 ? 0 : strcmp(mode, "bind-self") == 0 ? 1 : 2;
	for (long i = 0; i < n / 10; i++)
		which == 2 ? connect_cycle(port) : bind_cycle(port, which);
	double t0 = now();
	for (long i = 0; i < n; i++)
		which == 2 ? connect_cycle(port) : bind_cycle(port, which);
	printf("%.1f\n", n ? (now() - t0) / n : 0);
	return 0;
}

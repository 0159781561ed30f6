/* stress THREADS MS: THREADS threads make cycles for MS milliseconds (long
 * enough to span the once-a-second reload checks) of socket,
 * bind 127.0.0.1:0, (check the options libreuse injected), connect to an
 * in-process listener, close — while the test rewrites the rule file
 * between a version that injects SO_REUSEADDR and one that injects
 * SO_REUSEPORT. Every bind must succeed with exactly one version's options
 * (never none, never both), every connect must succeed. Prints the counts;
 * exit 0 when all held. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static atomic_int running = 1;
static struct sockaddr_in target;
static atomic_long by_addr, by_port, by_none, by_both, bind_fail, connect_fail;
static atomic_int stop;

static int opt(int fd, int name)
{
	int v = 0;
	socklen_t len = sizeof(v);
	getsockopt(fd, SOL_SOCKET, name, &v, &len);
	return v != 0;
}

static void *worker(void *arg)
{
	(void)arg;
	struct sockaddr_in any = { .sin_family = AF_INET };
	any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (atomic_load(&running)) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (bind(s, (struct sockaddr *)&any, sizeof(any)) != 0) {
			atomic_fetch_add(&bind_fail, 1);
		} else {
			int a = opt(s, SO_REUSEADDR), p = opt(s, SO_REUSEPORT);
			if (a && !p)
				atomic_fetch_add(&by_addr, 1);
			else if (p && !a)
				atomic_fetch_add(&by_port, 1);
			else
				atomic_fetch_add(a ? &by_both : &by_none, 1);
		}
		close(s);
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&target, sizeof(target)) != 0)
			atomic_fetch_add(&connect_fail, 1);
		close(c);
	}
	return NULL;
}

static void *acceptor(void *arg)
{
	int l = *(int *)arg;
	while (!atomic_load(&stop)) {
		int a = accept(l, NULL, NULL);
		if (a >= 0)
			close(a);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: stress THREADS MS\n");
		return 2;
	}
	int n = atoi(argv[1]), ms = atoi(argv[2]);
	/* The listener is made before any rule applies to its port (it binds a
	 * fixed non-zero port, which the rules do not name). */
	int l = socket(AF_INET, SOCK_STREAM, 0);
	target.sin_family = AF_INET;
	target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(target);
	if (bind(l, (struct sockaddr *)&target, sizeof(target)) != 0 || listen(l, 4096) != 0 ||
	    getsockname(l, (struct sockaddr *)&target, &len) != 0) {
		perror("listener");
		return 2;
	}
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
	setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	pthread_t acc, *t = calloc((size_t)n, sizeof(*t));
	pthread_create(&acc, NULL, acceptor, &l);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	struct timespec run = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	nanosleep(&run, NULL);
	atomic_store(&running, 0);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	atomic_store(&stop, 1);
	pthread_join(acc, NULL);
	close(l);
	free(t);
	long none = atomic_load(&by_none), both = atomic_load(&by_both);
	printf("binds %ld reuseaddr %ld reuseport %ld bad %ld bindfail %ld connectfail %ld (none %ld both %ld)\n",
	       atomic_load(&by_addr) + atomic_load(&by_port) + none + both, atomic_load(&by_addr),
	       atomic_load(&by_port), none + both, atomic_load(&bind_fail), atomic_load(&connect_fail),
	       none, both);
	return none || both || atomic_load(&bind_fail) || atomic_load(&connect_fail);
}

/* A hostile peer of the keeper: many connections to its abstract socket,
 * each doing one thing a keeper must not wait for.
 *
 *   keepflood MODE NAME COUNT SECONDS
 *
 * NAME is the keeper's socket name ("-": $LIBREUSE_KEEPER). MODE:
 *   silent   COUNT connections that say nothing, held SECONDS
 *   garbage  COUNT connections that send bytes that are no request
 *   half     COUNT connections that send the first half of a request
 *   forged   COUNT requests to adopt, claiming the generation of $FORGE_GEN
 *            (the caller reads it from an instance), held for an answer
 *   churn    connect and close as fast as it can, for SECONDS
 * Prints "CONNECTED n" once the connections are open, "ALLCLOSED n ..." as
 * soon as the keeper closed every one of them, then, at the end,
 * "RESULT mode=M connected=N hungup=H refused=R max_hangup_ms=X": how many
 * the keeper closed, how many answers said REFUSED, and the longest a
 * connection waited to be closed. Exits 0 unless it could not run. */
#include "keepwire.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct sockaddr_un sa;
static socklen_t salen;

static int dial(void)
{
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&sa, salen) != 0) {
		close(s);
		return -1;
	}
	return s;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: keepflood silent|garbage|half|forged|churn NAME COUNT SECONDS\n");
		return 2;
	}
	const char *mode = argv[1], *name = argv[2];
	if (strcmp(name, "-") == 0)
		name = getenv(LR_KEEPER_ENV);
	int count = atoi(argv[3]);
	long long until = now_ms() + (long long)(atof(argv[4]) * 1000);
	if (!name || strlen(name) + 2 > sizeof(sa.sun_path) || count < 0)
		return 2;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path + 1, name, strlen(name));
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));

	if (strcmp(mode, "churn") == 0) {
		long n = 0, failed = 0;
		printf("CONNECTED 0\n");
		fflush(stdout);
		while (now_ms() < until) {
			int s = dial();
			if (s < 0)
				failed++;
			else
				close(s), n++;
		}
		printf("RESULT mode=churn connected=%ld failed=%ld\n", n, failed);
		return 0;
	}

	struct pollfd *p = calloc((size_t)count + 1, sizeof(*p));
	long long *opened = calloc((size_t)count + 1, sizeof(*opened));
	if (!p || !opened)
		return 2;
	int n = 0;
	struct lr_keep_msg m;
	memset(&m, 0, sizeof(m));
	m.magic = LR_KEEP_MAGIC;
	m.op = LR_KEEP_ADOPT;
	m.gen = getenv("FORGE_GEN") ? (uint32_t)atoi(getenv("FORGE_GEN")) : 1;
	for (int i = 0; i < count; i++) {
		int s = dial();
		if (s < 0) {
			fprintf(stderr, "keepflood: connect %d: %s\n", i, strerror(errno));
			break;
		}
		if (strcmp(mode, "garbage") == 0)
			send(s, "GET / HTTP/1.0\r\n\r\n", 18, MSG_NOSIGNAL | MSG_DONTWAIT);
		else if (strcmp(mode, "half") == 0)
			send(s, &m, sizeof(m) / 2, MSG_NOSIGNAL | MSG_DONTWAIT);
		else if (strcmp(mode, "forged") == 0)
			send(s, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
		p[n] = (struct pollfd){ .fd = s, .events = POLLIN };
		opened[n++] = now_ms();
	}
	printf("CONNECTED %d\n", n);
	fflush(stdout);
	int hungup = 0, refused = 0;
	long long worst = 0;
	while (hungup < n) {
		long long left = until - now_ms();
		if (left <= 0)
			break;
		if (poll(p, (nfds_t)n, (int)(left > 100 ? 100 : left)) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			struct lr_keep_msg r;
			ssize_t got = recv(p[i].fd, &r, sizeof(r), MSG_DONTWAIT);
			if (got == (ssize_t)sizeof(r) && r.magic == LR_KEEP_MAGIC) {
				refused += r.op == LR_KEEP_REFUSED;
				continue; /* the hang-up follows */
			}
			if (got < 0 && errno == EAGAIN)
				continue;
			long long waited = now_ms() - opened[i];
			worst = waited > worst ? waited : worst;
			hungup++;
			p[i].fd = -1; /* held open, as a peer that does not notice would */
		}
	}
	if (hungup == n) {
		printf("ALLCLOSED %d max_hangup_ms=%lld refused=%d\n", n, worst, refused);
		fflush(stdout);
	}
	/* Held to the end: the connections the keeper closed stay open here. */
	while (now_ms() < until)
		usleep(50000);
	printf("RESULT mode=%s connected=%d hungup=%d refused=%d max_hangup_ms=%lld\n", mode, n, hungup,
	       refused, worst);
	return 0;
}

/* hostprobe PORT [THREADS]: a host that watches for anything libreuse's
 * start-up could do to it. It reaps every child in a SIGCHLD handler and
 * counts them, keeps SIGUSR1 blocked, lists its fds, then opens its first
 * IP socket (where the rules are loaded, by a helper if need be) from
 * THREADS threads at once (default 1), binds 127.0.0.1:PORT, and reports:
 *   bound N | sigchld N | reaped N | wait ECHILD | mask same | handler same
 *   | fds same (or what differs). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_int sigchld, reaped;
static int port;

static void on_child(int sig)
{
	(void)sig;
	sigchld++;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		reaped++;
}

static void fds(char *out, size_t n)
{
	out[0] = '\0';
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		strncat(out, e->d_name, n - strlen(out) - 2);
		strncat(out, " ", n - strlen(out) - 1);
	}
	if (d)
		closedir(d);
}

static void *first_socket(void *arg)
{
	int *fd = arg;
	*fd = socket(AF_INET, SOCK_STREAM, 0);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	port = atoi(argv[1]);
	int nthreads = argc > 2 ? atoi(argv[2]) : 1;
	if (nthreads < 1 || nthreads > 16)
		return 2;
	struct sigaction sa = { .sa_handler = on_child, .sa_flags = SA_RESTART };
	sigaction(SIGCHLD, &sa, NULL);
	sigset_t usr1, before, after;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	sigprocmask(SIG_BLOCK, NULL, &before);
	char fds_before[4096], fds_after[4096];
	fds(fds_before, sizeof(fds_before));

	pthread_t t[16];
	int s[16];
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, first_socket, &s[i]);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (bind(s[0], (struct sockaddr *)&a, sizeof(a)) == 0) {
		socklen_t len = sizeof(a);
		getsockname(s[0], (struct sockaddr *)&a, &len);
		printf("bound %d\n", ntohs(a.sin_port));
	} else {
		printf("bind failed %d\n", errno);
	}
	for (int i = 0; i < nthreads; i++)
		close(s[i]);
	usleep(200000); /* a late SIGCHLD would arrive by now */

	sigprocmask(SIG_BLOCK, NULL, &after);
	struct sigaction now;
	sigaction(SIGCHLD, NULL, &now);
	fds(fds_after, sizeof(fds_after));
	printf("sigchld %d\n", sigchld);
	printf("reaped %d\n", reaped);
	printf("wait %s\n", waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD ? "ECHILD" : "a child");
	printf("mask %s\n", memcmp(&before, &after, sizeof(before)) == 0 ? "same" : "changed");
	printf("handler %s\n", now.sa_handler == on_child ? "same" : "changed");
	if (strcmp(fds_before, fds_after) == 0)
		printf("fds same\n");
	else
		printf("fds before [%s] after [%s]\n", fds_before, fds_after);
	return 0;
}

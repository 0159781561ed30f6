/* forkstress ROUNDS [cold]: while 4 threads bind in a loop (libreuse
 * injecting SO_REUSEADDR), the main thread forks, vforks and posix_spawns
 * ROUNDS times each. Normally the main thread binds once first, so the rules
 * are loaded before any fork; "cold" forks at once, while the threads may
 * still be loading them (the child then loads them itself). A forked child binds once and reports whether the injection
 * still happened; a vforked child execs /bin/true; a spawned child is
 * /bin/true. Exit 0 when every child exited 0 and every bind succeeded; a
 * deadlock shows as the test's timeout. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static atomic_int stop;
static atomic_long binds, failures;

/* 0 when a fresh socket binds 127.0.0.1:0 with SO_REUSEADDR injected. */
static int bind_once(void)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_STREAM, 0), v = 0;
	socklen_t len = sizeof(v);
	int ok = bind(s, (struct sockaddr *)&in, sizeof(in)) == 0 &&
		 getsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, &len) == 0 && v;
	close(s);
	return ok ? 0 : 1;
}

static void *binder(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		atomic_fetch_add(&binds, 1);
		if (bind_once())
			atomic_fetch_add(&failures, 1);
	}
	return NULL;
}

static int reap(pid_t pid, const char *what)
{
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "forkstress: %s child failed\n", what);
		return 1;
	}
	return 0;
}

/* In a function of its own: nothing of main's lives in the frame vfork
 * shares with the child. */
static __attribute__((noinline)) pid_t vfork_true(char **true_argv)
{
	pid_t p = vfork();
	if (p == 0) {
		execve("/bin/true", true_argv, environ);
		_exit(127);
	}
	return p;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 100, bad = 0;
	bool cold = argc > 2 && strcmp(argv[2], "cold") == 0;
	if (!cold)
		bad += bind_once();
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, binder, NULL);
	char *true_argv[] = { "/bin/true", NULL };
	for (int i = 0; i < rounds; i++) {
		pid_t p = fork();
		if (p == 0)
			_exit(bind_once());
		bad += reap(p, "fork");
		bad += reap(vfork_true(true_argv), "vfork");
		if (posix_spawn(&p, "/bin/true", NULL, NULL, true_argv, environ) != 0)
			p = -1;
		bad += reap(p, "posix_spawn");
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("children %d bad %d threaded binds %ld failed %ld\n", rounds * 3, bad,
	       atomic_load(&binds), atomic_load(&failures));
	return bad || atomic_load(&failures);
}

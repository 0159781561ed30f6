/* atforkprobe: a host that counts the fork handlers registered in it after
 * main starts (it exports __register_atfork, through which every
 * pthread_atfork goes, and passes each on), opens an IP socket so that
 * libreuse loads its rules, forks, and has parent and child each bind a
 * held port. Prints "atfork N" (libreuse's registrations: 0 expected) and
 * "child PID". Built with -rdynamic so the library's call finds ours. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int in_main, registered;

__attribute__((visibility("default"))) int __register_atfork(void (*prepare)(void), void (*parent)(void),
							       void (*child)(void), void *dso)
{
	static int (*real)(void (*)(void), void (*)(void), void (*)(void), void *);
	if (!real)
		real = (int (*)(void (*)(void), void (*)(void), void (*)(void), void *))dlsym(RTLD_NEXT,
											  "__register_atfork");
	if (in_main)
		registered++;
	return real ? real(prepare, parent, child, dso) : 0;
}

static void bind_held(int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(s, (struct sockaddr *)&in, sizeof(in)) == 0)
		printf("bound?\n");
	close(s);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	in_main = 1;
	int s = socket(AF_INET, SOCK_STREAM, 0); /* libreuse loads its rules here */
	close(s);
	printf("atfork %d\n", registered);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		bind_held(atoi(argv[1]));
		_exit(0);
	}
	printf("child %d\n", (int)pid);
	waitpid(pid, NULL, 0);
	bind_held(atoi(argv[1]));
	return 0;
}

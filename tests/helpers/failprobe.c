/* failprobe N PORT: makes every allocation from the N-th on fail (through
 * libfailmalloc, preloaded first), then binds a fresh socket to
 * 127.0.0.1:PORT — libreuse loads its rules inside that call. Prints, with
 * write(2) only, "bind RESULT reuseaddr 0|1 allocations K"; exits 0 when
 * the bind succeeded as it would have without libreuse. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void put(const char *s)
{
	if (write(1, s, strlen(s)) < 0)
		_exit(3);
}

static void put_num(long v)
{
	char b[24];
	int i = sizeof(b);
	b[--i] = '\0';
	do
		b[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i > 1);
	put(b + i);
}

int main(int argc, char **argv)
{
	void (*arm)(long) = (void (*)(long))dlsym(RTLD_DEFAULT, "lr_test_fail_from");
	long (*count)(void) = (long (*)(void))dlsym(RTLD_DEFAULT, "lr_test_allocations");
	if (!arm || !count || argc < 3)
		return 2;
	long n = atol(argv[1]);
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	arm(n);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int ret = bind(s, (struct sockaddr *)&in, sizeof(in));
	int v = 0;
	socklen_t len = sizeof(v);
	getsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, &len);
	long seen = count();
	arm(0);
	put("bind ");
	put_num(ret == 0 ? 0 : 1);
	put(" reuseaddr ");
	put_num(v != 0);
	put(" allocations ");
	put_num(seen);
	put("\n");
	close(s);
	return ret == 0 ? 0 : 1;
}

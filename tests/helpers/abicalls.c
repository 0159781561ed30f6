/* abicalls MODE PORT: an x86-64 program making one socket call by another
 * ABI than its own, the way a hostile or odd program could step around a
 * filter that compares system call numbers without their ABI:
 *   int80-bind, int80-connect             i386 numbers through `int $0x80`
 *   socketcall-bind, socketcall-connect   i386 socketcall(2) through `int $0x80`
 *   socketcall-setsockopt                 SO_REUSEADDR by socketcall, then a plain bind
 *   socketcall-unreadable                 socketcall(SYS_BIND) whose block is not mapped
 *   x32-bind                              the x32 number (__X32_SYSCALL_BIT | 49)
 * The socket itself is made the usual way. Prints "OP 0", or "OP -1 ERRNAME",
 * and for a bind where it ended up ("bound ADDR PORT"). An i386 call reads
 * 32-bit pointers: everything it points to lives below 4 GiB (MAP_32BIT). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/net.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static long int80(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return ret;
}

struct low {
	struct sockaddr_in sin;
	uint32_t block[5];
	int one;
};

static void say(const char *op, long r)
{
	if (r < 0)
		printf("%s -1 %s\n", op, strerrorname_np((int)-r));
	else
		printf("%s 0\n", op);
}

static void where(int fd)
{
	struct sockaddr_in in;
	socklen_t len = sizeof(in);
	char addr[INET_ADDRSTRLEN] = "?";
	if (getsockname(fd, (struct sockaddr *)&in, &len) == 0)
		inet_ntop(AF_INET, &in.sin_addr, addr, sizeof(addr));
	printf("bound %s %d\n", addr, ntohs(in.sin_port));
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: abicalls MODE PORT\n");
		return 2;
	}
	const char *mode = argv[1];
	struct low *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (low == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	low->sin.sin_family = AF_INET;
	low->sin.sin_port = htons((uint16_t)atoi(argv[2]));
	low->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	low->one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	long addr = (long)(uintptr_t)&low->sin, len = sizeof(low->sin);
	long r;
	if (strcmp(mode, "int80-bind") == 0) {
		r = int80(361, fd, addr, len);
		say("bind", r);
	} else if (strcmp(mode, "int80-connect") == 0) {
		r = int80(362, fd, addr, len);
		say("connect", r);
	} else if (strcmp(mode, "socketcall-bind") == 0 || strcmp(mode, "socketcall-connect") == 0) {
		bool bind_ = strcmp(mode, "socketcall-bind") == 0;
		low->block[0] = (uint32_t)fd;
		low->block[1] = (uint32_t)addr;
		low->block[2] = (uint32_t)len;
		r = int80(102, bind_ ? SYS_BIND : SYS_CONNECT, (long)(uintptr_t)low->block, 0);
		say(bind_ ? "bind" : "connect", r);
	} else if (strcmp(mode, "socketcall-setsockopt") == 0) {
		uint32_t b[5] = { (uint32_t)fd, SOL_SOCKET, SO_REUSEADDR, (uint32_t)(uintptr_t)&low->one, sizeof(int) };
		memcpy(low->block, b, sizeof(b));
		r = int80(102, SYS_SETSOCKOPT, (long)(uintptr_t)low->block, 0);
		say("setsockopt", r);
		int on = 0;
		socklen_t l = sizeof(on);
		getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, &l);
		printf("SO_REUSEADDR %d\n", on);
		r = bind(fd, (struct sockaddr *)&low->sin, sizeof(low->sin)) == 0 ? 0 : -errno;
		say("bind", r);
	} else if (strcmp(mode, "socketcall-unreadable") == 0) {
		r = int80(102, SYS_BIND, 0x1000, 0); /* the first page is never mapped */
		say("bind", r);
	} else if (strcmp(mode, "x32-bind") == 0) {
		r = syscall(0x40000000 | 49, fd, addr, len);
		r = r < 0 ? -errno : r;
		say("bind", r);
	} else {
		fprintf(stderr, "abicalls: unknown mode %s\n", mode);
		return 2;
	}
	if (r == 0 && strstr(mode, "bind"))
		where(fd);
	return 0;
}

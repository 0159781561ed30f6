/* The floor of any LD_PRELOAD shim: the same six functions as libreuse,
 * each resolved once with dlsym(RTLD_NEXT) and called straight through. */
#include <dlfcn.h>
#include <sys/socket.h>

#define PASS(ret, name, params, args)                               \
	__attribute__((visibility("default"))) ret name params      \
	{                                                           \
		static ret(*real) params;                           \
		if (!real)                                          \
			*(void **)&real = dlsym(RTLD_NEXT, #name);  \
		return real args;                                   \
	}

PASS(int, socket, (int d, int t, int p), (d, t, p))
PASS(int, setsockopt, (int fd, int l, int n, const void *v, socklen_t len), (fd, l, n, v, len))
PASS(int, bind, (int fd, const struct sockaddr *a, socklen_t l), (fd, a, l))
PASS(int, connect, (int fd, const struct sockaddr *a, socklen_t l), (fd, a, l))
PASS(int, listen, (int fd, int b), (fd, b))
PASS(int, close, (int fd), (fd))

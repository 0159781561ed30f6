/* libreuse matrix: can these two sockets share a port? Measured, not
 * recalled: for pairs of sockets on loopback it binds the first, then tries
 * the second, and prints what this kernel allowed, grid by grid. */
#include "cli.h"
#include "errname.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
	"usage: libreuse matrix\n"
	"\n"
	"Measures on loopback which pairs of sockets this kernel lets share a port:\n"
	"TCP and UDP; IPv4, IPv6 and dual-stack; wildcard and specific addresses;\n"
	"with and without SO_REUSEADDR / SO_REUSEPORT on each; the first socket\n"
	"listening, only bound, or gone and left in TIME_WAIT; the same or another\n"
	"user (as root, the first socket is then nobody's). Each grid has the first\n"
	"socket's options as rows and the second's as columns; a cell is \"ok\" or the\n"
	"errno of the second bind. Exit 0, or 1 when a measurement could not be made.\n";

enum { OPT_ADDR = 1, OPT_PORT = 2 };
static const char *const opt_names[4] = { "none", "ADDR", "PORT", "ADDR+PORT" };

enum first_state { BOUND, LISTENING, TIME_WAIT };

struct end {
	int family;
	const char *addr;
	bool v6only;
};

struct pair {
	int type; /* SOCK_STREAM / SOCK_DGRAM */
	enum first_state state;
	struct end first, second;
	bool other_uid; /* the first socket belongs to nobody (65534) */
};

static bool failed_measurement;

static socklen_t sockaddr_of(const struct end *e, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (e->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		inet_pton(AF_INET, e->addr, &in->sin_addr);
		return sizeof(*in);
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	inet_pton(AF_INET6, e->addr, &in6->sin6_addr);
	return sizeof(*in6);
}

/* A socket with the options set and bound to port; -errno on failure. */
static int open_bound(int type, const struct end *e, unsigned opts, uint16_t port)
{
	int fd = socket(e->family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1, v6only = e->v6only;
	if (e->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	if (opts & OPT_ADDR)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (opts & OPT_PORT)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(e, port, &ss);
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

/* A port free right now for this socket type on both families. */
static uint16_t free_port(int type)
{
	for (int tries = 0; tries < 50; tries++) {
		struct end any6 = { AF_INET6, "::", false };
		int fd = open_bound(type, &any6, 0, 0);
		if (fd < 0)
			return 0;
		struct sockaddr_in6 in6;
		socklen_t len = sizeof(in6);
		getsockname(fd, (struct sockaddr *)&in6, &len);
		close(fd);
		uint16_t port = ntohs(in6.sin6_port);
		if (port)
			return port;
	}
	return 0;
}

/* The first socket, in the state the pair asks for; returns its fd (or -1
 * for TIME_WAIT, where it is gone) and -2 when it could not be made. */
static int make_first(const struct pair *p, unsigned opts, uint16_t port)
{
	int fd = open_bound(p->type, &p->first, opts, port);
	if (fd < 0)
		return -2;
	if (p->state == BOUND)
		return fd;
	if (listen(fd, 4) != 0) {
		close(fd);
		return -2;
	}
	if (p->state == LISTENING)
		return fd;
	/* TIME_WAIT: the server side closes a connection first, then goes. */
	struct end loop = { p->first.family, p->first.family == AF_INET ? "127.0.0.1" : "::1", false };
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(&loop, port, &ss);
	int c = socket(p->first.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int a = -1;
	bool ok = c >= 0 && connect(c, (struct sockaddr *)&ss, len) == 0 &&
		  (a = accept(fd, NULL, NULL)) >= 0;
	if (a >= 0)
		close(a);
	char byte;
	if (ok)
		ok = read(c, &byte, 1) == 0;
	if (c >= 0)
		close(c);
	close(fd);
	return ok ? -1 : -2;
}

/* The second bind's errno (0: shared), or -1 when not measured. */
static int measure(const struct pair *p, unsigned first_opts, unsigned second_opts)
{
	uint16_t port = free_port(p->type);
	if (!port)
		return -1;
	int first = -1, result = -1;
	int ready[2], done[2];
	pid_t child = -1;
	if (p->other_uid) {
		if (pipe(ready) != 0 || pipe(done) != 0)
			return -1;
		child = fork();
		if (child == 0) {
			char ok = 0;
			if (setgroups(0, NULL) == 0 && setresgid(65534, 65534, 65534) == 0 &&
			    setresuid(65534, 65534, 65534) == 0)
				ok = make_first(p, first_opts, port) != -2;
			if (write(ready[1], &ok, 1) != 1 || read(done[0], &ok, 1) < 0)
				_exit(1);
			_exit(0);
		}
		char ok = 0;
		if (child < 0 || read(ready[0], &ok, 1) != 1 || !ok)
			goto out;
	} else if ((first = make_first(p, first_opts, port)) == -2) {
		goto out;
	}
	int second = open_bound(p->type, &p->second, second_opts, port);
	result = second >= 0 ? 0 : -second;
	if (second >= 0)
		close(second);
out:
	if (first >= 0)
		close(first);
	if (child > 0) {
		char byte = 1;
		if (write(done[1], &byte, 1) != 1)
			kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	if (p->other_uid) {
		close(ready[0]);
		close(ready[1]);
		close(done[0]);
		close(done[1]);
	}
	if (result < 0)
		failed_measurement = true;
	return result;
}

static const char *endpoint(const struct end *e)
{
	static char buf[2][64];
	static int which;
	char *b = buf[which++ & 1];
	if (e->family == AF_INET)
		snprintf(b, 64, "%s", e->addr);
	else
		snprintf(b, 64, "[%s]%s", e->addr,
			 strcmp(e->addr, "::") == 0 ? (e->v6only ? " v6only" : " dual-stack") : "");
	return b;
}

static void grid(const struct pair *p, const char *title)
{
	static const char *const states[] = { "bound", "listening", "gone, in TIME_WAIT" };
	printf("\n%s — %s, first %s %s; second %s%s\n", title, p->type == SOCK_STREAM ? "TCP" : "UDP",
	       endpoint(&p->first), p->type == SOCK_STREAM ? states[p->state] : "bound",
	       endpoint(&p->second), p->other_uid ? "; first socket owned by uid 65534" : "");
	printf("  %-16s", "first \\ second");
	for (int c = 0; c < 4; c++)
		printf(" %-14s", opt_names[c]);
	printf("\n");
	for (unsigned r = 0; r < 4; r++) {
		printf("  %-16s", opt_names[r]);
		for (unsigned c = 0; c < 4; c++) {
			int e = measure(p, r, c);
			printf(" %-14s", e < 0 ? "(not measured)" : e == 0 ? "ok" : lr_errno_name(e));
		}
		printf("\n");
	}
}

int lr_cli_matrix(int argc, char **argv)
{
	if (lr_cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return LR_EXIT_OK;
	}
	if (argc != 1) {
		fputs(usage, stderr);
		return LR_EXIT_USAGE;
	}
	struct utsname u;
	uname(&u);
	char when[64];
	time_t now = time(NULL);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
	printf("libreuse matrix: which second bind this kernel allows, measured on loopback\n");
	printf("kernel: %s %s %s; measured %s as uid %u\n", u.sysname, u.release, u.machine, when,
	       (unsigned)geteuid());
	printf("options: ADDR = SO_REUSEADDR, PORT = SO_REUSEPORT; rows: the first socket's, "
	       "columns: the second's\n");

	const struct end lo4 = { AF_INET, "127.0.0.1", false }, any4 = { AF_INET, "0.0.0.0", false };
	const struct end lo6 = { AF_INET6, "::1", true }, dual = { AF_INET6, "::", false },
			 any6only = { AF_INET6, "::", true };
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM };
	for (int t = 0; t < 2; t++) {
		int type = types[t];
		/* UDP has no listening: its first socket is only bound. */
		enum first_state firsts[2] = { type == SOCK_STREAM ? LISTENING : BOUND, BOUND };
		for (int f = 0; f < (type == SOCK_STREAM ? 2 : 1); f++) {
			enum first_state st = firsts[f];
			grid(&(struct pair){ type, st, lo4, lo4, false }, "same address, IPv4");
			grid(&(struct pair){ type, st, lo6, lo6, false }, "same address, IPv6");
			grid(&(struct pair){ type, st, any4, lo4, false }, "wildcard, then a specific address");
			grid(&(struct pair){ type, st, lo4, any4, false }, "a specific address, then the wildcard");
			grid(&(struct pair){ type, st, dual, any4, false }, "IPv6 dual-stack wildcard, then IPv4 wildcard");
			grid(&(struct pair){ type, st, any6only, any4, false }, "IPv6-only wildcard, then IPv4 wildcard");
		}
	}
	grid(&(struct pair){ SOCK_STREAM, TIME_WAIT, lo4, lo4, false },
	     "after TIME_WAIT: the first socket served a connection, closed it first, and exited");
	if (geteuid() == 0) {
		grid(&(struct pair){ SOCK_STREAM, LISTENING, lo4, lo4, true }, "another user");
		grid(&(struct pair){ SOCK_DGRAM, BOUND, lo4, lo4, true }, "another user");
	} else {
		printf("\nanother user: not measured (switching uid needs root)\n");
	}
	printf("\nTCP and UDP never conflict: they have separate port spaces.\n");
	return failed_measurement ? LR_EXIT_FAIL : LR_EXIT_OK;
}

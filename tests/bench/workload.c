/* The benchmark's workloads, timed from inside: prints nanoseconds per
 * cycle for N cycles (after a warm-up of N/10).
 *
 *   workload bind N PORT       socket, setsockopt SO_REUSEADDR, bind 127.0.0.1:PORT, close
 *   workload bind-self N PORT  the same, the program also setting SO_REUSEPORT itself
 *   workload bind-bare N PORT  socket, bind 127.0.0.1:PORT+i%64, close: one trapped call a
 *                              cycle under the supervisor (and its floors, supfloor); 64
 *                              ports in turn, as a supervisor may close its duplicate of a
 *                              socket after the program closed its own (the port then held
 *                              a moment longer, and no SO_REUSEADDR here)
 *   workload connect N PORT    connect to a loopback listener on PORT, accept, reset, close both
 *   workload rss PORT          one bind cycle, then prints VmRSS in KiB
 *   workload keep R P Q W      under `libreuse run --keep`: listens on P (kept), then
 *                              runs R children of each kind, in turn, and prints the
 *                              median ns of their one timed bind cycle: adopted (P),
 *                              keep asked but nothing kept (Q), no rule (Q); with
 *                              BENCH_STRACE=PREFIX each child runs under strace -o PREFIX.K
 *                              (K: 0 adopted, 1 nothing kept, 2 no rule)
 *   workload bind-once PORT W  one bind cycle after a warm-up one on port W; prints its ns;
 *                              getppid() before and after it marks it for strace
 *   workload syscalls N 0      N getppid system calls (which no filter traps); ns per call
 *   workload first-floor FILE  open+fstat+mmap+touch+close of FILE: "ns faults"
 *   workload faults            ns per first write to a fresh anonymous page (a page fault)
 */
#include <arpa/inet.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return in;
}

/* self_reuseport: 1 the program sets SO_REUSEPORT too; -1 it sets no option */
static void bind_cycle(int port, int self_reuseport)
{
	struct sockaddr_in in = loopback(port);
	int one = 1;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (self_reuseport >= 0)
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (self_reuseport > 0)
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

/* One timed cycle in a fresh process, after a warm-up cycle on another
 * port: the rule load at the first socket call, and the first touch of
 * every page the path runs through, are not timed. */
static int bind_once(int port, int warm_port)
{
	bind_cycle(warm_port, 0);
	syscall(SYS_getppid);
	double t0 = now();
	bind_cycle(port, 0);
	double t = now() - t0;
	syscall(SYS_getppid);
	printf("%.1f\n", t);
	return 0;
}

/* The first socket() of a fresh process, timed: where the library finds
 * its compiled table (from the cache, or from a helper that compiles it). */
static long minflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* malloc started, as in every program by its first socket (stdio,
 * locale, getaddrinfo...): glibc's first malloc (getrandom, brk, its
 * heap's first pages) is the program's, not the library's first
 * call's, which is the first to malloc only in a program that never
 * did (t_firstcost's helper does the same). */
static void start_malloc(void)
{
	void *volatile used = malloc(1);
	free(used);
}

/* Prints "ns faults": the call's time and its minor page faults. */
static int first_socket(void)
{
	start_malloc();
	long f0 = minflt();
	double t0 = now();
	int s = socket(AF_INET, SOCK_STREAM, 0);
	double t = now() - t0;
	printf("%.1f %ld\n", t, minflt() - f0);
	if (s >= 0)
		close(s);
	return 0;
}

/* The floor of a first socket() with a cached table: what reading that
 * table at least costs a fresh process (open, fstat, a read-only mapping,
 * a load from each page, close), and with_socket, the socket() call itself
 * after it (malloc started first, as first_socket has it). Prints "ns
 * faults" as first_socket. */
static int first_floor(const char *path, bool with_socket)
{
	if (with_socket)
		start_malloc();
	long f0 = minflt();
	double t0 = now();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0)
		return 1;
	const volatile char *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return 1;
	unsigned sum = 0;
	for (off_t i = 0; i < st.st_size; i += 4096)
		sum += (unsigned char)p[i];
	close(fd);
	int s = with_socket ? socket(AF_INET, SOCK_STREAM, 0) : -1;
	double t = now() - t0;
	printf("%.1f %ld\n", t + (double)(sum & 0), minflt() - f0);
	if (s >= 0)
		close(s);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* A child of this process (so the keeper serves it), as its own instance
 * generation `gen` (so the kept socket is one it has not taken yet). */
static double child_bind(const char *self, int port, int warm_port, unsigned gen, int with_rules, int kind)
{
	int fds[2];
	if (pipe(fds) != 0)
		exit(1);
	pid_t pid = fork();
	if (pid == 0) {
		char g[16], p[16], w[16];
		snprintf(g, sizeof(g), "%u", gen);
		snprintf(p, sizeof(p), "%d", port);
		snprintf(w, sizeof(w), "%d", warm_port);
		setenv("LIBREUSE_KEEPER_GEN", g, 1);
		if (!with_rules)
			setenv("LIBREUSE_RULES", "", 1);
		dup2(fds[1], 1);
		const char *trace = getenv("BENCH_STRACE");
		if (trace) {
			char out[4096];
			snprintf(out, sizeof(out), "%s.%d", trace, kind);
			execlp("strace", "strace", "-o", out, self, "bind-once", p, w, (char *)NULL);
		}
		execl(self, self, "bind-once", p, w, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char buf[64] = "";
	ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	int st;
	waitpid(pid, &st, 0);
	if (n <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "workload: a bind-once child failed\n");
		exit(1);
	}
	return atof(buf);
}

static int keep_bench(const char *self, int rounds, int kept_port, int other_port, int warm_port)
{
	struct sockaddr_in in = loopback(kept_port);
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&in, sizeof(in)) != 0 || listen(s, 16) != 0) {
		perror("keep: listen");
		return 1;
	}
	double *t[3];
	for (int k = 0; k < 3; k++)
		t[k] = calloc((size_t)rounds, sizeof(double));
	for (int r = 0; r < rounds; r++) {
		t[0][r] = child_bind(self, kept_port, warm_port, 2 + (unsigned)r, 1, 0);
		t[1][r] = child_bind(self, other_port, warm_port, 2 + (unsigned)r, 1, 1);
		t[2][r] = child_bind(self, other_port, warm_port, 2 + (unsigned)r, 0, 2);
	}
	for (int k = 0; k < 3; k++) {
		qsort(t[k], (size_t)rounds, sizeof(double), cmp_double);
		printf("%s%.1f", k ? " " : "", t[k][rounds / 2]);
	}
	printf("\n");
	close(s);
	return 0;
}

/* What a program pays per page it first touches: what a load's reads and
 * writes of fresh memory cost, which varies a lot between machines. */
static int fault_cost(void)
{
	enum { PAGES = 256 };
	long page = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, (size_t)(PAGES * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	double t0 = now();
	for (long i = 0; i < PAGES; i++)
		p[i * page] = 1;
	printf("%.1f\n", (now() - t0) / PAGES);
	return 0;
}

/* One datagram on one UDP socket the program never binds (an SNMP or
 * metrics client): the first send binds it, every later one is what a
 * sender pays per datagram. */
static void send_cycle(int port)
{
	static int fd = -1;
	static struct sockaddr_in to;
	if (fd < 0) {
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		to.sin_family = AF_INET;
		to.sin_port = htons((uint16_t)port);
		to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	sendto(fd, "x", 1, 0, (struct sockaddr *)&to, sizeof(to));
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "faults") == 0)
		return fault_cost();
	if (argc == 2 && strcmp(argv[1], "first-socket") == 0)
		return first_socket();
	if (argc == 3 && strcmp(argv[1], "first-floor") == 0)
		return first_floor(argv[2], false);
	if (argc == 3 && strcmp(argv[1], "first-floor-socket") == 0)
		return first_floor(argv[2], true);
	if (argc == 4 && strcmp(argv[1], "bind-once") == 0)
		return bind_once(atoi(argv[2]), atoi(argv[3]));
	if (argc == 6 && strcmp(argv[1], "keep") == 0)
		return keep_bench(argv[0], atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	if (argc == 3 && strcmp(argv[1], "rss") == 0) {
		bind_cycle(atoi(argv[2]), 0);
		printf("%ld\n", rss_kib());
		return 0;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: workload bind|bind-self|bind-bare|connect|sendto N PORT | workload rss PORT\n");
		return 2;
	}
	const char *mode = argv[1];
	long n = atol(argv[2]);
	int port = atoi(argv[3]);
	unsigned rot = 0;
	int which = strcmp(mode, "bind") == 0		 ? 0
		    : strcmp(mode, "bind-self") == 0 ? 1
		    : strcmp(mode, "connect") == 0   ? 2
		    : strcmp(mode, "sendto") == 0    ? 4
		    : strcmp(mode, "bind-bare") == 0 ? 5
						     : 3;
#define CYCLE()                                                                            \
	(which == 4   ? send_cycle(port)                                                   \
	 : which == 3 ? (void)syscall(SYS_getppid)                                         \
	 : which == 2 ? connect_cycle(port)                                                \
		 : which == 5 ? bind_cycle(port + (int)(rot++ % 64), -1)                              \
		      : bind_cycle(port, which))
	for (long i = 0; i < n / 10; i++)
		CYCLE();
	double t0 = now();
	for (long i = 0; i < n; i++)
		CYCLE();
	printf("%.1f\n", n ? (now() - t0) / n : 0);
	return 0;
}

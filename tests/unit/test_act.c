/* Carrying out decisions (lr_act_*) through a fake front end: socket ops
 * that record what they are asked and answer as each test scripts, and a
 * sink (a file) whose lines are read back and checked word by word. The
 * socket the act asks the kernel about itself (getsockname, SO_ACCEPTCONN,
 * a conflict's holders) is a real one, never bound: only the fake ops "bind"
 * it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "act.h"
#include "addrparse.h"
#include "compiled.h"
#include "sockbits.h"
#include "tally.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* What the fake ops were asked, and how they are to answer. One test at a
 * time touches it; setup clears it. */
static struct fake {
	/* bind: the errno of each call in turn (0: success), then after_err */
	int bind_errs[4];
	int bind_after_err;
	int connect_err;
	int binds, connects;
	struct sockaddr_storage bound; /* the last address bind was given */
	int opts[4];                   /* the options setsockopt was asked to set */
	int nopts;
	uint16_t st; /* the socket's record, as mark left it */
	/* keep: adopt and offer answer ok with this "from", or not with why */
	bool adopt_ok, offer_ok, no_keeper;
	const char *from, *why;
	int adopts, offers;
	struct lr_keep_sock want;
	const char *want_name;
	unsigned said; /* LR_SAID_* this fake process was told, as a front end keeps them */
} fake;

static int fake_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	(void)fd;
	memcpy(&fake.bound, sa, len);
	int n = fake.binds++;
	int e = n < 4 ? fake.bind_errs[n] : fake.bind_after_err;
	if (!e)
		return 0;
	errno = e;
	return -1;
}

static int fake_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	(void)fd, (void)sa, (void)len;
	fake.connects++;
	if (!fake.connect_err)
		return 0;
	errno = fake.connect_err;
	return -1;
}

static int fake_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	(void)fd, (void)val, (void)len;
	assert_int_equal(level, SOL_SOCKET);
	if (fake.nopts < 4)
		fake.opts[fake.nopts++] = name;
	return 0;
}

static void fake_mark(const struct lr_caller *who, int fd, uint16_t clear, uint16_t set)
{
	(void)who, (void)fd;
	fake.st = (uint16_t)((fake.st & ~clear) | set);
}

static void outcome(bool ok, struct lr_keep_outcome *out)
{
	memset(out, 0, sizeof(*out));
	if (ok)
		snprintf(out->from, sizeof(out->from), "%s", fake.from);
	else if (fake.why)
		snprintf(out->why, sizeof(out->why), "%s", fake.why);
	out->no_keeper = !ok && fake.no_keeper;
}

static int fake_adopt(const struct lr_caller *who, int fd, const struct lr_keep_sock *want,
		      const char *name, struct lr_keep_outcome *out)
{
	(void)who, (void)fd;
	fake.adopts++;
	fake.want = *want;
	fake.want_name = name;
	outcome(fake.adopt_ok, out);
	return fake.adopt_ok;
}

static int fake_offer(const struct lr_caller *who, int fd, struct lr_keep_outcome *out)
{
	(void)who, (void)fd;
	fake.offers++;
	outcome(fake.offer_ok, out);
	return fake.offer_ok;
}

static bool fake_first(const struct lr_caller *who, unsigned said)
{
	(void)who;
	bool first = !(fake.said & said);
	fake.said |= said;
	return first;
}

static const struct lr_socket_ops ops = {
	.first = fake_first,
	.bind = fake_bind,
	.connect = fake_connect,
	.setsockopt = fake_setsockopt,
	.mark = fake_mark,
	.adopt = fake_adopt,
	.offer = fake_offer,
};

static const struct lr_caller who = { .ops = &ops, .pid = 0, .euid = (uid_t)-1, .program = "prog" };

/* The rules in force, their sink's file, and the test's real socket. */
static struct lr_loaded loaded;
static char dir[512], path[600];
static int sock = -1;

/* The log rate limit is the process's: every test names its own ports, so
 * no line is held back for looking like another test's. */
static uint16_t next_port = 21000;
static uint16_t port(void)
{
	return next_port++;
}

static int setup(void **state)
{
	(void)state;
	memset(&fake, 0, sizeof(fake));
	fake.from = "the keeper (pid 7)";
	lr_tally_reset();
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/libreuse-unit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/act.log", dir);
	char err[256];
	struct lr_log_conf conf = { .target = LR_TARGET_FILE, .format = LR_FORMAT_TEXT, .path = path };
	lr_sink_open(&loaded.sink, &conf, err, sizeof(err));
	assert_string_equal(err, "");
	loaded.table = NULL;
	sock = -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	lr_sink_close(&loaded.sink);
	if (loaded.table)
		lr_table_free(loaded.table);
	if (sock >= 0)
		close(sock);
	unlink(path);
	rmdir(dir);
	return 0;
}

/* The rules of a test, made of a format and its ports. */
static void rules(const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	loaded.table = compile(text);
}

static int socket_of(int type)
{
	sock = socket(AF_INET, type, 0);
	assert_true(sock >= 0);
	return sock;
}

/* Everything the sink was given. */
static const char *lines(void)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* How many lines hold every one of the words (NULL-terminated). */
static int said(const char *word, ...)
{
	const char *all = lines();
	int found = 0;
	for (const char *line = all; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char one[2048];
		snprintf(one, sizeof(one), "%.*s", (int)len, line);
		bool every = true;
		va_list ap;
		va_start(ap, word);
		for (const char *w = word; w && every; w = va_arg(ap, const char *))
			every = strstr(one, w) != NULL;
		va_end(ap);
		found += every;
		line += len + (end != NULL);
	}
	return found;
}

static int line_count(void)
{
	int n = 0;
	for (const char *p = lines(); *p; p++)
		n += *p == '\n';
	return n;
}

/* "bind tcp 127.0.0.1:P" and the like, for the words of a line. */
static const char *call_of(const char *op, const char *proto, const char *addr, uint16_t p)
{
	static char buf[4][96];
	static int i;
	char *s = buf[i++ & 3];
	snprintf(s, sizeof(buf[0]), "prog: %s %s %s:%u", op, proto, addr, p);
	return s;
}

static void call(struct lr_call *c, uint8_t op, uint8_t proto, const char *addr, uint16_t p,
		 struct sockaddr_in *sa)
{
	memset(c, 0, sizeof(*c));
	c->op = op;
	c->proto = proto;
	c->port = p;
	assert_int_equal(lr_parse_addr(addr, &c->addr), 0);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(p);
	assert_int_equal(inet_pton(AF_INET, addr, &sa->sin_addr), 1);
}

static int act_bind(const char *addr, uint16_t p, const struct lr_sockinfo *si)
{
	struct lr_call c;
	struct sockaddr_in sa;
	call(&c, LR_OP_BIND, LR_PROTO_TCP, addr, p, &sa);
	return lr_act_bind(&loaded, &who, sock, (struct sockaddr *)&sa, sizeof(sa), &c, si);
}

static int act_connect(const char *addr, uint16_t p, const struct lr_sockinfo *si)
{
	struct lr_call c;
	struct sockaddr_in sa;
	call(&c, LR_OP_CONNECT, LR_PROTO_TCP, addr, p, &sa);
	return lr_act_connect(&loaded, &who, sock, (struct sockaddr *)&sa, sizeof(sa), &c, si);
}

static uint16_t bound_port(void)
{
	assert_int_equal(fake.bound.ss_family, AF_INET);
	return ntohs(((struct sockaddr_in *)&fake.bound)->sin_port);
}

static const char *bound_addr(void)
{
	static char buf[INET_ADDRSTRLEN];
	return inet_ntop(AF_INET, &((struct sockaddr_in *)&fake.bound)->sin_addr, buf, sizeof(buf));
}

static const struct lr_sockinfo v4 = { .family = AF_INET };

static void injects_reuseaddr_and_reuseport(void **state)
{
	(void)state;
	uint16_t p = port(), q = port();
	rules("log = { level = \"all\"; };"
	      "rules = ( { match = { port = %u; }; reuseaddr = true; reuseport = true; },"
	      " { match = { port = %u; }; reuseaddr = true; reuseport = true; } );",
	      p, q);
	socket_of(SOCK_STREAM);
	errno = 0;
	assert_int_equal(act_bind("127.0.0.1", p, &v4), 0);
	assert_int_equal(fake.nopts, 2);
	assert_int_equal(fake.opts[0], SO_REUSEADDR);
	assert_int_equal(fake.opts[1], SO_REUSEPORT);
	assert_int_equal(fake.binds, 1);
	assert_int_equal(bound_port(), p);
	assert_int_equal(fake.st, LR_SOCK_BOUND | (LR_OPT_REUSEADDR | LR_OPT_REUSEPORT)
						  << LR_SOCK_INJECTED_SHIFT);
	assert_int_equal(said(call_of("bind", "tcp", "127.0.0.1", p),
			      ": inject SO_REUSEADDR SO_REUSEPORT; rule 1", NULL), 1);
	assert_int_equal(said(call_of("bind", "tcp", "127.0.0.1", p), " ok; reuse: SO_REUSEADDR by "
			      "libreuse, SO_REUSEPORT by libreuse; rule 1", NULL), 1);
	assert_int_equal(line_count(), 2);

	/* What the program set itself is not set again, and its line says so. */
	fake.nopts = 0;
	fake.st = 0;
	struct lr_sockinfo own = { .family = AF_INET, .prog_on = LR_OPT_REUSEADDR };
	assert_int_equal(act_bind("127.0.0.1", q, &own), 0);
	assert_int_equal(fake.nopts, 1);
	assert_int_equal(fake.opts[0], SO_REUSEPORT);
	assert_int_equal(said(call_of("bind", "tcp", "127.0.0.1", q), ": inject SO_REUSEPORT; rule 2", NULL), 1);
	assert_int_equal(said(call_of("bind", "tcp", "127.0.0.1", q),
			      "reuse: SO_REUSEADDR by program, SO_REUSEPORT by libreuse", NULL), 1);
	assert_int_equal(lr_tally[LR_TALLY_INJECT], 2);
}

/* A `force` rule's injection is recorded as forced: the program's later
 * attempt to turn it off is ignored and said so. */
static void force_survives_the_program(void **state)
{
	(void)state;
	uint16_t p = port();
	rules("log = { level = \"all\"; };"
	      "rules = ( { match = { port = %u; }; reuseport = true; force = true; } );", p);
	socket_of(SOCK_STREAM);
	struct lr_sockinfo off = { .family = AF_INET, .prog_off = LR_OPT_REUSEPORT };
	assert_int_equal(act_bind("0.0.0.0", p, &off), 0);
	assert_int_equal(fake.nopts, 1);
	assert_true(fake.st & LR_SOCK_FORCED);
	uint16_t st = (uint16_t)(fake.st | LR_SOCK_KNOWN | LR_SOCK_TCP);
	int zero = 0;
	fake.nopts = 0;
	errno = 0;
	assert_int_equal(lr_act_reuse_option(&loaded, &who, sock, st, SO_REUSEPORT, &zero, sizeof(zero)), 0);
	assert_int_equal(fake.nopts, 0);
	assert_int_equal(said("prog: setsockopt tcp", "SO_REUSEPORT=0 ignored: forced by rule", NULL), 1);
	/* SO_REUSEADDR was not forced: it is the program's to set, recorded. */
	fake.st = 0;
	assert_int_equal(lr_act_reuse_option(&loaded, &who, sock, st, SO_REUSEADDR, &zero, sizeof(zero)), 0);
	assert_int_equal(fake.nopts, 1);
	assert_int_equal(fake.opts[0], SO_REUSEADDR);
	assert_int_equal(fake.st, LR_OPT_REUSEADDR << LR_SOCK_PROG_OFF_SHIFT);
	assert_int_equal(said("prog: setsockopt tcp", "SO_REUSEADDR=0", NULL), 1);
}

static void rewrites_the_address(void **state)
{
	(void)state;
	uint16_t p = port(), q = port();
	rules("log = { level = \"actions\"; };"
	      "rules = ( { match = { port = %u; }; rewrite = \"127.0.0.1:%u\"; } );", p, q);
	socket_of(SOCK_STREAM);
	struct lr_call c;
	struct sockaddr_in sa;
	call(&c, LR_OP_BIND, LR_PROTO_TCP, "0.0.0.0", p, &sa);
	struct sockaddr_in asked = sa;
	assert_int_equal(lr_act_bind(&loaded, &who, sock, (struct sockaddr *)&sa, sizeof(sa), &c, &v4), 0);
	assert_int_equal(fake.binds, 1);
	assert_string_equal(bound_addr(), "127.0.0.1");
	assert_int_equal(bound_port(), q);
	/* The program's own address is never written. */
	assert_memory_equal(&sa, &asked, sizeof(sa));
	char to[64];
	snprintf(to, sizeof(to), " -> 127.0.0.1:%u: rewrite; rule 1", q);
	assert_int_equal(said(call_of("bind", "tcp", "0.0.0.0", p), to, NULL), 1);
	assert_int_equal(line_count(), 1);
	assert_int_equal(lr_tally[LR_TALLY_REWRITE], 1);
}

static void denies_the_bind(void **state)
{
	(void)state;
	uint16_t p = port(), q = port();
	rules("log = { level = \"actions\"; };"
	      "rules = ( { match = { port = %u; }; deny = \"EACCES\"; },"
	      " { match = { port = %u; }; deny = \"EADDRNOTAVAIL\"; dry_run = true; } );",
	      p, q);
	socket_of(SOCK_STREAM);
	errno = 0;
	assert_int_equal(act_bind("0.0.0.0", p, &v4), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(fake.binds, 0);
	assert_int_equal(fake.st, 0);
	assert_int_equal(said(call_of("bind", "tcp", "0.0.0.0", p), ": deny EACCES; rule 1", NULL), 1);
	assert_int_equal(lr_tally[LR_TALLY_DENY], 1);
	/* A dry run says what it would do and binds as asked. */
	assert_int_equal(act_bind("0.0.0.0", q, &v4), 0);
	assert_int_equal(fake.binds, 1);
	assert_int_equal(bound_port(), q);
	assert_int_equal(said(call_of("bind", "tcp", "0.0.0.0", q), ": would deny EADDRNOTAVAIL; rule 2", NULL), 1);
	assert_int_equal(lr_tally[LR_TALLY_WOULD], 1);
}

static void binds_the_connect_source(void **state)
{
	(void)state;
	uint16_t p = port(), s = port();
	rules("log = { level = \"actions\"; };"
	      "rules = ( { match = { op = \"connect\"; port = %u; }; source = \"127.0.0.1:%u\"; reuseaddr = true; } );",
	      p, s);
	socket_of(SOCK_STREAM);
	assert_int_equal(act_connect("127.0.0.1", p, &v4), 0);
	assert_int_equal(fake.binds, 1);
	assert_string_equal(bound_addr(), "127.0.0.1");
	assert_int_equal(bound_port(), s);
	assert_int_equal(fake.connects, 1);
	assert_int_equal(fake.nopts, 1);
	assert_int_equal(fake.opts[0], SO_REUSEADDR);
	assert_true(fake.st & LR_SOCK_BOUND);
	assert_int_equal(said(call_of("bind", "tcp", "127.0.0.1", s), ": source before connect; rule 1", NULL), 1);
	assert_int_equal(lr_tally[LR_TALLY_SOURCE], 1);

	/* The source not to be had: no connect, the program sees the bind's
	 * errno, and the conflict is said. */
	memset(&fake, 0, sizeof(fake));
	fake.bind_errs[0] = EADDRINUSE;
	errno = 0;
	assert_int_equal(act_connect("127.0.0.1", p, &v4), -1);
	assert_int_equal(errno, EADDRINUSE);
	assert_int_equal(fake.connects, 0);
	assert_false(fake.st & LR_SOCK_BOUND);
	assert_int_equal(said(call_of("bind", "tcp", "127.0.0.1", s), " failed: EADDRINUSE",
			      "; source bind before connect", NULL), 1);
	assert_int_equal(lr_tally[LR_TALLY_CONFLICT], 1);
}

/* The connect's own outcome is the program's, errno and all. */
static void connect_fails_as_the_kernel_says(void **state)
{
	(void)state;
	uint16_t p = port(), s = port();
	rules("log = { level = \"all\"; };"
	      "rules = ( { match = { op = \"connect\"; port = %u; }; source = \":%u\"; } );", p, s);
	socket_of(SOCK_STREAM);
	fake.connect_err = ECONNREFUSED;
	errno = 0;
	assert_int_equal(act_connect("127.0.0.1", p, &v4), -1);
	assert_int_equal(errno, ECONNREFUSED);
	assert_int_equal(bound_port(), s);
	assert_int_equal(said(call_of("connect", "tcp", "127.0.0.1", p), " failed: ECONNREFUSED", "rule 1", NULL), 1);
	/* Bound already (the record says so): no source bind, and why. */
	memset(&fake, 0, sizeof(fake));
	struct lr_sockinfo bound = { .family = AF_INET, .bound = true };
	assert_int_equal(act_connect("127.0.0.1", p, &bound), 0);
	assert_int_equal(fake.binds, 0);
	assert_int_equal(fake.connects, 1);
	assert_int_equal(said(call_of("connect", "tcp", "127.0.0.1", p), ": skip", NULL), 1);
}

static void retries_while_the_port_is_held(void **state)
{
	(void)state;
	uint16_t p = port(), q = port(), r = port();
	rules("log = { level = \"actions\"; };"
	      "rules = ( { match = { port = %u; }; retry = 5000; },"
	      " { match = { port = %u; }; retry = 40; }, { match = { port = %u; }; reuseport = true; } );",
	      p, q, r);
	socket_of(SOCK_STREAM);
	/* Held twice, then let go. */
	fake.bind_errs[0] = fake.bind_errs[1] = EADDRINUSE;
	assert_int_equal(act_bind("127.0.0.1", p, &v4), 0);
	assert_int_equal(fake.binds, 3);
	assert_true(fake.st & LR_SOCK_BOUND);
	assert_int_equal(said(call_of("bind", "tcp", "127.0.0.1", p),
			      ": retry the bind that met EADDRINUSE, with backoff; rule 1", NULL), 1);
	assert_int_equal(said(call_of("bind", "tcp", "127.0.0.1", p),
			      ": retry succeeded: the port was let go; rule 1", NULL), 1);
	assert_int_equal(lr_tally[LR_TALLY_RETRY], 1);

	/* Held for good: retried until the rule's time is up, then the bind
	 * fails as it would have. */
	memset(&fake, 0, sizeof(fake));
	fake.bind_errs[0] = EADDRINUSE;
	fake.bind_after_err = EADDRINUSE;
	for (int i = 1; i < 4; i++)
		fake.bind_errs[i] = EADDRINUSE;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errno = 0;
	assert_int_equal(act_bind("127.0.0.1", q, &v4), -1);
	assert_int_equal(errno, EADDRINUSE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long long ms = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 40);
	assert_true(fake.binds >= 4);
	assert_int_equal(fake.st, 0);
	assert_int_equal(said(call_of("bind", "tcp", "127.0.0.1", q),
			      ": retry gave up: the port is still held; rule 2", NULL), 1);
	assert_int_equal(said(call_of("bind", "tcp", "127.0.0.1", q), " failed: EADDRINUSE", NULL), 1);

	/* No retry rule: one bind, its failure the program's. */
	memset(&fake, 0, sizeof(fake));
	fake.bind_errs[0] = EADDRINUSE;
	assert_int_equal(act_bind("127.0.0.1", r, &v4), -1);
	assert_int_equal(fake.binds, 1);
	assert_int_equal(said(call_of("bind", "tcp", "127.0.0.1", r), "retry", NULL), 0);
}

/* A keep rule's bind takes the kept socket when the keeper has one; else
 * binds, and the listener goes to the keeper at listen. */
static void keeps_through_the_ops(void **state)
{
	(void)state;
	uint16_t p = port();
	rules("log = { level = \"actions\"; };"
	      "rules = ( { match = { port = %u; }; keep = \"web\"; reuseport = true; } );", p);
	socket_of(SOCK_STREAM);
	fake.adopt_ok = true;
	assert_int_equal(act_bind("127.0.0.1", p, &v4), 0);
	assert_int_equal(fake.adopts, 1);
	assert_int_equal(fake.binds, 0);
	assert_int_equal(fake.nopts, 0);
	assert_int_equal(fake.want.proto, LR_PROTO_TCP);
	assert_int_equal(fake.want.family, AF_INET);
	assert_int_equal(fake.want.port, p);
	assert_string_equal(fake.want_name, "web");
	assert_int_equal(fake.st, LR_SOCK_BOUND | LR_SOCK_KEPT);
	assert_int_equal(said(call_of("bind", "tcp", "127.0.0.1", p),
			      ": adopt from the keeper (pid 7); rule 1", NULL), 1);
	assert_int_equal(lr_tally[LR_TALLY_ADOPTED], 1);

	/* Nothing kept there: bound here, marked to be kept at listen. */
	fake.adopt_ok = false;
	fake.offer_ok = true;
	fake.st = 0;
	assert_int_equal(act_bind("127.0.0.1", p, &v4), 0);
	assert_int_equal(fake.adopts, 2);
	assert_int_equal(fake.binds, 1);
	assert_int_equal(fake.offers, 0);
	assert_int_equal(fake.st, LR_SOCK_BOUND | LR_SOCK_KEEP | LR_OPT_REUSEPORT << LR_SOCK_INJECTED_SHIFT);
	uint16_t st = (uint16_t)(fake.st | LR_SOCK_KNOWN | LR_SOCK_TCP);
	lr_act_listened(&loaded, &who, sock, st, 5, 0, 0);
	assert_int_equal(fake.offers, 1);
	assert_int_equal(fake.st & (LR_SOCK_KEEP | LR_SOCK_KEPT), LR_SOCK_KEPT);
	assert_int_equal(said("prog: listen tcp", ": kept by the keeper (pid 7)", NULL), 1);
	assert_int_equal(lr_tally[LR_TALLY_KEPT], 1);

	/* A failed listen hands nothing over. */
	fake.st = LR_SOCK_KEEP;
	lr_act_listened(&loaded, &who, sock, (uint16_t)(st | LR_SOCK_KEEP), 5, -1, EADDRINUSE);
	assert_int_equal(fake.offers, 1);
	assert_true(fake.st & LR_SOCK_KEEP);
}

/* A UDP socket is offered at bind; why a keep did not happen is said at
 * level "errors", and "no keeper at all" once a process. */
static void keep_misses_are_said(void **state)
{
	(void)state;
	uint16_t p = port(), q = port();
	rules("log = { level = \"errors\"; };"
	      "rules = ( { match = { port = %u; }; keep = true; }, { match = { port = %u; }; keep = true; } );",
	      p, q);
	socket_of(SOCK_DGRAM);
	struct lr_call c;
	struct sockaddr_in sa;
	call(&c, LR_OP_BIND, LR_PROTO_UDP, "127.0.0.1", p, &sa);
	fake.why = "the keeper refused: not its instance";
	assert_int_equal(lr_act_bind(&loaded, &who, sock, (struct sockaddr *)&sa, sizeof(sa), &c, &v4), 0);
	assert_int_equal(fake.adopts, 1);
	assert_int_equal(fake.offers, 1);
	assert_int_equal(fake.st, LR_SOCK_BOUND);
	assert_int_equal(said(call_of("bind", "udp", "127.0.0.1", p),
			      ": keep the keeper refused: not its instance; rule 1", NULL), 2);

	fake.why = NULL;
	fake.no_keeper = true;
	call(&c, LR_OP_BIND, LR_PROTO_UDP, "127.0.0.1", q, &sa);
	for (int i = 0; i < 3; i++)
		assert_int_equal(lr_act_bind(&loaded, &who, sock, (struct sockaddr *)&sa, sizeof(sa), &c, &v4), 0);
	assert_int_equal(said(": keep not possible: no keeper (libreuse run --keep)", NULL), 1);
	/* Nothing else at "errors": the successful binds have no line. */
	assert_int_equal(line_count(), 3);
}

/* An unconnected UDP socket's first datagram: the source bound before it
 * goes, its outcome said once sent. */
static void binds_before_the_first_send(void **state)
{
	(void)state;
	uint16_t p = port(), s = port(), d = port();
	rules("log = { level = \"all\"; };"
	      "rules = ( { match = { op = \"send\"; port = %u; }; source = \":%u\"; reuseport = true; },"
	      " { match = { op = \"send\"; port = %u; }; deny = \"EPERM\"; } );",
	      p, s, d);
	socket_of(SOCK_DGRAM);
	struct lr_call c;
	struct sockaddr_in sa;
	call(&c, LR_OP_SEND, LR_PROTO_UDP, "127.0.0.1", p, &sa);
	bool say = false;
	assert_int_equal(lr_act_send(&loaded, &who, sock, &c, &v4, &say), 0);
	assert_true(say);
	assert_int_equal(fake.binds, 1);
	assert_string_equal(bound_addr(), "0.0.0.0");
	assert_int_equal(bound_port(), s);
	assert_int_equal(fake.nopts, 1);
	assert_int_equal(fake.opts[0], SO_REUSEPORT);
	assert_true(fake.st & LR_SOCK_BOUND);
	assert_int_equal(said(call_of("bind", "udp", "0.0.0.0", s), ": source before send; rule 1", NULL), 1);
	errno = 0;
	lr_act_sent(&loaded, &who, sock, &c, &v4, true, 5, 0);
	assert_int_equal(said(call_of("send", "udp", "127.0.0.1", p), " ok", "rule 1", NULL), 1);
	/* Under the supervisor the program sends it: said as passed. */
	lr_act_sent(&loaded, &who, sock, &c, &v4, false, 0, 0);
	assert_int_equal(said(call_of("send", "udp", "127.0.0.1", p),
			      ": passed (the socket's first datagram, sent by the program itself)", NULL), 1);

	/* Denied: the datagram does not go, and the deny is its only line. */
	memset(&fake, 0, sizeof(fake));
	call(&c, LR_OP_SEND, LR_PROTO_UDP, "127.0.0.1", d, &sa);
	errno = 0;
	assert_int_equal(lr_act_send(&loaded, &who, sock, &c, &v4, &say), -1);
	assert_int_equal(errno, EPERM);
	assert_false(say);
	assert_int_equal(fake.binds, 0);
	assert_int_equal(said(call_of("send", "udp", "127.0.0.1", d), ": deny EPERM; rule 2", NULL), 1);

	/* Bound already, as the record says: nothing to do but note it. */
	memset(&fake, 0, sizeof(fake));
	struct lr_sockinfo bound = { .family = AF_INET, .bound = true };
	call(&c, LR_OP_SEND, LR_PROTO_UDP, "127.0.0.1", p, &sa);
	assert_int_equal(lr_act_send(&loaded, &who, sock, &c, &bound, &say), 0);
	assert_false(say);
	assert_int_equal(fake.binds, 0);
	assert_int_equal(fake.st, LR_SOCK_BOUND);
}

/* A call no rule matched, made by the front end: a line only for a
 * conflict at the default level. */
static void unruled_calls_say_conflicts(void **state)
{
	(void)state;
	uint16_t p = port(), q = port();
	rules("rules = ( { match = { port = 1; }; reuseport = true; } );");
	socket_of(SOCK_STREAM);
	struct lr_call c;
	struct sockaddr_in sa;
	call(&c, LR_OP_BIND, LR_PROTO_TCP, "127.0.0.1", p, &sa);
	lr_act_unruled(&loaded, &who, sock, &c, &v4, 0, 0);
	assert_int_equal(line_count(), 0);
	errno = 0;
	lr_act_unruled(&loaded, &who, sock, &c, &v4, -1, EADDRINUSE);
	assert_int_equal(errno, EADDRINUSE);
	assert_int_equal(said(call_of("bind", "tcp", "127.0.0.1", p), " failed: EADDRINUSE (",
			      "; reuse: none", NULL), 1);
	assert_int_equal(said("rule", NULL), 0);
	assert_int_equal(lr_tally[LR_TALLY_CONFLICT], 1);
	/* Through lr_act_bind, no rule: the bind as asked, recorded. */
	assert_int_equal(act_bind("127.0.0.1", q, &v4), 0);
	assert_int_equal(fake.binds, 1);
	assert_int_equal(fake.nopts, 0);
	assert_int_equal(fake.st, LR_SOCK_BOUND);
	assert_int_equal(line_count(), 1);
}

/* A kept socket's shutdown does not reach the kernel while the fd still
 * is that socket. */
static void shutdown_of_a_kept_socket(void **state)
{
	(void)state;
	rules("log = { level = \"actions\"; }; rules = ( );");
	socket_of(SOCK_DGRAM);
	uint16_t st = LR_SOCK_KNOWN | LR_SOCK_UDP | LR_SOCK_KEPT;
	fake.st = st;
	assert_true(lr_act_shutdown(&loaded, &who, sock, st));
	assert_int_equal(fake.st, st);
	assert_int_equal(said("prog: shutdown udp", ": shutdown ignored a kept socket", NULL), 1);
	/* The number now holds another socket (not listening, not UDP). */
	close(sock);
	socket_of(SOCK_STREAM);
	assert_false(lr_act_shutdown(&loaded, &who, sock, st));
	assert_int_equal(fake.st & LR_SOCK_KEPT, 0);
	assert_int_equal(line_count(), 1);
}

static void lines_of_their_own(void **state)
{
	(void)state;
	rules("log = { level = \"all\"; }; io_uring = \"refuse\"; rules = ( );");
	assert_true(lr_act_io_uring(&loaded, &who, true));
	assert_int_equal(said("prog: io_uring_setup: refused with ENOSYS (io_uring = \"refuse\")", NULL), 1);
	lr_act_undecoded(&loaded, &who, "a call of x32");
	assert_int_equal(said("prog: syscall: refused with ENOSYS: a call of x32, which libreuse cannot decode", NULL), 1);
	lr_table_free(loaded.table);
	rules("rules = ( );");
	/* At the default level a ring is said nowhere; it is not refused. */
	assert_false(lr_act_io_uring(&loaded, &who, true));
	assert_int_equal(line_count(), 2);
}

/* At level "all" the first TCP listener earns the verdict, once: once a
 * process, as the front end's record (here the fake's) says. */
static void listen_verdict(void **state)
{
	(void)state;
	rules("log = { level = \"all\"; }; rules = ( );");
	socket_of(SOCK_STREAM);
	uint16_t st = LR_SOCK_KNOWN | LR_SOCK_TCP | LR_OPT_REUSEADDR << LR_SOCK_PROG_ON_SHIFT;
	lr_act_listened(&loaded, &who, sock, st, 5, 0, 0);
	lr_act_listened(&loaded, &who, sock, st, 5, 0, 0);
	assert_int_equal(said("prog: listen tcp", " ok; reuse: SO_REUSEADDR by program; backlog 5", NULL), 2);
	assert_int_equal(said("prog: verdict: sets SO_REUSEADDR itself: it can restart at once",
			      "; never sets SO_REUSEPORT: a second instance cannot share its port", NULL), 1);
	assert_int_equal(line_count(), 3);
}

/* The exit summary counts what was done, at level "actions". */
static void summary_counts(void **state)
{
	(void)state;
	uint16_t p = port(), q = port();
	rules("log = { level = \"actions\"; };"
	      "rules = ( { match = { port = %u; }; reuseport = true; }, { match = { port = %u; }; deny = \"EACCES\"; } );",
	      p, q);
	socket_of(SOCK_STREAM);
	lr_act_summary(&loaded, &who);
	assert_int_equal(line_count(), 0); /* nothing done: no line */
	assert_int_equal(act_bind("0.0.0.0", p, &v4), 0);
	assert_int_equal(act_bind("0.0.0.0", p, &v4), 0);
	assert_int_equal(act_bind("0.0.0.0", q, &v4), -1);
	lr_act_summary(&loaded, &who);
	assert_int_equal(said("prog: summary: ", "2 injections, 0 rewrites, 1 denies, 0 source binds",
			      "0 conflicts", "; 0 lines dropped", NULL), 1);
}

/* Whether a front end must let libreuse make the call, or may let the
 * program make it and report after. */
static void what_changes_a_call(void **state)
{
	(void)state;
	uint16_t p = port(), q = port(), r = port();
	rules("rules = ( { match = { port = %u; }; reuseport = true; },"
	      " { match = { port = %u; }; retry = 10; }, { match = { port = %u; }; log = \"all\"; } );",
	      p, q, r);
	socket_of(SOCK_STREAM);
	struct lr_call c;
	struct sockaddr_in sa;
	call(&c, LR_OP_BIND, LR_PROTO_TCP, "0.0.0.0", p, &sa);
	assert_true(lr_act_changes(&loaded, sock, &c, &v4));
	c.port = q;
	assert_true(lr_act_changes(&loaded, sock, &c, &v4));
	c.port = r;
	assert_false(lr_act_changes(&loaded, sock, &c, &v4));
	assert_int_equal(fake.binds + fake.nopts + line_count(), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(injects_reuseaddr_and_reuseport),
		T(force_survives_the_program),
		T(rewrites_the_address),
		T(denies_the_bind),
		T(binds_the_connect_source),
		T(connect_fails_as_the_kernel_says),
		T(retries_while_the_port_is_held),
		T(keeps_through_the_ops),
		T(keep_misses_are_said),
		T(binds_before_the_first_send),
		T(unruled_calls_say_conflicts),
		T(shutdown_of_a_kept_socket),
		T(lines_of_their_own),
		T(listen_verdict),
		T(summary_counts),
		T(what_changes_a_call),
	};
#undef T
	return cmocka_run_group_tests_name("act", tests, NULL, NULL);
}

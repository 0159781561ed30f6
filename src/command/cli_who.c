/* libreuse who PORT[/tcp|/udp]: the sockets on a port and their owners, and
 * what a bind to it would meet now — tried for real on the wildcard address
 * (plain, with each reuse option), with the shim's explanation when refused. */
#include "cli.h"
#include "conflict.h"
#include "errname.h"
#include "keeperstate.h"
#include "keepwire.h"
#include "rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] =
	"usage: libreuse who PORT[/tcp|/udp]\n"
	"\n"
	"Lists the sockets on PORT (TCP and UDP unless one is named): state, address,\n"
	"uid, pid and program as far as this user can see. Then tries binds to\n"
	"0.0.0.0:PORT and [::]:PORT as this user — plain, with SO_REUSEADDR, with\n"
	"SO_REUSEPORT — and says why Linux would refuse them, as the shim logs it.\n"
	"A holder that is a keeper (libreuse run --keep) of this user's is asked its\n"
	"state: its instances, a restart pending, the sockets it keeps, the last\n"
	"restart's phases.\n"
	"Exit 0 when some socket holds the port, 1 when none does, 2 on a usage error.\n";

/* A bind of the wildcard address of family:port with opts, closed at once:
 * 0 or the errno. */
static int try_bind(int family, uint8_t proto, uint16_t port, unsigned opts)
{
	int fd = socket(family, proto == LR_PROTO_TCP ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0)
		return errno;
	int one = 1;
	if (opts & LR_OPT_REUSEADDR)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (opts & LR_OPT_REUSEPORT)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	struct sockaddr_storage ss;
	struct lr_addr any;
	lr_addr_any(&any, family);
	socklen_t len = lr_sockaddr_build(&ss, family, NULL, 0, &any, port);
	int ret = bind(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : errno;
	close(fd);
	return ret;
}

static void print_holders(const char *proto, const struct lr_holders *h)
{
	printf("%-5s %-11s %-40s %6s %7s  %s\n", "PROTO", "STATE", "ADDRESS", "UID", "PID", "PROGRAM");
	for (size_t i = 0; i < h->n; i++) {
		const struct lr_holder *x = &h->h[i];
		char addr[64], uid[16] = "-", pid[16] = "-";
		lr_format_addr(addr, sizeof(addr), &x->addr, x->port);
		if (x->has_uid)
			snprintf(uid, sizeof(uid), "%u", x->uid);
		if (x->pid)
			snprintf(pid, sizeof(pid), "%d", x->pid);
		printf("%-5s %-11s %-40s %6s %7s  %s\n", proto, lr_holder_state_name(x), addr, uid, pid,
		       x->pid ? x->program : (x->has_uid ? "(not visible to this user)" : "-"));
	}
	if (h->total > h->n)
		printf("... and %zu more\n", h->total - h->n);
}

/* Each keeper among the holders (once), asked its state; other holders
 * have no keeper's socket and are passed over. */
static void print_keepers(const struct lr_holders *h)
{
	for (size_t i = 0; i < h->n; i++) {
		pid_t pid = h->h[i].pid;
		bool seen = !pid || strcmp(h->h[i].program, "libreuse") != 0;
		for (size_t j = 0; j < i && !seen; j++)
			seen = h->h[j].pid == pid;
		if (seen)
			continue;
		char state[LR_KEEP_STATE_MAX + 1];
		int r = lr_keeper_state_ask(pid, state, sizeof(state));
		if (r == -1)
			printf("%s\n", state);
		if (r != 0)
			continue;
		for (char *line = strtok(state, "\n"); line; line = strtok(NULL, "\n"))
			printf("  %s\n", line);
	}
}

static void report_bind(int family, uint8_t proto, uint16_t port, const struct lr_holders *h)
{
	static const struct {
		unsigned opts;
		const char *name;
	} tries[] = { { 0, "plain" },
		      { LR_OPT_REUSEADDR, "with SO_REUSEADDR" },
		      { LR_OPT_REUSEPORT, "with SO_REUSEPORT" },
		      { LR_OPT_REUSEADDR | LR_OPT_REUSEPORT, "with both" } };
	const char *pname = proto == LR_PROTO_TCP ? "tcp" : "udp";
	struct lr_addr any;
	lr_addr_any(&any, family);
	char where[64];
	lr_format_addr(where, sizeof(where), &any, port);
	printf("a bind to %s/%s as uid %u now:", where, pname, (unsigned)geteuid());
	int first_err = 0;
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		int e = try_bind(family, proto, port, tries[i].opts);
		if (i == 0 && (e == EAFNOSUPPORT || e == EADDRNOTAVAIL) && family == AF_INET6) {
			printf(" IPv6 is not available here (%s)\n", lr_errno_name(e));
			return;
		}
		printf("%s %s %s", i ? ";" : "", tries[i].name, e ? lr_errno_name(e) : "ok");
		if (i == 0)
			first_err = e;
	}
	printf("\n");
	if (first_err == EADDRINUSE || first_err == EACCES || first_err == EADDRNOTAVAIL) {
		struct lr_refusal r;
		memset(&r, 0, sizeof(r));
		r.op = LR_OP_BIND;
		r.proto = proto;
		r.err = first_err;
		r.addr = any;
		r.port = port;
		r.uid = (uint32_t)geteuid();
		lr_conflict_sysctls(&r);
		char why[512];
		lr_explain(why, sizeof(why), &r, h);
		printf("why (plain bind): %s\n", why);
	}
}

int lr_cli_who(int argc, char **argv)
{
	if (lr_cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return LR_EXIT_OK;
	}
	if (argc != 2) {
		fputs(usage, stderr);
		return LR_EXIT_USAGE;
	}
	char *end;
	errno = 0;
	unsigned long port = strtoul(argv[1], &end, 10);
	bool tcp = true, udp = true;
	if (end != argv[1] && *end == '/') {
		tcp = strcmp(end, "/tcp") == 0;
		udp = strcmp(end, "/udp") == 0;
		if (!tcp && !udp)
			end = argv[1]; /* neither: a usage error below */
		else
			end += 4;
	}
	if (end == argv[1] || *end || errno || port == 0 || port > 65535 || argv[1][0] == '-') {
		lr_cli_error("who: '%s' is not PORT, PORT/tcp or PORT/udp (1-65535)", argv[1]);
		return LR_EXIT_USAGE;
	}
	bool held = false;
	for (int p = 0; p < 2; p++) {
		uint8_t proto = p == 0 ? LR_PROTO_TCP : LR_PROTO_UDP;
		if ((proto == LR_PROTO_TCP && !tcp) || (proto == LR_PROTO_UDP && !udp))
			continue;
		const char *pname = proto == LR_PROTO_TCP ? "tcp" : "udp";
		struct lr_holders h;
		if (lr_holders_find(proto, (uint16_t)port, &h) != 0) {
			lr_cli_error("who: cannot read the %s sockets (netlink and /proc/net both failed)", pname);
			return LR_EXIT_FAIL;
		}
		if (p == 1 && tcp)
			printf("\n");
		if (h.n) {
			held = true;
			print_holders(pname, &h);
			print_keepers(&h);
		} else {
			printf("%s/%lu: no socket this user can see\n", pname, port);
		}
		report_bind(AF_INET, proto, (uint16_t)port, &h);
		report_bind(AF_INET6, proto, (uint16_t)port, &h);
	}
	return held ? LR_EXIT_OK : LR_EXIT_FAIL;
}

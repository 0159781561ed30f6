/* libreuse check [FILE]: validate a rule file the way the shim loads it,
 * and print the rules as understood, normalised, one per line (each line a
 * libconfig group that loads back to the same rule). */
#include "cli.h"
#include "compile.h"
#include "config.h"
#include "errname.h"
#include "filter.h"
#include "rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: libreuse check [FILE]\n"
	"\n"
	"Validates a rule file and prints what libreuse understood: the log settings,\n"
	"then every rule normalised, one per line, with its line number. Without FILE:\n"
	"what the shim would load here ($LIBREUSE_RULES, then $LIBREUSE_CONFIG or the\n"
	"system rule file). Exit 0 when valid, 1 with FILE:LINE: message on the first\n"
	"error (or when the file does not exist), 2 on a usage error.\n";

static const char *pick(unsigned bits, const char *a, const char *b)
{
	return bits == 1 ? a : bits == 2 ? b : "any";
}

static void print_endpoint(const char *key, const struct lr_endpoint *e)
{
	char addr[64] = "";
	if (e->has_addr)
		lr_format_addr(addr, sizeof(addr), &e->addr, e->has_port ? e->port : -1);
	else
		snprintf(addr, sizeof(addr), ":%u", e->port);
	printf(" %s = \"%s\";", key, addr);
}

/* A libconfig string literal: quotes and backslashes escaped, control
 * bytes as \xNN, so the printed rule loads back as written. */
static void print_quoted(const char *v)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void print_rule(const struct lr_ruleset *rs, const struct lr_rule *r)
{
	static const char *const levels[] = { "off", "errors", "conflicts", "actions", "all" };
	const struct lr_action *a = &r->action;
	printf("{ match = { op = \"%s\"; proto = \"%s\"; family = \"%s\";",
	       r->op == LR_OP_SEND ? "send" : pick(r->op, "bind", "connect"),
	       pick(r->proto, "tcp", "udp"), pick(r->family, "ipv4", "ipv6"));
	if (r->port_lo == r->port_hi)
		printf(" port = %u;", r->port_lo);
	else
		printf(" port = \"%u-%u\";", r->port_lo, r->port_hi);
	if (r->has_addr) {
		char a[64];
		lr_format_addr(a, sizeof(a), &r->addr.addr, -1);
		printf(" address = \"%s/%u\";", a, r->addr.prefix);
	}
	if (r->program) {
		printf(" program = ");
		print_quoted(lr_ruleset_str(rs, r->program));
		putchar(';');
	}
	printf(" };");
	if (a->reuseaddr)
		printf(" reuseaddr = true;");
	if (a->reuseport)
		printf(" reuseport = true;");
	if (a->force)
		printf(" force = true;");
	if (a->has_rewrite)
		print_endpoint("rewrite", &a->rewrite);
	if (a->has_source)
		print_endpoint("source", &a->source);
	if (a->keep_name) {
		printf(" keep = ");
		print_quoted(lr_ruleset_str(rs, (const char *)(uintptr_t)a->keep_name));
		putchar(';');
	} else if (a->keep) {
		printf(" keep = true;");
	}
	if (a->deny)
		printf(" deny = \"%s\";", lr_errno_name(a->deny));
	if (a->retry_ms)
		printf(" retry = %u;", a->retry_ms);
	if (a->log_level >= 0)
		printf(" log = \"%s\";", levels[a->log_level]);
	if (a->dry_run)
		printf(" dry_run = true;");
	printf(" }  # rule %d, line %d\n", r->index + 1, r->line);
}

static void print_log(const struct lr_ruleset *rs)
{
	static const char *const levels[] = { "off", "errors", "conflicts", "actions", "all" };
	static const char *const facilities[] = { [1] = "user", [3] = "daemon", [4] = "auth",
						  [10] = "authpriv", [16] = "local0", [17] = "local1",
						  [18] = "local2", [19] = "local3", [20] = "local4",
						  [21] = "local5", [22] = "local6", [23] = "local7" };
	const struct lr_log_conf *l = &rs->log;
	const char *target = l->target == LR_TARGET_SYSLOG ? "syslog"
			     : l->target == LR_TARGET_JOURNAL ? "journal"
			     : l->target == LR_TARGET_FILE  ? lr_ruleset_str(rs, l->path)
							    : "stderr";
	int f = l->facility >> 3;
	printf("log = { level = \"%s\"; target = \"%s\"; format = \"%s\"; facility = \"%s\"; };\n",
	       levels[l->level], target, l->format == LR_FORMAT_JSON ? "json" : "text",
	       f >= 0 && f < 24 && facilities[f] ? facilities[f] : "user");
	printf("dry_run = %s;\n", rs->dry_run ? "true" : "false");
	printf("keep = %s;\n", rs->keep_all ? "true" : "false");
	printf("io_uring = \"%s\";\n", rs->io_uring_refuse ? "refuse" : "allow");
}

/* Datagrams cost a supervised program a trap only where a rule asks for
 * them: said as the supervisor's filter would be built from these rules. */
static void print_send_traps(const struct lr_ruleset *rs)
{
	struct lr_table *t = lr_table_compile(rs, NULL, NULL);
	struct lr_traps traps;
	if (!t)
		return;
	lr_traps_of(t, &traps);
	if (traps.send)
		printf("# op = \"send\": the first datagram of each unbound UDP socket is ruled; "
		       "under the supervisor (run --seccomp) sendto, sendmsg and sendmmsg are trapped\n");
	lr_table_free(t);
}

int lr_cli_check(int argc, char **argv)
{
	if (lr_cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return LR_EXIT_OK;
	}
	if (argc > 2 || (argc == 2 && argv[1][0] == '-' && argv[1][1])) {
		fputs(usage, stderr);
		return LR_EXIT_USAGE;
	}
	char err[1024];
	struct lr_ruleset rs;
	lr_ruleset_init(&rs);
	const char *inline_rules = argc == 2 ? NULL : getenv("LIBREUSE_RULES");
	const char *path = argc == 2 ? argv[1] : lr_cli_default_config();
	int status = LR_EXIT_OK;
	bool have_inline = inline_rules && inline_rules[0];
	if (have_inline &&
	    lr_config_load_text(inline_rules, "LIBREUSE_RULES", NULL, &rs, err, sizeof(err)) !=
		    LR_CONFIG_OK) {
		fprintf(stderr, "%s\n", err);
		status = LR_EXIT_FAIL;
	} else {
		switch (lr_config_load_file(path, &rs, err, sizeof(err))) {
		case LR_CONFIG_OK:
			break;
		case LR_CONFIG_MISSING:
			/* The shim then uses LIBREUSE_RULES alone, or passes through. */
			if (!have_inline) {
				fprintf(stderr, "%s: no such rule file\n", path);
				status = LR_EXIT_FAIL;
			}
			break;
		case LR_CONFIG_ERROR:
			fprintf(stderr, "%s\n", err);
			status = LR_EXIT_FAIL;
			break;
		}
	}
	if (status == LR_EXIT_OK) {
		printf("# %s%s: %zu rule%s\n", have_inline ? "LIBREUSE_RULES + " : "", path, rs.nrules,
		       rs.nrules == 1 ? "" : "s");
		print_log(&rs);
		print_send_traps(&rs);
		for (size_t i = 0; i < rs.nrules; i++)
			print_rule(&rs, &rs.rules[i]);
	}
	lr_ruleset_free(&rs);
	return status;
}

#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LR_SYSCONFDIR
#define LR_SYSCONFDIR "/etc"
#endif
#ifndef LR_VERSION
#define LR_VERSION "unknown"
#endif

static const char usage[] =
	"usage: libreuse COMMAND [ARGS]\n"
	"\n"
	"Run unmodified programs with socket reuse, bind rewriting and port-conflict\n"
	"auditing (LD_PRELOAD), and answer questions about ports.\n"
	"\n"
	"commands:\n"
	"  run [OPTIONS] [--] CMD [ARG...]  run CMD with libreuse preloaded\n"
	"  check [FILE]                     validate a rule file, print its rules\n"
	"  who PORT[/tcp|/udp]              who holds a port, and why a bind would fail\n"
	"  matrix                           what this kernel lets two sockets share\n"
	"  compile [-c FILE]                compile the rules into the table programs load\n"
	"  audit [OPTIONS] -- CMD | FILE... what a program opens, what fails, what to write\n"
	"\n"
	"libreuse COMMAND --help describes each; libreuse --version prints the version.\n"
	"Exit status: 0 success, 1 failure (bad rule file, port not held), 2 usage error;\n"
	"run: the command's own status, 126/127 when it cannot be executed.\n"
	"See libreuse(1), libreuse.conf(5) and libreuse(7).\n";

void lr_cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("libreuse: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

bool lr_cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
		/* run: the command's own options are not ours */
		if (argv[i][0] != '-' && strcmp(argv[0], "run") == 0)
			return false;
	}
	return false;
}

const char *lr_cli_default_config(void)
{
	const char *env = getenv("LIBREUSE_CONFIG");
	return env && env[0] ? env : LR_SYSCONFDIR "/libreuse.conf";
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} commands[] = {
		{ "run", lr_cli_run },
		{ "check", lr_cli_check },
		{ "who", lr_cli_who },
		{ "matrix", lr_cli_matrix },
		{ "compile", lr_cli_compile },
		{ "audit", lr_cli_audit },
	};
	if (argc < 2) {
		fputs(usage, stderr);
		return LR_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return LR_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("libreuse %s\n", LR_VERSION);
		return LR_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	lr_cli_error("unknown command '%s' (run, check, who, matrix, compile, audit; see libreuse --help)", argv[1]);
	return LR_EXIT_USAGE;
}

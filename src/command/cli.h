/* The `libreuse` command: one file per subcommand, this header between
 * them. Exit codes (documented in libreuse(1)): 0 success, 1 the thing
 * asked about is wrong or absent (bad rule file, nobody holds the port), 2
 * usage error; `run` execs the command, or exits 126/127 as a shell would. */
#ifndef LIBREUSE_CLI_H
#define LIBREUSE_CLI_H

#include <stdbool.h>

enum { LR_EXIT_OK = 0, LR_EXIT_FAIL = 1, LR_EXIT_USAGE = 2 };

int lr_cli_run(int argc, char **argv);
int lr_cli_check(int argc, char **argv);
int lr_cli_who(int argc, char **argv);
int lr_cli_matrix(int argc, char **argv);
int lr_cli_compile(int argc, char **argv);
int lr_cli_audit(int argc, char **argv);

/* Prints "libreuse: " and the message to stderr. */
void lr_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* True when argv holds -h/--help before any "--": subcommands print their
 * usage and exit 0. */
bool lr_cli_wants_help(int argc, char **argv);

/* The rule file the shim would load in this environment. */
const char *lr_cli_default_config(void);

#endif

/* Running the program: in `run`, the keeper's instances and the
 * supervisor's child (the command only, never inside a host). */
#ifndef LIBREUSE_EXEC_H
#define LIBREUSE_EXEC_H

#include "elfinfo.h"

#include <stdbool.h>
#include <stddef.h>

/* lr_elf_inspect_fd on the file at path (all zero when it cannot be read). */
void lr_exec_inspect(const char *path, struct lr_elf_info *info);

/* cmd as execvp would find it: true with its path in out, false when no
 * such file is found. */
bool lr_exec_resolve(const char *cmd, char *out, size_t n);

/* execvp(argv[0], argv), except that an ELF file the kernel refuses is
 * not handed to /bin/sh as a script (glibc's execvp does that on ENOEXEC,
 * and the shell then fails on the binary with 'Syntax error: "("
 * unexpected'). Returns only when it failed: then one line on stderr says
 * why, and the result is the exit status to give, 127 for a command not
 * found and 126 otherwise. */
int lr_exec(char *const argv[]);

/* From now on lr_exec finds and starts path, giving it argv[0] as the
 * caller has it (run --argv0). Set once, before the first lr_exec. */
void lr_exec_set_path(const char *path);

#endif

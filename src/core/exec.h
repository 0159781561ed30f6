/* Running the program: in `run`, the keeper's instances and the
 * supervisor's child (the command only, never inside a host). */
#ifndef LIBREUSE_EXEC_H
#define LIBREUSE_EXEC_H

#include <stdbool.h>
#include <stddef.h>

/* What an ELF file is, as far as starting it goes: which front end can
 * reach it (run), and why a kernel would refuse it (lr_exec). */
struct lr_elf_info {
	bool is_elf;
	bool is_32;     /* ELFCLASS32 */
	int machine;    /* e_machine: EM_X86_64, EM_386... */
	bool is_static; /* no program interpreter */
	bool is_go;     /* a Go build id note or section */
};
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

#endif

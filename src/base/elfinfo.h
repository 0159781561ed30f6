/* What an ELF file is, as far as starting it under libreuse goes: which
 * front end can reach it (run's choice; the library's exec hooks), and why
 * a kernel would refuse it (lr_exec). Read with pread alone, into the
 * caller's memory: async-signal-safe, so an exec hook may ask it between
 * vfork and exec. */
#ifndef LIBREUSE_ELFINFO_H
#define LIBREUSE_ELFINFO_H

#include <stdbool.h>

struct lr_elf_info {
	bool is_elf;
	bool is_32;     /* ELFCLASS32 */
	int machine;    /* e_machine: EM_X86_64, EM_386... */
	bool is_static; /* no program interpreter */
	bool is_go;     /* a Go build id note or section */
	char interp[64]; /* PT_INTERP, "" when none (or longer than this) */
};

/* From an open file (its offset is not moved); zeroes info first. */
void lr_elf_inspect_fd(int fd, struct lr_elf_info *info);

/* Whose dynamic loader interp is: musl's (/lib/ld-musl-ARCH.so.1). */
bool lr_elf_is_musl(const struct lr_elf_info *info);

#endif

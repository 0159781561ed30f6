#include "exec.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool lr_exec_resolve(const char *cmd, char *out, size_t n)
{
	if (strchr(cmd, '/')) {
		snprintf(out, n, "%s", cmd);
		return access(out, F_OK) == 0;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchr(path, ':');
		size_t len = end ? (size_t)(end - path) : strlen(path);
		snprintf(out, n, "%.*s/%s", (int)len, len ? path : ".", cmd);
		if (access(out, X_OK) == 0)
			return true;
		path += len + (end != NULL);
	}
	return false;
}

/* The ELF header's ident and machine of path; false for anything else. */
static bool elf_of(const char *path, unsigned char ident[EI_NIDENT], unsigned *machine)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	Elf32_Ehdr eh; /* ident and e_machine lie alike in both classes */
	bool elf = read(fd, &eh, sizeof(eh)) == (ssize_t)sizeof(eh) &&
		   memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0;
	close(fd);
	if (elf) {
		memcpy(ident, eh.e_ident, EI_NIDENT);
		*machine = eh.e_machine;
	}
	return elf;
}

/* What kind of program the kernel refused, in words a user can act on. */
static const char *refused_kind(const unsigned char *ident, unsigned machine)
{
	if (machine == EM_386)
		return "it is a 32-bit x86 (i386) program, and this kernel runs none (its IA32 "
		       "emulation is off, as with ia32_emulation=0, or absent)";
	if (machine == EM_X86_64 && ident[EI_CLASS] == ELFCLASS32)
		return "it is an x32 program, and this kernel runs none (CONFIG_X86_X32_ABI)";
	return "it is built for another machine or ABI than this kernel runs";
}

int lr_exec(char *const argv[])
{
	char path[4096];
	unsigned char ident[EI_NIDENT];
	unsigned machine = 0;
	bool elf = lr_exec_resolve(argv[0], path, sizeof(path)) && elf_of(path, ident, &machine);
	if (elf)
		execv(path, argv);
	else
		execvp(argv[0], argv);
	int e = errno;
	if (elf && e == ENOEXEC)
		fprintf(stderr, "libreuse: cannot run %s: %s: %s\n", argv[0], strerror(e),
			refused_kind(ident, machine));
	else
		fprintf(stderr, "libreuse: cannot run %s: %s\n", argv[0], strerror(e));
	return e == ENOENT ? 127 : 126;
}

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

/* Reads either class's headers into the same fields. */
#define READ_ELF(Ehdr, Phdr, Shdr, fd, info)                                                          \
	do {                                                                                          \
		Ehdr eh;                                                                              \
		if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh))                             \
			break;                                                                        \
		(info)->is_elf = true;                                                                \
		(info)->machine = eh.e_machine;                                                       \
		bool interp = false;                                                                  \
		for (int i = 0; i < eh.e_phnum; i++) {                                                \
			Phdr ph;                                                                      \
			if (pread(fd, &ph, sizeof(ph), (off_t)eh.e_phoff + (off_t)i * eh.e_phentsize) != \
			    (ssize_t)sizeof(ph))                                                      \
				break;                                                                \
			if (ph.p_type == PT_INTERP)                                                   \
				interp = true;                                                        \
		}                                                                                     \
		(info)->is_static = !interp;                                                          \
		Shdr strtab;                                                                          \
		if (eh.e_shstrndx != SHN_UNDEF && eh.e_shstrndx < eh.e_shnum &&                      \
		    pread(fd, &strtab, sizeof(strtab),                                                \
			  (off_t)eh.e_shoff + (off_t)eh.e_shstrndx * eh.e_shentsize) ==               \
			    (ssize_t)sizeof(strtab))                                                  \
			(info)->is_go = has_go_section(fd, (off_t)strtab.sh_offset, strtab.sh_size);  \
	} while (0)

/* Go writes its build id as a section ".note.go.buildid"; look for the
 * name in the section header string table (at off, size bytes). */
static bool has_go_section(int fd, off_t off, uint64_t size)
{
	if (size == 0 || size >= (1u << 20))
		return false;
	bool go = false;
	char *names = malloc(size + 1);
	if (names && pread(fd, names, size, off) == (ssize_t)size) {
		names[size] = '\0';
		for (size_t i = 0; i < size; i += strlen(names + i) + 1)
			if (strcmp(names + i, ".note.go.buildid") == 0 || strcmp(names + i, ".go.buildinfo") == 0)
				go = true;
	}
	free(names);
	return go;
}

void lr_exec_inspect(const char *path, struct lr_elf_info *info)
{
	memset(info, 0, sizeof(*info));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	unsigned char ident[EI_NIDENT];
	if (pread(fd, ident, sizeof(ident), 0) == (ssize_t)sizeof(ident) &&
	    memcmp(ident, ELFMAG, SELFMAG) == 0) {
		if (ident[EI_CLASS] == ELFCLASS64) {
			READ_ELF(Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr, fd, info);
		} else if (ident[EI_CLASS] == ELFCLASS32) {
			info->is_32 = true;
			READ_ELF(Elf32_Ehdr, Elf32_Phdr, Elf32_Shdr, fd, info);
		}
	}
	close(fd);
}

/* What kind of program the kernel refused, in words a user can act on. */
static const char *refused_kind(const struct lr_elf_info *e)
{
	if (e->machine == EM_386)
		return "it is a 32-bit x86 (i386) program, and this kernel runs none (its IA32 "
		       "emulation is off, as with ia32_emulation=0, or absent)";
	if (e->machine == EM_X86_64 && e->is_32)
		return "it is an x32 program, and this kernel runs none (CONFIG_X86_X32_ABI)";
	return "it is built for another machine or ABI than this kernel runs";
}

int lr_exec(char *const argv[])
{
	char path[4096];
	struct lr_elf_info e = { 0 };
	if (lr_exec_resolve(argv[0], path, sizeof(path)))
		lr_exec_inspect(path, &e);
	if (e.is_elf)
		execv(path, argv);
	else
		execvp(argv[0], argv);
	int err = errno;
	if (e.is_elf && err == ENOEXEC)
		fprintf(stderr, "libreuse: cannot run %s: %s: %s\n", argv[0], strerror(err), refused_kind(&e));
	else
		fprintf(stderr, "libreuse: cannot run %s: %s\n", argv[0], strerror(err));
	return err == ENOENT ? 127 : 126;
}

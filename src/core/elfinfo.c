#include "elfinfo.h"

#include <elf.h>
#include <string.h>
#include <unistd.h>

/* Go writes its build id as a section ".note.go.buildid"; look for the
 * name in the section header string table (at off, size bytes). Names
 * past the buffer are not looked at: a Go binary's table is a few hundred
 * bytes. */
static bool has_go_section(int fd, off_t off, uint64_t size)
{
	char names[8192];
	if (size == 0)
		return false;
	if (size > sizeof(names) - 1)
		size = sizeof(names) - 1;
	ssize_t got = pread(fd, names, size, off);
	if (got <= 0)
		return false;
	names[got] = '\0';
	for (ssize_t i = 0; i < got; i += (ssize_t)strlen(names + i) + 1)
		if (strcmp(names + i, ".note.go.buildid") == 0 || strcmp(names + i, ".go.buildinfo") == 0)
			return true;
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
		for (int i = 0; i < eh.e_phnum && i < 256; i++) {                                     \
			Phdr ph;                                                                      \
			if (pread(fd, &ph, sizeof(ph), (off_t)eh.e_phoff + (off_t)i * eh.e_phentsize) != \
			    (ssize_t)sizeof(ph))                                                      \
				break;                                                                \
			if (ph.p_type != PT_INTERP)                                                   \
				continue;                                                             \
			interp = true;                                                                \
			if (ph.p_filesz > 1 && ph.p_filesz <= sizeof((info)->interp) &&             \
			    pread(fd, (info)->interp, ph.p_filesz, (off_t)ph.p_offset) ==              \
				    (ssize_t)ph.p_filesz)                                             \
				(info)->interp[ph.p_filesz - 1] = '\0';                               \
			else                                                                          \
				(info)->interp[0] = '\0';                                             \
		}                                                                                     \
		(info)->is_static = !interp;                                                          \
		Shdr strtab;                                                                          \
		if (eh.e_shstrndx != SHN_UNDEF && eh.e_shstrndx < eh.e_shnum &&                      \
		    pread(fd, &strtab, sizeof(strtab),                                                \
			  (off_t)eh.e_shoff + (off_t)eh.e_shstrndx * eh.e_shentsize) ==               \
			    (ssize_t)sizeof(strtab))                                                  \
			(info)->is_go = has_go_section(fd, (off_t)strtab.sh_offset, strtab.sh_size);  \
	} while (0)

void lr_elf_inspect_fd(int fd, struct lr_elf_info *info)
{
	memset(info, 0, sizeof(*info));
	unsigned char ident[EI_NIDENT];
	if (pread(fd, ident, sizeof(ident), 0) != (ssize_t)sizeof(ident) ||
	    memcmp(ident, ELFMAG, SELFMAG) != 0)
		return;
	if (ident[EI_CLASS] == ELFCLASS64) {
		READ_ELF(Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr, fd, info);
	} else if (ident[EI_CLASS] == ELFCLASS32) {
		info->is_32 = true;
		READ_ELF(Elf32_Ehdr, Elf32_Phdr, Elf32_Shdr, fd, info);
	}
}

bool lr_elf_is_musl(const struct lr_elf_info *info)
{
	return strncmp(info->interp, "/lib/ld-musl-", 13) == 0;
}

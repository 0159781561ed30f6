#include "elfinfo.h"

#include <elf.h>
#include <stdint.h>
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
	static const char note[] = ".note.go.buildid", info[] = ".go.buildinfo";
	for (ssize_t i = 0; i < got;) {
		size_t len = strlen(names + i);
		if ((len == sizeof(note) - 1 && memcmp(names + i, note, len) == 0) ||
		    (len == sizeof(info) - 1 && memcmp(names + i, info, len) == 0))
			return true;
		i += (ssize_t)len + 1;
	}
	return false;
}

/* The first bytes of the file: the ELF header, and in any usual layout the
 * program headers and the interpreter's name after it, in one read. */
struct head {
	unsigned char b[2048];
	size_t len;
};

/* n bytes at off, from the head when it holds them, else read. */
static bool get(int fd, const struct head *h, void *out, size_t n, uint64_t off)
{
	if (off + n <= h->len) {
		memcpy(out, h->b + off, n);
		return true;
	}
	return pread(fd, out, n, (off_t)off) == (ssize_t)n;
}

/* Reads either class's headers into the same fields. */
#define READ_ELF(Ehdr, Phdr, Shdr, fd, h, info)                                                       \
	do {                                                                                          \
		Ehdr eh;                                                                              \
		if (!get(fd, h, &eh, sizeof(eh), 0))                                                  \
			break;                                                                        \
		(info)->is_elf = true;                                                                \
		(info)->machine = eh.e_machine;                                                       \
		bool interp = false;                                                                  \
		for (int i = 0; i < eh.e_phnum && i < 256; i++) {                                     \
			Phdr ph;                                                                      \
			if (!get(fd, h, &ph, sizeof(ph), eh.e_phoff + (uint64_t)i * eh.e_phentsize))   \
				break;                                                                \
			if (ph.p_type != PT_INTERP)                                                   \
				continue;                                                             \
			interp = true;                                                                \
			if (ph.p_filesz > 1 && ph.p_filesz <= sizeof((info)->interp) &&             \
			    get(fd, h, (info)->interp, ph.p_filesz, ph.p_offset))                     \
				(info)->interp[ph.p_filesz - 1] = '\0';                               \
			else                                                                          \
				(info)->interp[0] = '\0';                                             \
		}                                                                                     \
		(info)->is_static = !interp;                                                          \
		Shdr strtab;                                                                          \
		if (eh.e_shstrndx != SHN_UNDEF && eh.e_shstrndx < eh.e_shnum &&                      \
		    get(fd, h, &strtab, sizeof(strtab),                                               \
			eh.e_shoff + (uint64_t)eh.e_shstrndx * eh.e_shentsize))                       \
			(info)->is_go = has_go_section(fd, (off_t)strtab.sh_offset, strtab.sh_size);  \
	} while (0)

void lr_elf_inspect_fd(int fd, struct lr_elf_info *info)
{
	memset(info, 0, sizeof(*info));
	struct head h;
	ssize_t n = pread(fd, h.b, sizeof(h.b), 0);
	if (n < EI_NIDENT || memcmp(h.b, ELFMAG, SELFMAG) != 0)
		return;
	h.len = (size_t)n;
	if (h.b[EI_CLASS] == ELFCLASS64) {
		READ_ELF(Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr, fd, &h, info);
	} else if (h.b[EI_CLASS] == ELFCLASS32) {
		info->is_32 = true;
		READ_ELF(Elf32_Ehdr, Elf32_Phdr, Elf32_Shdr, fd, &h, info);
	}
}

bool lr_elf_is_musl(const struct lr_elf_info *info)
{
	return strncmp(info->interp, "/lib/ld-musl-", 13) == 0;
}

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

void lr_exec_inspect(const char *path, struct lr_elf_info *info)
{
	memset(info, 0, sizeof(*info));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	lr_elf_inspect_fd(fd, info);
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

/* Set once by run (--argv0) before anything is started; read by lr_exec in
 * run, the keeper and the supervisor's child. */
static const char *exec_path;

void lr_exec_set_path(const char *path)
{
	exec_path = path;
}

int lr_exec(char *const argv[])
{
	char path[4096];
	struct lr_elf_info e = { 0 };
	const char *file = exec_path ? exec_path : argv[0];
	if (lr_exec_resolve(file, path, sizeof(path)))
		lr_exec_inspect(path, &e);
	if (e.is_elf || exec_path)
		execv(path, argv);
	else
		execvp(argv[0], argv);
	int err = errno;
	if (e.is_elf && err == ENOEXEC)
		fprintf(stderr, "libreuse: cannot run %s: %s: %s\n", file, strerror(err), refused_kind(&e));
	else
		fprintf(stderr, "libreuse: cannot run %s: %s\n", file, strerror(err));
	return err == ENOENT ? 127 : 126;
}

/* Preloaded after libreuse: an interposer of exec of its own, as snoopy,
 * fakechroot or bear are. Each exec that reaches it appends "EXEC path" to
 * $EXECNOTE_FILE, then goes on to the next definition (libc's). */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void note(const char *path)
{
	const char *file = getenv("EXECNOTE_FILE");
	int fd = file ? open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
	if (fd < 0)
		return;
	char line[512] = "EXEC ";
	strncat(line, path, sizeof(line) - 7);
	strcat(line, "\n");
	ssize_t n = write(fd, line, strlen(line));
	(void)n;
	close(fd);
}

#define NEXT(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

int execve(const char *path, char *const argv[], char *const envp[])
{
	note(path);
	return NEXT(execve)(path, argv, envp);
}

int execvp(const char *file, char *const argv[])
{
	note(file);
	return NEXT(execvp)(file, argv);
}

int execv(const char *path, char *const argv[])
{
	note(path);
	return NEXT(execv)(path, argv);
}

/* execprobe [-e] PATH [ARG...]: execs PATH with ARGs (argv[0] PATH), with
 * the environment as it is, or with -e an empty one; built for glibc and,
 * with musl-gcc, for musl (t_exec.sh: a musl parent's glibc child). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int i = 1;
	int empty = argc > 1 && strcmp(argv[1], "-e") == 0;
	i += empty;
	if (i >= argc) {
		fprintf(stderr, "usage: execprobe [-e] PATH [ARG...]\n");
		return 2;
	}
	char *none[] = { NULL };
	extern char **environ;
	execve(argv[i], argv + i, empty ? none : environ);
	perror("execprobe");
	return 127;
}

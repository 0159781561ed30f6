/* What a program's first socket() costs, beside its floor: the page faults
 * of the call (getrusage around it), between two getppid() calls that mark
 * it for strace, which counts its system calls (t_firstcost.sh).
 *   firstcost first        the first socket() of this process
 *   firstcost floor FILE   open + fstat + mmap + a read of each page + close
 *                          of FILE: what reading the table at least costs
 * Prints the minor faults of the part between the marks. The process
 * is made as a program is by its first socket(): stdio and malloc used. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static long minflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static int floor_of(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0)
		return -1;
	const volatile char *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	unsigned sum = 0;
	for (off_t i = 0; i < st.st_size; i += 4096)
		sum += (unsigned char)p[i];
	close(fd);
	return (int)(sum & 0);
}

int main(int argc, char **argv)
{
	bool first = argc == 2 && strcmp(argv[1], "first") == 0;
	if (!first && !(argc == 3 && strcmp(argv[1], "floor") == 0)) {
		fprintf(stderr, "usage: firstcost first | firstcost floor FILE\n");
		return 2;
	}
	/* Whatever printf needs, faulted in before the marks; and malloc
	 * started, as every program has it started before its first socket
	 * (glibc's first malloc costs getrandom and brk, the library's or not). */
	printf("%s", "");
	fflush(stdout);
	void *volatile used = malloc(1); /* volatile: the pair is not optimised away */
	free(used);
	long before = minflt();
	getppid();
	int r = first ? socket(AF_INET, SOCK_STREAM, 0) : floor_of(argv[2]);
	getppid();
	long after = minflt();
	if (r < 0) {
		perror(first ? "socket" : argv[2]);
		return 1;
	}
	printf("%ld\n", after - before);
	return 0;
}

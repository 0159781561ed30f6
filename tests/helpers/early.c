/* Prints what libearly's constructor got from its bind. */
#include <stdio.h>
#include <string.h>

extern int early_result, early_errno;

int main(void)
{
	printf("early bind: %d %s\n", early_result, early_result ? strerrorname_np(early_errno) : "-");
	return 0;
}

/* Preloaded into the libreuse command: every fork() fails with EAGAIN, as
 * it does when a user is at its process limit. At exit it says which of the
 * signals an audited run catches are still caught, so t_audit_report.sh can
 * tell that a run that could not start gave its handlers back. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/types.h>

pid_t fork(void)
{
	errno = EAGAIN;
	return -1;
}

__attribute__((destructor)) static void say_handlers(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGALRM };
	int caught = 0;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction sa;
		if (sigaction(sigs[i], NULL, &sa) == 0 && sa.sa_handler != SIG_DFL &&
		    sa.sa_handler != SIG_IGN)
			caught++;
	}
	fprintf(stderr, "failfork: %d handlers left at exit\n", caught);
}

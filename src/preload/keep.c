#include "keep.h"

#include "fmt.h"
#include "keepclient.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* systemd passes at most this many sockets to one program that we look at. */
#define LR_SD_MAX 64

/* Written once by lr_keep_capture (at load time, before the program's own
 * threads), read-only afterwards. */
static struct lr_keeper_addr keeper;
static int sd_count;
static int sd_fd[LR_SD_MAX];
static char sd_names[4096];
static const char *sd_name[LR_SD_MAX];

void lr_keep_capture(void)
{
	/* From the constructor, or from the first rule load if a hook ran
	 * before it (another library's constructor): whichever is first. */
	static atomic_flag done = ATOMIC_FLAG_INIT;
	if (atomic_flag_test_and_set(&done))
		return;
	lr_keeper_from_env(&keeper);
	/* sd_listen_fds(3): valid only in the process systemd named. */
	const char *pid = secure_getenv("LISTEN_PID");
	const char *fds = secure_getenv("LISTEN_FDS");
	if (!pid || !fds || strtol(pid, NULL, 10) != (long)getpid())
		return;
	long n = strtol(fds, NULL, 10);
	if (n <= 0)
		return;
	const char *names = secure_getenv("LISTEN_FDNAMES");
	size_t used = 0;
	for (long i = 0; i < n && sd_count < LR_SD_MAX; i++) {
		sd_fd[sd_count] = 3 + (int)i;
		sd_name[sd_count] = NULL;
		if (names && *names) {
			size_t len = strcspn(names, ":");
			if (used + len + 1 <= sizeof(sd_names)) {
				memcpy(sd_names + used, names, len);
				sd_names[used + len] = '\0';
				sd_name[sd_count] = sd_names + used;
				used += len + 1;
			}
			names += len + (names[len] == ':');
		}
		sd_count++;
	}
}

/* Puts socket k at the program's fd number, as the program's own socket
 * was (see lr_keep_fit), FD_CLOEXEC as it had it. Closes k either way. */
static int put_in_place(int fd, int k, char *why, size_t n)
{
	int fdflags = fcntl(fd, F_GETFD);
	int r = fdflags >= 0 && lr_keep_fit(fd, k, why, n)
			? lr_real.dup3(k, fd, (fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0)
			: -1;
	lr_real.close(k);
	return r == fd;
}

/* systemd's socket for this bind: by name when the rule names one, else the
 * one whose identity is the same. */
static int adopt_systemd(int fd, const struct lr_keep_sock *want, const char *name,
			 struct lr_keep_outcome *out)
{
	for (int i = 0; i < sd_count; i++) {
		struct lr_keep_sock have;
		if (name && (!sd_name[i] || strcmp(name, sd_name[i]) != 0))
			continue;
		if (lr_keep_identify(sd_fd[i], &have) != 0) {
			if (name)
				lr_keep_say(out->why, sizeof(out->why), "not taken: systemd fd ", NULL,
					    sd_fd[i], " is not a bound TCP or UDP socket");
			continue;
		}
		if (name ? have.proto != want->proto || have.family != want->family : !lr_keep_same(&have, want)) {
			if (name)
				lr_keep_say(out->why, sizeof(out->why), "not taken: systemd fd ", NULL,
					    sd_fd[i],
					    have.proto != want->proto ? " is of another protocol" :
									 " is of another address family");
			continue;
		}
		int k = fcntl(sd_fd[i], F_DUPFD_CLOEXEC, 3);
		if (k < 0 || !put_in_place(fd, k, out->why, sizeof(out->why)))
			return 0;
		struct lr_buf b = { .p = out->from, .len = 0, .cap = sizeof(out->from) - 1 };
		lr_buf_str(&b, "systemd fd ");
		lr_buf_u64(&b, (uint64_t)sd_fd[i]);
		if (sd_name[i]) {
			lr_buf_str(&b, " \"");
			lr_buf_str(&b, sd_name[i]);
			lr_buf_char(&b, '"');
		}
		out->from[b.len] = '\0';
		return 1;
	}
	if (name && !out->why[0])
		lr_keep_say(out->why, sizeof(out->why), "not possible: systemd passed no socket named \"",
			    name, -1, "\"");
	return 0;
}

int lr_keep_adopt(int fd, const struct lr_keep_sock *want, const char *name,
		  struct lr_keep_outcome *out)
{
	int saved = errno;
	memset(out, 0, sizeof(*out));
	int done = 0, k;
	if (sd_count || name)
		done = adopt_systemd(fd, want, name, out);
	if (!done && !name && keeper.len && lr_keeper_adopt(&keeper, want, &k, out))
		done = put_in_place(fd, k, out->why, sizeof(out->why));
	out->no_keeper = !done && !keeper.len && !sd_count;
	errno = saved;
	return done;
}

int lr_keep_offer(int fd, struct lr_keep_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->no_keeper = !keeper.len;
	return keeper.len && lr_keeper_offer(&keeper, fd, out);
}

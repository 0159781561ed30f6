#include "sdfds.h"

#include "fmt.h"
#include "keepclient.h"
#include "pages.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The sockets systemd passed to the process libreuse runs in: one set an
 * address space, as LISTEN_PID names one process (the library's host, or
 * the supervisor, which systemd started; its programs get theirs through
 * it). Written by lr_sd_capture once, at that process's start, before the
 * program's own code runs; after that only held[] changes, when the program
 * puts a file at a held number (lr_sd_move_from, from any of its threads):
 * hence atomic. */
int lr_sd_held_count;
static int passed[LR_SD_MAX]; /* the number systemd gave it: what lines say */
static atomic_int held[LR_SD_MAX];
LR_ZERO_PAGES static char names[4096];
static const char *name_of[LR_SD_MAX];

void lr_sd_capture(lr_getenv_fn *env)
{
	static atomic_flag done = ATOMIC_FLAG_INIT;
	if (atomic_flag_test_and_set(&done))
		return;
	const char *pid = env("LISTEN_PID");
	const char *fds = env("LISTEN_FDS");
	if (!pid || !fds || strtol(pid, NULL, 10) != (long)getpid())
		return;
	long n = strtol(fds, NULL, 10);
	if (n <= 0)
		return;
	const char *list = env("LISTEN_FDNAMES");
	size_t used = 0;
	int saved = errno;
	for (long i = 0; i < n && lr_sd_held_count < LR_SD_MAX; i++) {
		int fd = 3 + (int)i;
		/* Where the limit on fds is below the hold base, the passed number
		 * itself is all there is. */
		int h = lr_sys_fcntl(fd, F_DUPFD_CLOEXEC, LR_SD_HOLD_BASE);
		passed[lr_sd_held_count] = fd;
		atomic_store(&held[lr_sd_held_count], h >= 0 ? h : fd);
		name_of[lr_sd_held_count] = NULL;
		if (list && *list) {
			size_t len = strcspn(list, ":");
			if (used + len + 1 <= sizeof(names)) {
				memcpy(names + used, list, len);
				names[used + len] = '\0';
				name_of[lr_sd_held_count] = names + used;
				used += len + 1;
			}
			list += len + (list[len] == ':');
		}
		lr_sd_held_count++;
	}
	errno = saved;
}

int lr_sd_count(void)
{
	return lr_sd_held_count;
}

bool lr_sd_is_held_among(int fd)
{
	for (int i = 0; i < lr_sd_held_count; i++)
		if (atomic_load_explicit(&held[i], memory_order_relaxed) == fd && fd != passed[i])
			return true;
	return false;
}

int lr_sd_held_in(unsigned int first, unsigned int last, int *out, int max)
{
	int n = 0;
	for (int i = 0; i < lr_sd_held_count && n < max; i++) {
		int h = atomic_load_explicit(&held[i], memory_order_relaxed);
		if (h == passed[i] || (unsigned int)h < first || (unsigned int)h > last)
			continue;
		int at = n++;
		while (at > 0 && out[at - 1] > h) { /* a few: insertion */
			out[at] = out[at - 1];
			at--;
		}
		out[at] = h;
	}
	return n;
}

void lr_sd_move_from(int fd)
{
	for (int i = 0; i < lr_sd_held_count; i++) {
		if (atomic_load(&held[i]) != fd || fd == passed[i])
			continue;
		int saved = errno;
		int h = lr_sys_fcntl(fd, F_DUPFD_CLOEXEC, LR_SD_HOLD_BASE);
		if (h >= 0) {
			atomic_store(&held[i], h);
			lr_sys.close(fd);
		}
		errno = saved;
	}
}

int lr_sd_find(const struct lr_keep_sock *want, const char *name, struct lr_keep_outcome *out)
{
	for (int i = 0; i < lr_sd_held_count; i++) {
		struct lr_keep_sock have;
		if (name && (!name_of[i] || strcmp(name, name_of[i]) != 0))
			continue;
		int h = atomic_load(&held[i]);
		if (lr_keep_identify(h, &have) != 0) {
			if (name)
				lr_keep_say(out->why, sizeof(out->why), "not taken: systemd fd ", NULL, passed[i],
					    h == passed[i] ? " is not a bound TCP or UDP socket (closed by the program?)"
						       : " is not a bound TCP or UDP socket");
			continue;
		}
		if (name ? have.proto != want->proto || have.family != want->family : !lr_keep_same(&have, want)) {
			if (name)
				lr_keep_say(out->why, sizeof(out->why), "not taken: systemd fd ", NULL, passed[i],
					    have.proto != want->proto ? " is of another protocol" :
									 " is of another address family");
			continue;
		}
		int k = lr_sys_fcntl(h, F_DUPFD_CLOEXEC, 3);
		if (k < 0) {
			lr_keep_say(out->why, sizeof(out->why), "not taken: no fd free for systemd's socket (",
				    strerror(errno), -1, ")");
			return -1;
		}
		struct lr_buf b = { .p = out->from, .len = 0, .cap = sizeof(out->from) - 1 };
		lr_buf_str(&b, "systemd fd ");
		lr_buf_u64(&b, (uint64_t)passed[i]);
		if (name_of[i]) {
			lr_buf_str(&b, " \"");
			lr_buf_str(&b, name_of[i]);
			lr_buf_char(&b, '"');
		}
		out->from[b.len] = '\0';
		return k;
	}
	if (name && !out->why[0])
		lr_keep_say(out->why, sizeof(out->why), "not possible: systemd passed no socket named \"", name, -1,
			    "\"");
	return -1;
}

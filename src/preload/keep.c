#include "keep.h"

#include "environ.h"
#include "fdstate.h"
#include "fmt.h"
#include "keepclient.h"
#include "keepwire.h"
#include "keptmode.h"
#include "real.h"
#include "sdfds.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Written once by lr_keep_capture (at load time, before the program's own
 * threads), read-only afterwards. */
static struct lr_keeper_addr keeper;

void lr_keep_capture(void)
{
	/* From the constructor, or from the first rule load if a hook ran
	 * before it (another library's constructor): whichever is first. */
	static atomic_flag done = ATOMIC_FLAG_INIT;
	if (atomic_flag_test_and_set(&done))
		return;
	lr_keeper_from_env(&keeper, lr_env_get);
	lr_sd_capture(lr_env_get);
}

static int type_of(int fd)
{
	int type = -1;
	socklen_t len = sizeof(type);
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 ? type : -1;
}

static bool is_stream(int fd)
{
	return type_of(fd) == SOCK_STREAM;
}

/* The options the program set on fd, as the setsockopt hook saw them: a fd
 * above those tracked, all of them. */
static uint32_t own_options(int fd)
{
	return (unsigned)fd < LR_FD_TRACKED
		       ? atomic_load_explicit(&lr_fdopts[fd], memory_order_relaxed)
		       : LR_KEEP_ALL_OPTIONS;
}

/* Puts socket k at the program's fd number, as the program's own socket
 * was (see lr_keep_fit), FD_CLOEXEC as it had it. Closes k either way. A
 * listener's O_NONBLOCK is not set on the file it shares with the instance
 * still serving: the program's mode is kept for it by keptmode.c. */
static int put_in_place(int fd, int k, char *why, size_t n)
{
	int fdflags = lr_sys_fcntl(fd, F_GETFD, 0), fl = lr_keptmode_getfl(fd);
	int tk = type_of(k);
	bool listener = tk == SOCK_STREAM;
	/* The program's socket as the socket hook saw it made: its type and
	 * family not asked again. */
	uint16_t st = (unsigned)fd < LR_FD_TRACKED ? lr_fd_get(fd) : 0;
	bool known = (st & LR_SOCK_KNOWN) && (st & (LR_SOCK_TCP | LR_SOCK_UDP));
	int td = st & LR_SOCK_TCP ? SOCK_STREAM : SOCK_DGRAM, dd = st & LR_SOCK_V6 ? AF_INET6 : AF_INET;
	int fits = fdflags >= 0 && fl >= 0 &&
		   (!listener ? lr_keep_fit(fd, k, why, n)
		    : known   ? lr_keep_fit_known(fd, td, dd, k, tk, own_options(fd), why, n)
			      : lr_keep_fit_options(fd, k, own_options(fd), why, n));
	int r = fits ? lr_real.dup3(k, fd, (fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0) : -1;
	lr_real.close(k);
	if (r == fd && listener)
		lr_keptmode_take(fd, fl & O_NONBLOCK);
	return r == fd;
}

/* Maps the keeper's board once, after the first socket it kept or gave,
 * for keptmode.c: this process's generation is then told when a newer one
 * serves. The fd is closed once mapped: nothing is left for the program to
 * close (a daemon that closes every fd keeps its mapping, as a forked one
 * does). */
static void map_board(void)
{
	static atomic_flag done = ATOMIC_FLAG_INIT;
	if (!keeper.gen || atomic_flag_test_and_set(&done))
		return;
	int fd;
	if (!lr_keeper_board(&keeper, &fd))
		return;
	int saved = errno;
	struct stat st;
	void *p = fstat(fd, &st) == 0 && st.st_size >= LR_KEEPER_BOARD_SIZE
			  ? mmap(NULL, LR_KEEPER_BOARD_SIZE, PROT_READ, MAP_SHARED, fd, 0)
			  : MAP_FAILED;
	lr_sys.close(fd);
	if (p != MAP_FAILED)
		lr_keptmode_board(p, keeper.gen);
	errno = saved;
}

int lr_keep_adopt(int fd, const struct lr_keep_sock *want, const char *name,
		  struct lr_keep_outcome *out)
{
	int saved = errno;
	memset(out, 0, sizeof(*out));
	int done = 0, k;
	if (lr_sd_count() || name) {
		int k = lr_sd_find(want, name, out);
		done = k >= 0 && put_in_place(fd, k, out->why, sizeof(out->why));
		if (!done && k >= 0)
			out->from[0] = '\0';
	}
	if (!done && !name && keeper.len && lr_keeper_adopt(&keeper, want, &k, out)) {
		done = put_in_place(fd, k, out->why, sizeof(out->why));
		if (done)
			map_board();
	}
	out->no_keeper = !done && !keeper.len && !lr_sd_count();
	errno = saved;
	return done;
}

int lr_keep_offer(int fd, struct lr_keep_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->no_keeper = !keeper.len;
	if (!keeper.len || !lr_keeper_offer(&keeper, fd, out))
		return 0;
	map_board();
	/* A listener: from now on shared with the next instance. */
	int saved = errno, fl = lr_keptmode_getfl(fd);
	if (fl >= 0 && is_stream(fd))
		lr_keptmode_take(fd, fl & O_NONBLOCK);
	errno = saved;
	return 1;
}

#include "keep.h"

#include "environ.h"
#include "fdstate.h"
#include "keepclient.h"
#include "keeping.h"
#include "keptmode.h"
#include "real.h"
#include "rules.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

void lr_keep_capture(void)
{
	/* From the constructor, or from the first rule load if a hook ran
	 * before it (another library's constructor): whichever is first. */
	static atomic_flag done = ATOMIC_FLAG_INIT;
	if (atomic_flag_test_and_set(&done))
		return;
	lr_keeping_init(lr_env_get);
}

/* The options the program set on fd, as the setsockopt hook saw them: a fd
 * above those tracked, all of them. */
static uint32_t own_options(int fd)
{
	return (unsigned)fd < LR_FD_TRACKED
		       ? atomic_load_explicit(&lr_fdopts[fd], memory_order_relaxed)
		       : LR_KEEP_ALL_OPTIONS;
}

/* Puts socket k at the program's fd number, the options the program set
 * copied over, FD_CLOEXEC as it had it. A listener's O_NONBLOCK is not set
 * on the file it shares with the instance still serving: the program's
 * mode is kept for it by keptmode.c; a UDP socket's is set on the file. */
static int put_in_place(void *ctx, int fd, int k, const struct lr_keep_sock *want,
			struct lr_keep_outcome *out)
{
	(void)ctx;
	(void)out;
	int fdflags = lr_sys_fcntl(fd, F_GETFD, 0), fl = lr_keptmode_getfl(fd);
	if (fdflags < 0 || fl < 0)
		return 0;
	bool listener = want->proto == LR_PROTO_TCP;
	lr_keep_fit_options(fd, k, want, own_options(fd));
	if (!listener)
		lr_keep_fit_mode(k, fl);
	if (lr_real.dup3(k, fd, (fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0) != fd)
		return 0;
	if (listener)
		lr_keptmode_take(fd, fl & O_NONBLOCK);
	return 1;
}

/* Whether the keeper's board is mapped (or being mapped): set by the first
 * keep whose reply brought it, by whichever thread made that keep. */
static atomic_bool board_taken;

/* Until the board is mapped, every keep asks for it along: the first
 * socket the keeper keeps or gives brings it, for no request of its own. */
static bool wants_board(void *ctx)
{
	(void)ctx;
	return lr_keeping_keeper()->gen && !atomic_load_explicit(&board_taken, memory_order_relaxed);
}

/* Maps the keeper's board once, for keptmode.c: this process's generation
 * is then told when a newer one serves. The fd is the keep's, closed with
 * its connection: nothing is left for the program to close (a daemon that
 * closes every fd keeps its mapping, as a forked one does). */
static void map_board(int fd)
{
	if (fd < 0 || atomic_exchange(&board_taken, true))
		return;
	int saved = errno;
	/* The size asked: a board shorter than a page would fault the
	 * program (SIGBUS) at its first accept. */
	struct stat st;
	void *p = fstat(fd, &st) == 0 && st.st_size >= LR_KEEPER_BOARD_SIZE
			  ? mmap(NULL, LR_KEEPER_BOARD_SIZE, PROT_READ, MAP_SHARED, fd, 0)
			  : MAP_FAILED;
	if (p != MAP_FAILED)
		lr_keptmode_board(p, lr_keeping_keeper()->gen);
	errno = saved;
}

/* The keeper gave or took the socket at fd. One it took is a listener
 * (or a UDP socket) shared from now on with the next instance: its mode
 * kept per process. One it gave was taken in put_in_place. */
static void joined(void *ctx, int fd, bool offered, int board)
{
	(void)ctx;
	map_board(board);
	if (!offered)
		return;
	int saved = errno, fl = lr_keptmode_getfl(fd), type = -1;
	socklen_t len = sizeof(type);
	if (fl >= 0 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM)
		lr_keptmode_take(fd, fl & O_NONBLOCK);
	errno = saved;
}

static const struct lr_keep_front front = { .put = put_in_place, .joined = joined,
					    .wants_board = wants_board };

int lr_keep_adopt(int fd, const struct lr_keep_sock *want, const char *name,
		  struct lr_keep_outcome *out)
{
	return lr_keeping_adopt(&front, NULL, fd, want, name, out);
}

int lr_keep_offer(int fd, struct lr_keep_outcome *out)
{
	return lr_keeping_offer(&front, NULL, fd, out);
}

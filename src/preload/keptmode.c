/* A kept listener's blocking mode, per process.
 *
 * O_NONBLOCK belongs to the open file description, and a kept listener is
 * one open file description shared by every instance that holds it: during
 * a restart the old instance still accepts from it while the new one starts
 * up. Were each instance's fcntl() to reach it, the new instance's fresh
 * socket (blocking until its event loop starts) would turn the old
 * instance's listener blocking under it: an event loop's accept() then
 * waits for a connection that another process takes, and what that thread
 * holds goes unanswered (h2o did so: tests/integration/t_keep_h2o.sh).
 *
 * So a kept TCP listener's file is non-blocking for as long as libreuse
 * keeps it (keep.c sets it at the offer and at adoption), and each process
 * sees the mode it set itself: fcntl(F_GETFL/F_SETFL) and ioctl(FIONBIO)
 * report and record it (LR_SOCK_BLOCKS), and accept() on a listener its
 * program wants blocking waits in poll() until a connection is there, as
 * the kernel's blocking accept would. UDP kept sockets are left as they
 * were: their program's mode is set on the shared file at adoption (see
 * lr_keep_fit).
 *
 * These hooks are not on the rule path and need nothing of state.c: only
 * the real functions (real.c). */
#include "keptmode.h"

#include "fdstate.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LR_EXPORT __attribute__((visibility("default")))

/* The hooks' own addresses, to tell a lookup that came back to us
 * (real.c resolves this file's next functions with the rest). */
LR_SELF_ALIAS(accept)
LR_SELF_ALIAS(accept4)
LR_SELF_ALIAS(fcntl)
#ifdef __GLIBC__
LR_SELF_ALIAS(fcntl64)
#endif
LR_SELF_ALIAS(ioctl)
LR_SELF_ALIAS(dup)

/* A socket whose mode this file keeps for its program: a TCP socket
 * libreuse keeps, still a listener (its number may have been reused by a
 * close libreuse did not see). */
static bool mode_kept(int fd, uint16_t st)
{
	if ((st & (LR_SOCK_KEPT | LR_SOCK_TCP)) != (LR_SOCK_KEPT | LR_SOCK_TCP))
		return false;
	int v = 0, saved = errno;
	socklen_t len = sizeof(v);
	bool listening = getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v;
	errno = saved;
	if (!listening)
		lr_fd_update(fd, LR_SOCK_KEPT | LR_SOCK_BLOCKS, 0);
	return listening;
}

/* Whether a call interrupted by a signal handler is restarted: the kernel
 * restarts a blocking accept() when the handler was installed with
 * SA_RESTART, but never poll(). Which signal interrupted is not known: the
 * wait is restarted when every handler installed asks for it, else the
 * program, which has a handler that does not, sees EINTR as it may from
 * accept. The handlers of the signals a fault raises (SIGSEGV, SIGBUS...:
 * the JVM's, the sanitizers') do not count: a thread waiting in poll()
 * makes no fault. Only after an interruption: a few dozen sigaction()
 * calls. */
static bool restart_after_signal(void)
{
	for (int s = 1; s < NSIG; s++) {
		struct sigaction sa;
		if (s == SIGKILL || s == SIGSTOP || s == SIGSEGV || s == SIGBUS || s == SIGFPE ||
		    s == SIGILL || s == SIGTRAP || s == SIGSYS || sigaction(s, NULL, &sa) != 0)
			continue;
		bool handled = (sa.sa_flags & SA_SIGINFO) ||
			       (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
		if (handled && !(sa.sa_flags & SA_RESTART))
			return false;
	}
	return true;
}

/* Set once by lr_keptmode_board (the process's first keep): the keeper's
 * board, read by every accept on a kept listener, and this process's
 * generation, stored before the board is published. */
static _Atomic(const _Atomic uint32_t *) board;
static unsigned my_gen;

void lr_keptmode_board(const void *b, unsigned gen)
{
	my_gen = gen;
	atomic_store_explicit(&board, (const _Atomic uint32_t *)b, memory_order_release);
}

/* A newer instance serves, and has every kept socket: this process is on
 * its way out, and a connection it accepted now would be one its stop
 * could lose (h2o, its threads stopping one by one, exits while another
 * still accepts). */
static bool superseded(void)
{
	const _Atomic uint32_t *b = atomic_load_explicit(&board, memory_order_acquire);
	return b && atomic_load_explicit(b, memory_order_relaxed) > my_gen;
}

/* What a non-blocking accept on a kept listener finds in a superseded
 * process: nothing, as when another process took the connection. The
 * listener stays readable for the new instance, so an event loop would
 * come straight back: a millisecond's pause bounds that to a thousand
 * calls a second until the program closes its listener. */
static int nothing_for_us(void)
{
	struct timespec ms = { 0, 1000000 };
	nanosleep(&ms, NULL);
	errno = EAGAIN;
	return -1;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* accept4 on a kept listener its program wants blocking: the shared file
 * is non-blocking, so wait for a connection and take it, again when another
 * process took it first; SO_RCVTIMEO bounds the wait as it bounds a
 * blocking accept. */
static int accept_blocking(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int saved = errno;
	long long deadline = -1;
	for (;;) {
		int r = lr_real.accept4(fd, addr, len, flags);
		if (r >= 0) {
			errno = saved;
			return r;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return r;
		uint16_t st = lr_fd_get(fd);
		if (!(st & LR_SOCK_BLOCKS))
			return r; /* made non-blocking meanwhile (another thread) */
		if (deadline < 0) {
			struct timeval tv = { 0, 0 };
			socklen_t tl = sizeof(tv);
			deadline = 0;
			if (getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &tl) == 0 &&
			    (tv.tv_sec || tv.tv_usec))
				deadline = now_ms() + (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
		}
		int wait = -1;
		if (deadline > 0) {
			long long left = deadline - now_ms();
			if (left <= 0) {
				errno = EAGAIN;
				return -1;
			}
			wait = left > 1000000 ? 1000000 : (int)left;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, wait), e = errno;
		/* With SO_RCVTIMEO set the kernel never restarts an accept
		 * (signal(7)). */
		if (n < 0 && (e != EINTR || deadline > 0 || !restart_after_signal())) {
			errno = e;
			return -1;
		}
		if (p.revents & POLLNVAL) {
			errno = EBADF;
			return -1;
		}
	}
}

/* A program that wants its kept listener blocking still accepts once
 * superseded: its wait could not end but by a signal, and a blocking
 * server finishes the connection in hand by itself. */
LR_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	uint16_t st = lr_fd_get(fd);
	if (st & LR_SOCK_BLOCKS)
		return accept_blocking(fd, addr, len, flags);
	if ((st & LR_SOCK_KEPT) && superseded())
		return nothing_for_us();
	return lr_real.accept4(fd, addr, len, flags);
}

LR_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	uint16_t st = lr_fd_get(fd);
	if (st & LR_SOCK_BLOCKS)
		return accept_blocking(fd, addr, len, 0);
	if ((st & LR_SOCK_KEPT) && superseded())
		return nothing_for_us();
	return lr_real.accept(fd, addr, len);
}

LR_EXPORT int dup(int fd)
{
	int r = lr_real.dup(fd);
	if (r >= 0)
		lr_fd_set(r, lr_fd_get(fd));
	return r;
}

/* Records the mode the program wants for fd, and keeps the shared file
 * non-blocking. */
static void want(int fd, bool nonblock)
{
	lr_fd_update(fd, nonblock ? LR_SOCK_BLOCKS : 0, nonblock ? 0 : LR_SOCK_BLOCKS);
}

int lr_keptmode_getfl(int fd)
{
	return lr_real.fcntl(fd, F_GETFL);
}

void lr_keptmode_take(int fd, bool nonblock)
{
	int saved = errno;
	/* Recorded first: from here accept() waits for a program that wants
	 * it blocking. A number past the table has no record: the program's
	 * own mode is set on the shared file then, as for a UDP socket. */
	want(fd, nonblock);
	bool shared_nonblock = nonblock || fd < LR_FD_TRACKED;
	int fl = lr_real.fcntl(fd, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK) != !shared_nonblock)
		lr_real.fcntl(fd, F_SETFL, shared_nonblock ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
	errno = saved;
}

/* fcntl and fcntl64 (what glibc's headers name it under
 * _FILE_OFFSET_BITS=64): every argument an fcntl takes fits a pointer. */
static int fcntl_via(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	uint16_t st = lr_fd_get(fd);
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) {
		int r = real(fd, cmd, arg);
		if (r >= 0)
			lr_fd_set(r, st);
		return r;
	}
	if ((cmd != F_GETFL && cmd != F_SETFL) || !mode_kept(fd, st))
		return real(fd, cmd, arg);
	if (cmd == F_GETFL) {
		int r = real(fd, cmd, arg);
		if (r >= 0)
			r = (st & LR_SOCK_BLOCKS) ? (r & ~O_NONBLOCK) : (r | O_NONBLOCK);
		return r;
	}
	int fl = (int)(long)arg;
	int r = real(fd, F_SETFL, (void *)(long)(fl | O_NONBLOCK));
	if (r == 0)
		want(fd, fl & O_NONBLOCK);
	return r;
}

LR_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_via(lr_real.fcntl, fd, cmd, arg);
}

#ifdef __GLIBC__
LR_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_via(lr_real.fcntl64, fd, cmd, arg);
}
#endif

LR_EXPORT int ioctl(int fd, lr_ioctl_req req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (req != FIONBIO || !arg || !mode_kept(fd, lr_fd_get(fd)))
		return lr_real.ioctl(fd, req, arg);
	int on = 1, asked = *(const int *)arg;
	int r = lr_real.ioctl(fd, req, &on);
	if (r == 0)
		want(fd, asked != 0);
	return r;
}

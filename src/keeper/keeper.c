/* The keeper's process: its loop (what wakes it, in what order), the
 * signals, its channel and board, its lines. What it does for each lives
 * in instances.c, restarts.c and requests.c (state.h). */
#include "state.h"

#include "child.h"
#include "keepwire.h"
#include "kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Connections waiting to be accepted: an instance's request queues behind
 * at most this many others, each closed after one look at its credentials. */
#define LR_BACKLOG 1024

void lr_keeper_say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(line, sizeof(line), "libreuse: keeper[%d]: ", (int)getpid());
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}

long long lr_keeper_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void lr_keeper_say_line(const char *line)
{
	lr_keeper_say("%s", line);
}

/* The board: a sealed page whose first word the keeper writes. */
static void open_board(struct keeper *k)
{
	k->board_fd = memfd_create("libreuse-keeper-board", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *p = MAP_FAILED;
	if (k->board_fd >= 0 && ftruncate(k->board_fd, LR_KEEPER_BOARD_SIZE) == 0 &&
	    fcntl(k->board_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0)
		p = mmap(NULL, LR_KEEPER_BOARD_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, k->board_fd, 0);
	if (p == MAP_FAILED) {
		lr_keeper_say("cannot make the board that tells old instances they no longer serve (%s): an old "
		              "instance accepts until it stops", strerror(errno));
		if (k->board_fd >= 0)
			close(k->board_fd);
		k->board_fd = -1;
		return;
	}
	k->board = p;
}

static void on_signal(struct keeper *k, int sig)
{
	if (sig == SIGCHLD)
		lr_inst_reap(k);
	else if (sig == k->o->restart_signal)
		lr_restart_ask(k);
	else if (sig == SIGTERM || sig == SIGINT)
		lr_restart_quit(k, sig);
	else if (sig != SIGPIPE) {
		struct instance *cur = lr_inst_by_state(k, I_SERVING);
		if (cur)
			lr_inst_signal(cur, sig);
	}
}

static long long next_deadline(const struct keeper *k)
{
	long long next = k->respawn_at;
	for (int i = 0; i < LR_INSTANCES; i++) {
		long long d = k->inst[i].deadline_ms;
		if (d && (!next || d < next))
			next = d;
	}
	long long c = lr_conns_next_deadline(&k->conns), o = k->outsiders.next_summary_ms;
	if (c && (!next || c < next))
		next = c;
	if (o && (!next || o < next))
		next = o;
	return next;
}

static int open_listener(struct keeper *k)
{
	unsigned char rnd[8] = { 0 };
	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)(lr_keeper_now_ms() >> (i * 3));
	char name[80];
	int len = snprintf(name, sizeof(name), "libreuse-keeper-%d-", (int)k->self);
	for (size_t i = 0; i < sizeof(rnd); i++)
		len += snprintf(name + len, sizeof(name) - (size_t)len, "%02x", rnd[i]);
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path + 1, name, (size_t)len); /* abstract: no file to chroot away from */
	k->listener = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (k->listener < 0 ||
	    bind(k->listener, (struct sockaddr *)&sa,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len)) != 0 ||
	    listen(k->listener, LR_BACKLOG) != 0) {
		lr_keeper_say("cannot open the keeper's socket: %s", strerror(errno));
		return -1;
	}
	setenv(LR_KEEPER_ENV, name, 1);
	return 0;
}

/* Everything the keeper needs before its first instance: the board, the
 * channel its instances reach it by, the signals. -1: it cannot keep. */
static int keeper_open(struct keeper *k, const struct lr_keeper_opts *o)
{
	memset(k, 0, sizeof(*k));
	k->o = o;
	k->self = getpid();
	k->listener = k->sigfd = -1;
	k->hangup_said_s = k->fds_said_s = -1;
	k->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	open_board(k);
	lr_conns_init(&k->conns);
	/* Orphans of a daemon that forks into the background come to us, so
	 * they stay in the tree the keeper serves and waits for. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		lr_keeper_say("cannot become a child subreaper (%s): a daemon that forks into the background "
		              "is not followed", strerror(errno));
	if (!lr_kernel_has(LR_K_PEERPIDFD)) {
		char line[320];
		lr_kernel_lacks_line(LR_K_PEERPIDFD, line, sizeof(line));
		lr_keeper_say("%s", line);
	}
	if (open_listener(k) != 0)
		return -1;
	k->sigfd = lr_child_signals(&k->orig_mask);
	if (k->sigfd < 0) {
		lr_keeper_say("cannot take signals: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* What one turn of the loop waits on: the signals, new connections, the
 * requests in flight, and the end of every process an instance forked off
 * that is not the keeper's child to reap. */
struct wakeups {
	struct pollfd p[2 + LR_CONNS_MAX + LR_INSTANCES * LR_EXTRAS];
	nfds_t n, nconn, nextra;
	struct lr_conn *conn_of[LR_CONNS_MAX];
	struct {
		struct instance *in;
		int j;
	} extra_of[LR_INSTANCES * LR_EXTRAS];
};

static void gather(struct keeper *k, struct wakeups *w)
{
	w->p[0] = (struct pollfd){ .fd = k->sigfd, .events = POLLIN };
	w->p[1] = (struct pollfd){ .fd = k->listener, .events = POLLIN };
	w->n = 2;
	w->nconn = w->nextra = 0;
	for (int i = 0; i < LR_CONNS_MAX; i++) {
		if (k->conns.c[i].fd < 0)
			continue;
		w->conn_of[w->nconn++] = &k->conns.c[i];
		w->p[w->n++] = (struct pollfd){ .fd = k->conns.c[i].fd, .events = POLLIN };
	}
	for (int i = 0; i < LR_INSTANCES; i++) {
		struct instance *in = &k->inst[i];
		for (int j = 0; in->state != I_FREE && j < in->nextra; j++) {
			if (in->extra_fd[j] < 0)
				continue;
			w->extra_of[w->nextra].in = in;
			w->extra_of[w->nextra++].j = j;
			w->p[w->n++] = (struct pollfd){ .fd = in->extra_fd[j], .events = POLLIN };
		}
	}
}

/* Until the next deadline; -1 for none. A child caught exiting
 * (unsettled) is looked at again soon. */
static int wait_ms(const struct keeper *k)
{
	long long due = next_deadline(k), wait = -1;
	if (due) {
		wait = due - lr_keeper_now_ms();
		if (wait < 0)
			wait = 0;
	}
	if (k->unsettled && (wait < 0 || wait > 10))
		wait = 10;
	return (int)wait;
}

/* What woke the loop, in order: signals (SIGCHLD reaps every child that
 * exited, however many signals were merged into one); requests in flight
 * (each one non-blocking read and one reply; a new connection may push an
 * old one out); new connections; processes of an instance gone. */
static void handle(struct keeper *k, struct wakeups *w)
{
	struct signalfd_siginfo si;
	while ((w->p[0].revents & POLLIN) && read(k->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		on_signal(k, (int)si.ssi_signo);
	for (nfds_t i = 0; i < w->nconn; i++)
		if (w->p[2 + i].revents && w->conn_of[i]->fd == w->p[2 + i].fd)
			lr_requests_serve(k, w->conn_of[i]);
	if (w->p[1].revents & POLLIN)
		lr_requests_accept(k);
	for (nfds_t i = 0; i < w->nextra; i++) {
		struct pollfd *q = &w->p[2 + w->nconn + i];
		struct instance *in = w->extra_of[i].in;
		int j = w->extra_of[i].j;
		/* Still this process's (a reap above may have closed it). */
		if ((q->revents & POLLIN) && in->extra_fd[j] == q->fd) {
			close(q->fd);
			in->extra_fd[j] = -1;
			lr_inst_claim_orphans(k);
		}
	}
	if (k->unsettled)
		lr_inst_claim_orphans(k);
}

/* Deadlines past: of instances, of requests, the outsiders' summary, a
 * respawn's pause. */
static void check_deadlines(struct keeper *k)
{
	long long now = lr_keeper_now_ms();
	lr_restart_deadlines(k, now);
	lr_requests_deadlines(k, now);
	lr_outsiders_summary(&k->outsiders, now, false, lr_keeper_say_line);
	lr_restart_respawn_due(k, now);
}

static void keeper_close(struct keeper *k)
{
	lr_outsiders_summary(&k->outsiders, lr_keeper_now_ms(), true, lr_keeper_say_line);
	lr_conns_free(&k->conns);
	if (k->reserve_fd >= 0)
		close(k->reserve_fd);
	if (k->board) {
		munmap((void *)k->board, LR_KEEPER_BOARD_SIZE);
		close(k->board_fd);
	}
	lr_store_free(&k->store);
	if (k->listener >= 0)
		close(k->listener);
	if (k->sigfd >= 0)
		close(k->sigfd);
}

int lr_keeper_run(const struct lr_keeper_opts *o)
{
	static struct keeper k;     /* one keeper per process, owned by this function */
	static struct wakeups w;    /* the loop's, rebuilt each turn */
	if (keeper_open(&k, o) != 0) {
		keeper_close(&k);
		return 1;
	}
	if (!lr_inst_start(&k, I_SERVING)) {
		keeper_close(&k);
		return 126;
	}
	while (!k.done) {
		gather(&k, &w);
		if (poll(w.p, w.n, wait_ms(&k)) < 0 && errno != EINTR)
			break;
		handle(&k, &w);
		check_deadlines(&k);
		lr_restart_check_ready(&k);
		lr_restart_settle(&k);
	}
	keeper_close(&k);
	return k.exit_status;
}

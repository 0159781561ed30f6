#include "keeper.h"

#include "child.h"
#include "conns.h"
#include "exec.h"
#include "keepwire.h"
#include "kernel.h"
#include "outsiders.h"
#include "peer.h"
#include "phases.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A restart overlaps at most a few instances: the serving one, the one
 * starting, and those still stopping. */
#define LR_INSTANCES 8
/* Processes of one instance, other than the one the keeper started, that
 * spoke to it (a daemon's forked-off main process). */
#define LR_EXTRAS 16
#define LR_RESPAWN_FIRST_MS 100
#define LR_RESPAWN_MAX_MS 5000
/* An instance that ran this long resets the respawn backoff. */
#define LR_RESPAWN_RESET_MS 10000
/* Connections accepted per turn of the loop: signals, children's exits and
 * deadlines are looked at between batches, however many peers connect. */
#define LR_ACCEPT_BATCH 64
/* Connections waiting to be accepted: an instance's request queues behind
 * at most this many others, each closed after one look at its credentials. */
#define LR_BACKLOG 1024

enum state { I_FREE, I_STARTING, I_SERVING, I_STOPPING };

struct instance {
	enum state state;
	unsigned gen;
	pid_t pid; /* the process the keeper started */
	bool running;
	int status; /* wait status of the last of its processes reaped */
	long long started_ms, deadline_ms;
	long long stop_ms; /* when it was sent the stop signal: 0 before */
	bool killed;
	/* A restart's times, for its report (0: not reached): when it was
	 * asked (the first of the signals it answers), and when this instance
	 * took every kept socket. */
	long long asked_ms, adopted_ms;
	/* An old instance: the restart that replaced it, reported once it is
	 * gone (gen 0: it was not replaced). */
	struct lr_restart_phases replaced;
	/* A new instance stopped for not taking its sockets in time while no
	 * other served: once gone, the program is started again as after a
	 * crash. */
	bool failed_alone;
	int nextra;
	pid_t extra[LR_EXTRAS];
	int extra_fd[LR_EXTRAS]; /* pidfd; -1 once that process is gone */
};

/* The keeper's whole state: one process, one thread, one loop. */
struct keeper {
	const struct lr_keeper_opts *o;
	pid_t self;
	int listener, sigfd;
	sigset_t orig_mask;
	struct lr_store store;
	struct instance inst[LR_INSTANCES];
	unsigned last_gen;
	bool quitting, done;
	unsigned quit_gen; /* whose status the keeper exits with */
	int exit_status;
	long long respawn_at; /* 0: none due */
	int respawn_ms;
	/* A restart asked for while one is under way: it runs as soon as that
	 * one ends (taken over, failed), however many signals asked for it
	 * meanwhile (they coalesce). asked_ms is the first of them; asks, how
	 * many. */
	bool pending;
	long long pending_asked_ms;
	unsigned pending_asks;
	/* Restarts carried out and failed, and the last one carried out. */
	unsigned restarts_done, restarts_failed;
	struct lr_restart_phases last;
	/* A child of ours was seen exiting before it could be told to an
	 * instance: what it leaves behind is not ours to judge until it is
	 * reaped and the tree looked at again. */
	bool unsettled;
	struct lr_conns conns;         /* requests of the tree, in flight */
	struct lr_outsiders outsiders; /* who else connected */
	long long hangup_said_s;       /* the last second a hang-up was said */
	long long hangups_unsaid;
	/* Given up for a moment when out of fds, so that a connection the
	 * keeper cannot take is taken and closed, not left to wake poll for
	 * ever. */
	int reserve_fd;
	long long fds_said_s;
	/* The board (keepwire.h): a memfd its instances map, and the keeper's
	 * own mapping of it; -1 and NULL where it could not be made. */
	int board_fd;
	_Atomic uint32_t *board;
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
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

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static bool alive(const struct instance *in)
{
	if (in->running)
		return true;
	for (int j = 0; j < in->nextra; j++)
		if (in->extra_fd[j] >= 0)
			return true;
	return false;
}

static struct instance *by_state(struct keeper *k, enum state s)
{
	for (int i = 0; i < LR_INSTANCES; i++)
		if (k->inst[i].state == s)
			return &k->inst[i];
	return NULL;
}

static struct instance *by_gen(struct keeper *k, unsigned gen)
{
	for (int i = 0; i < LR_INSTANCES; i++)
		if (k->inst[i].state != I_FREE && k->inst[i].gen == gen)
			return &k->inst[i];
	return NULL;
}

/* The instance's main process if it runs, else the processes it forked off
 * that spoke to the keeper (a daemon that went into the background). */
static void signal_instance(const struct instance *in, int sig)
{
	if (in->running) {
		kill(in->pid, sig);
		return;
	}
	for (int j = 0; j < in->nextra; j++)
		if (in->extra_fd[j] >= 0)
			syscall(SYS_pidfd_send_signal, in->extra_fd[j], sig, NULL, 0);
}

/* KILL for all of it: its process group (its workers) and what it forked off. */
static void kill_instance(struct instance *in)
{
	if (in->running)
		kill(-in->pid, SIGKILL), kill(in->pid, SIGKILL);
	for (int j = 0; j < in->nextra; j++)
		if (in->extra_fd[j] >= 0)
			syscall(SYS_pidfd_send_signal, in->extra_fd[j], SIGKILL, NULL, 0);
	in->killed = true;
}

static void stop_instance(struct keeper *k, struct instance *in, int sig)
{
	in->state = I_STOPPING;
	in->stop_ms = now_ms();
	in->deadline_ms = in->stop_ms + k->o->stop_timeout_ms;
	signal_instance(in, sig);
}

/* Which generation serves, on the board its instances read. */
static void set_serving(struct keeper *k, unsigned gen)
{
	if (k->board)
		atomic_store_explicit(k->board, gen, memory_order_release);
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
		say("cannot make the board that tells old instances they no longer serve (%s): an old "
		    "instance accepts until it stops", strerror(errno));
		if (k->board_fd >= 0)
			close(k->board_fd);
		k->board_fd = -1;
		return;
	}
	k->board = p;
}

static struct instance *start_instance(struct keeper *k, enum state s)
{
	struct instance *in = by_state(k, I_FREE);
	if (!in) {
		say("too many instances still stopping: not starting another");
		return NULL;
	}
	unsigned gen = ++k->last_gen;
	char g[16];
	snprintf(g, sizeof(g), "%u", gen);
	setenv(LR_KEEPER_GEN_ENV, g, 1);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		say("cannot start %s: %s", k->o->argv[0], strerror(errno));
		return NULL;
	}
	if (pid == 0) {
		/* Its own process group: a terminal's ^C reaches the keeper, which
		 * passes it on once, instead of reaching both. */
		setpgid(0, 0);
		sigprocmask(SIG_SETMASK, &k->orig_mask, NULL);
		_exit(lr_exec(k->o->argv));
	}
	memset(in, 0, sizeof(*in));
	if (s == I_SERVING)
		set_serving(k, gen); /* the first, or one started again */
	in->state = s;
	in->gen = gen;
	in->pid = pid;
	in->running = true;
	in->started_ms = now_ms();
	in->deadline_ms = s == I_STARTING ? in->started_ms + k->o->ready_timeout_ms : 0;
	return in;
}

static void add_extra(struct instance *in, pid_t pid, int pidfd)
{
	if (pid == in->pid || in->nextra == LR_EXTRAS) {
		if (pidfd >= 0)
			close(pidfd);
		return;
	}
	for (int j = 0; j < in->nextra; j++) {
		if (in->extra[j] == pid && in->extra_fd[j] >= 0) {
			if (pidfd >= 0)
				close(pidfd);
			return;
		}
	}
	if (pidfd < 0)
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return;
	fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	in->extra[in->nextra] = pid;
	in->extra_fd[in->nextra++] = pidfd;
}

static bool known(const struct keeper *k, pid_t pid)
{
	for (int i = 0; i < LR_INSTANCES; i++) {
		const struct instance *in = &k->inst[i];
		if (in->state == I_FREE)
			continue;
		if (in->running && in->pid == pid)
			return true;
		for (int j = 0; j < in->nextra; j++)
			if (in->extra[j] == pid && in->extra_fd[j] >= 0)
				return true;
	}
	return false;
}

/* The generation in a process's environment: 0 when it has none, -1 when
 * it cannot be read (the process is exiting, or gone). */
static long gen_of(pid_t pid)
{
	static char buf[65536]; /* the keeper's one thread's */
	long n = lr_child_read(pid, "environ", buf, sizeof(buf));
	if (n < 0)
		return -1;
	size_t key = strlen(LR_KEEPER_GEN_ENV);
	for (char *p = buf; p < buf + n; p += strlen(p) + 1)
		if (strncmp(p, LR_KEEPER_GEN_ENV, key) == 0 && p[key] == '=')
			return (long)strtoul(p + key + 1, NULL, 10);
	return 0;
}

/* A daemon that forks into the background leaves its main process
 * orphaned, and so (the keeper being a child subreaper) the keeper's child:
 * find such children and count them to their instance, so an instance is
 * over only when all of it is. A child caught exiting (its environment
 * gone) may be the parent of the next one: look again once it is reaped. */
static void claim_orphans(struct keeper *k)
{
	k->unsettled = false;
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 1 || known(k, (pid_t)pid) || lr_proc_parent((pid_t)pid) != k->self)
			continue;
		long gen = gen_of((pid_t)pid);
		struct instance *in = gen > 0 ? by_gen(k, (unsigned)gen) : NULL;
		if (in)
			add_extra(in, (pid_t)pid, -1);
		else if (gen < 0)
			k->unsettled = true;
	}
	closedir(d);
}

static void reap(struct keeper *k)
{
	int st;
	pid_t pid;
	bool lost = false;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		lost = lost || k->unsettled;
		for (int i = 0; i < LR_INSTANCES; i++) {
			struct instance *in = &k->inst[i];
			if (in->state == I_FREE)
				continue;
			if (in->running && in->pid == pid) {
				in->running = false;
				in->status = st;
				lost = true;
			}
			for (int j = 0; j < in->nextra; j++) {
				if (in->extra[j] == pid && in->extra_fd[j] >= 0) {
					close(in->extra_fd[j]);
					in->extra_fd[j] = -1;
					in->status = st;
					lost = true;
				}
			}
		}
	}
	if (lost)
		claim_orphans(k);
}

static void say_line(const char *line)
{
	say("%s", line);
}

/* Whether a line last said in second *said_s may be said now (and then
 * marks this second): the keeper's lines about peers, at most one a second. */
static bool first_this_second(long long *said_s)
{
	long long s = now_ms() / 1000;
	if (s == *said_s)
		return false;
	*said_s = s;
	return true;
}

/* A peer the keeper gave up on that is of its tree (silent, or pushed out
 * by newer ones): said at most once a second, the rest counted into the
 * next line. */
static void hung_up(struct keeper *k, pid_t pid, const char *why)
{
	if (!first_this_second(&k->hangup_said_s)) {
		k->hangups_unsaid++;
		return;
	}
	char more[64] = "";
	if (k->hangups_unsaid)
		snprintf(more, sizeof(more), " (and %lld more since the last such line)", k->hangups_unsaid);
	k->hangups_unsaid = 0;
	say("hung up on pid %d: %s%s", (int)pid, why, more);
}

static void refuse(struct keeper *k, int conn, const struct lr_peer *peer);

static const char *state_name(enum state s)
{
	return s == I_SERVING ? "serving" : s == I_STARTING ? "starting" : "stopping";
}

/* What `libreuse who` shows of a keeper: its instances, the restart
 * pending, the kept sockets and the last restart's phases, one fact a
 * line. Its length. */
static size_t state_text(struct keeper *k, char *out, size_t n)
{
	size_t len = 0;
	long long now = now_ms();
#define PUT(...)                                                                        \
	do {                                                                            \
		if (len < n) {                                                          \
			int w = snprintf(out + len, n - len, __VA_ARGS__);               \
			len += w > 0 ? (size_t)w : 0;                                   \
		}                                                                       \
	} while (0)
	PUT("keeper: pid %d, generation %u last started, %u restart(s) carried out, %u failed%s\n",
	    (int)k->self, k->last_gen, k->restarts_done, k->restarts_failed,
	    k->quitting ? ", stopping" : "");
	for (int i = 0; i < LR_INSTANCES; i++) {
		const struct instance *in = &k->inst[i];
		if (in->state == I_FREE)
			continue;
		PUT("instance: generation %u, pid %d, %s", in->gen, (int)in->pid, state_name(in->state));
		if (in->state == I_STOPPING)
			PUT(", %lld ms since SIG%s", now - in->stop_ms, sigabbrev_np(k->o->stop_signal));
		else
			PUT(", started %lld ms ago", now - in->started_ms);
		if (!in->running)
			PUT(", %d process(es) it forked off", in->nextra);
		PUT("\n");
	}
	if (k->pending)
		PUT("pending restart: yes, %u signal(s) coalesced, first %lld ms ago\n", k->pending_asks,
		    now - k->pending_asked_ms);
	else
		PUT("pending restart: no\n");
	if (k->respawn_at)
		PUT("respawn: in %lld ms\n", k->respawn_at - now);
	for (size_t i = 0; i < k->store.n; i++) {
		char what[96];
		lr_store_describe(what, sizeof(what), &k->store.v[i].id);
		PUT("kept: %s, taken by generation %u\n", what, k->store.v[i].taken_gen);
	}
	if (k->last.gen) {
		char line[400];
		lr_phases_text(line, sizeof(line), &k->last);
		PUT("last restart: %s\n", line);
	}
#undef PUT
	return len < n ? len : n - 1;
}

/* Serves a request that arrived: keep a socket, or hand one over. The
 * connection is the keeper's own tree's (accept_some saw to that); it is
 * non-blocking, so neither the read nor the reply can wait. */
static void serve(struct keeper *k, struct lr_conn *c)
{
	struct lr_keep_msg m, reply;
	int fd = -1;
	if (lr_keep_recv(c->fd, &m, &fd) != 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return; /* woken for nothing: the deadline still holds */
		if (errno == EPROTO)
			hung_up(k, c->peer.pid, "not a request of libreuse's");
		lr_conns_drop(c);
		return;
	}
	if (m.op == LR_KEEP_STATE) {
		char text[LR_KEEP_STATE_MAX];
		size_t len = state_text(k, text, sizeof(text));
		send(c->fd, text, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (fd >= 0)
			close(fd);
		lr_conns_drop(c);
		return;
	}
	if (c->asker) {
		/* Not of the tree: its state only. */
		struct lr_peer peer = c->peer;
		int conn = c->fd;
		c->fd = -1;
		if (fd >= 0)
			close(fd);
		refuse(k, conn, &peer);
		lr_peer_close(&peer);
		return;
	}
	memset(&reply, 0, sizeof(reply));
	reply.magic = LR_KEEP_MAGIC;
	reply.pid = (int32_t)k->self;
	int give = -1;
	if (m.op == LR_KEEP_OFFER) {
		if (fd < 0) {
			reply.op = LR_KEEP_FAILED;
			snprintf(reply.reason, sizeof(reply.reason), "no socket came with the offer");
		} else {
			reply.op = lr_store_offer(&k->store, fd, m.gen, reply.reason, sizeof(reply.reason)) == 0
					   ? LR_KEEP_OK
					   : LR_KEEP_FAILED;
			fd = -1; /* the store's now */
		}
	} else if (m.op == LR_KEEP_BOARD) {
		give = k->board_fd;
		reply.op = give >= 0 ? LR_KEEP_OK : LR_KEEP_NONE;
	} else if (m.op == LR_KEEP_ADOPT) {
		give = lr_store_adopt(&k->store, &m.sock, m.gen, reply.reason, sizeof(reply.reason));
		reply.op = give >= 0 ? LR_KEEP_OK : LR_KEEP_NONE;
	} else {
		reply.op = LR_KEEP_FAILED;
		snprintf(reply.reason, sizeof(reply.reason), "unknown request %u", m.op);
	}
	/* Count the asker to its instance: a daemon's forked-off main process
	 * is then stopped and waited for as the instance. */
	struct instance *in = by_gen(k, m.gen);
	if (in) {
		add_extra(in, c->peer.pid, c->peer.pidfd);
		c->peer.pidfd = -1;
	}
	lr_keep_send(c->fd, &reply, give);
	if (fd >= 0)
		close(fd);
	lr_conns_drop(c);
}

/* A process the keeper started and has not reaped: its pid cannot have
 * been reused, so it needs no walk up /proc. */
static bool started_by_us(const struct keeper *k, pid_t pid)
{
	for (int i = 0; i < LR_INSTANCES; i++)
		if (k->inst[i].state != I_FREE && k->inst[i].running && k->inst[i].pid == pid)
			return true;
	return false;
}

/* Told no before anything is read, in the one message that cannot block
 * (the connection is fresh and non-blocking): a process of another tree
 * learns why its keep found nothing. */
static void refuse(struct keeper *k, int conn, const struct lr_peer *peer)
{
	struct lr_keep_msg reply;
	memset(&reply, 0, sizeof(reply));
	reply.magic = LR_KEEP_MAGIC;
	reply.op = LR_KEEP_REFUSED;
	reply.pid = (int32_t)k->self;
	snprintf(reply.reason, sizeof(reply.reason),
		 "pid %d (uid %u) is not one of the processes this keeper started", (int)peer->pid,
		 (unsigned)peer->uid);
	lr_keep_send(conn, &reply, -1);
	/* What the peer sent already is dropped unlooked-at (MSG_TRUNC, no
	 * room for fds: the kernel closes any): closing over unread data would
	 * reset the connection, and the reply with it. Non-blocking, bounded. */
	char none;
	for (int i = 0; i < 4 && recv(conn, &none, 1, MSG_DONTWAIT | MSG_TRUNC) > 0; i++)
		;
	close(conn);
	lr_outsiders_seen(&k->outsiders, peer->pid, peer->uid, now_ms(), say_line);
}

/* The credentials decide, at accept, before a byte is read: a process not
 * of the keeper's tree is closed at once; one of its tree waits for its
 * request in the table, with a deadline. */
static void accept_some(struct keeper *k)
{
	for (int i = 0; i < LR_ACCEPT_BATCH; i++) {
		int conn = accept4(k->listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (conn < 0 && (errno == EMFILE || errno == ENFILE) && k->reserve_fd >= 0) {
			int e = errno;
			close(k->reserve_fd);
			conn = accept4(k->listener, NULL, NULL, SOCK_CLOEXEC);
			if (conn >= 0)
				close(conn);
			k->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (first_this_second(&k->fds_said_s))
				say("out of file descriptors (%s): a connection was closed unserved",
				    strerror(e));
			if (conn >= 0)
				continue;
		}
		if (conn < 0)
			return;
		struct lr_peer peer = { .pidfd = -1 };
		if (lr_peer_of(conn, &peer) != 0) {
			close(conn);
			continue;
		}
		bool asker = false;
		if (!started_by_us(k, peer.pid) && !lr_peer_descends(&peer, k->self)) {
			/* The keeper's own user (or root) may ask its state;
			 * anyone else is closed unread. */
			if (peer.uid != geteuid() && peer.uid != 0) {
				lr_peer_close(&peer);
				refuse(k, conn, &peer);
				continue;
			}
			asker = true;
		}
		pid_t evicted;
		struct lr_conn *c =
			lr_conns_add(&k->conns, conn, &peer, !asker && known(k, peer.pid), now_ms(), &evicted);
		c->asker = asker;
		if (evicted)
			hung_up(k, evicted, "its request had not come, and newer ones needed the room");
	}
}

/* A restart: a new instance that will take the kept sockets from the one
 * serving. asked_ms is when it was asked for (the first signal of those it
 * answers). */
static bool begin_restart(struct keeper *k, long long asked_ms, unsigned asks)
{
	struct instance *in = start_instance(k, I_STARTING);
	if (!in)
		return false;
	in->asked_ms = asked_ms;
	in->replaced.asks = asks;
	say("restart: started pid %d (generation %u)%s", (int)in->pid, in->gen,
	    asks > 1 ? " for restart signals coalesced while the last one was under way" : "");
	return true;
}

/* The restart asked for while another was under way, now that none is:
 * started as soon as the last one ends, so the instance serving at the end
 * is one started after the last signal (the newest binary and
 * configuration). With nothing serving (a crash, a failed start), it is the
 * program started again. Held while no instance slot is free: looked at
 * again whenever an instance is gone. */
static void run_pending(struct keeper *k)
{
	if (!k->pending || k->quitting || by_state(k, I_STARTING))
		return;
	bool started;
	if (by_state(k, I_SERVING)) {
		started = begin_restart(k, k->pending_asked_ms, k->pending_asks);
	} else {
		k->respawn_at = 0;
		started = start_instance(k, I_SERVING) != NULL;
	}
	if (started)
		k->pending = false;
}

static void restart(struct keeper *k)
{
	if (k->quitting)
		return;
	struct instance *starting = by_state(k, I_STARTING);
	if (starting || k->pending) {
		/* Lost, a deploy made during a restart would leave the old
		 * binary serving: it is queued, and the signals coalesce. */
		if (!k->pending) {
			k->pending = true;
			k->pending_asked_ms = now_ms();
			k->pending_asks = 0;
		}
		k->pending_asks++;
		if (starting)
			say("restart under way (pid %d, generation %u): SIG%s queued, %s", (int)starting->pid,
			    starting->gen, sigabbrev_np(k->o->restart_signal),
			    k->pending_asks > 1 ? "with the one queued already" : "to run once it ends");
		run_pending(k); /* held only by a full table */
		return;
	}
	if (!by_state(k, I_SERVING)) {
		/* Waiting to respawn: start now. */
		k->respawn_at = 0;
		start_instance(k, I_SERVING);
		return;
	}
	if (!begin_restart(k, now_ms(), 1)) {
		/* No slot (old instances still stopping): asked for, not lost. */
		k->pending = true;
		k->pending_asked_ms = now_ms();
		k->pending_asks = 1;
	}
}

static void quit(struct keeper *k, int sig)
{
	struct instance *cur = by_state(k, I_SERVING);
	if (!k->quitting) {
		k->quitting = true;
		k->quit_gen = cur ? cur->gen : 0;
		k->respawn_at = 0;
	}
	for (int i = 0; i < LR_INSTANCES; i++) {
		struct instance *in = &k->inst[i];
		if (in->state == I_SERVING || in->state == I_STARTING)
			stop_instance(k, in, sig);
		else if (in->state == I_STOPPING)
			signal_instance(in, sig);
	}
}

static void on_signal(struct keeper *k, int sig)
{
	if (sig == SIGCHLD)
		reap(k);
	else if (sig == k->o->restart_signal)
		restart(k);
	else if (sig == SIGTERM || sig == SIGINT)
		quit(k, sig);
	else if (sig != SIGPIPE) {
		struct instance *cur = by_state(k, I_SERVING);
		if (cur)
			signal_instance(cur, sig);
	}
}

/* A new instance that took every kept socket replaces the old one. */
static void check_ready(struct keeper *k)
{
	struct instance *next = by_state(k, I_STARTING);
	if (!next || !lr_store_all_taken(&k->store, next->gen))
		return;
	struct instance *old = by_state(k, I_SERVING);
	next->state = I_SERVING;
	next->deadline_ms = 0;
	next->adopted_ms = now_ms();
	k->restarts_done++;
	/* Before the old one is told: from now on it takes no connection. */
	set_serving(k, next->gen);
	long long since = next->adopted_ms - next->asked_ms;
	if (old) {
		say("restart: pid %d (generation %u) took %zu kept socket(s) %lld ms after SIG%s; stopping "
		    "pid %d with SIG%s",
		    (int)next->pid, next->gen, k->store.n, since, sigabbrev_np(k->o->restart_signal),
		    (int)old->pid, sigabbrev_np(k->o->stop_signal));
		old->replaced = (struct lr_restart_phases){ .gen = next->gen,
							    .pid = next->pid,
							    .old_gen = old->gen,
							    .old_pid = old->pid,
							    .asks = next->replaced.asks,
							    .asked_ms = next->asked_ms,
							    .started_ms = next->started_ms,
							    .adopted_ms = next->adopted_ms };
		stop_instance(k, old, k->o->stop_signal);
	} else {
		say("restart: pid %d (generation %u) took %zu kept socket(s) %lld ms after SIG%s; the "
		    "instance it replaces was gone already",
		    (int)next->pid, next->gen, k->store.n, since, sigabbrev_np(k->o->restart_signal));
	}
	run_pending(k);
}

/* An old instance replaced by a restart is gone: the restart's phases. */
static void report_restart(struct keeper *k, struct instance *old)
{
	if (!old->replaced.gen)
		return;
	old->replaced.stopped_ms = now_ms();
	k->last = old->replaced;
	if (k->o->log_actions) {
		char line[400];
		lr_phases_text(line, sizeof(line), &k->last);
		say("restart done: %s", line);
	}
}

static void check_deadlines(struct keeper *k)
{
	long long now = now_ms();
	for (int i = 0; i < LR_INSTANCES; i++) {
		struct instance *in = &k->inst[i];
		if (!in->deadline_ms || now < in->deadline_ms)
			continue;
		if (in->state == I_STARTING) {
			struct instance *old = by_state(k, I_SERVING);
			char on[64] = "; nothing serves";
			if (old)
				snprintf(on, sizeof(on), "; pid %d serves on", (int)old->pid);
			say("restart failed: pid %d (generation %u) did not take its sockets within %d ms; "
			    "stopping it%s",
			    (int)in->pid, in->gen, k->o->ready_timeout_ms, on);
			k->restarts_failed++;
			stop_instance(k, in, k->o->stop_signal);
			/* Nothing serving: started again (below, once it is gone)
			 * as after a crash. Else a restart asked for meanwhile
			 * runs now. */
			in->failed_alone = !old;
			run_pending(k);
		} else if (in->state == I_STOPPING && !in->killed) {
			say("pid %d (generation %u) still running %d ms after SIG%s: SIGKILL", (int)in->pid,
			    in->gen, k->o->stop_timeout_ms, sigabbrev_np(k->o->stop_signal));
			kill_instance(in);
			in->deadline_ms = 0;
		}
	}
	for (int i = 0; i < LR_CONNS_MAX; i++) {
		struct lr_conn *c = &k->conns.c[i];
		if (c->fd >= 0 && now >= c->deadline_ms) {
			char why[64];
			snprintf(why, sizeof(why), "no request within %d ms of connecting", LR_CONN_TIMEOUT_MS);
			hung_up(k, c->peer.pid, why);
			lr_conns_drop(c);
		}
	}
	lr_outsiders_summary(&k->outsiders, now, false, say_line);
	if (k->respawn_at && now >= k->respawn_at) {
		k->respawn_at = 0;
		start_instance(k, I_SERVING);
	}
}

/* Nothing serves and nothing is starting: an instance that served
 * crashed, or the one meant to replace it failed with none left behind.
 * A restart asked for meanwhile starts the program now; else --respawn
 * starts it again after a pause that grows while it keeps failing; else
 * the keeper is done, with its status. */
static void nothing_serves(struct keeper *k, const struct instance *in, const char *st)
{
	if (by_state(k, I_SERVING) || by_state(k, I_STARTING))
		return;
	if (k->pending) {
		say("pid %d (generation %u) exited (%s): starting the program again for the restart "
		    "asked for meanwhile",
		    (int)in->pid, in->gen, st);
		run_pending(k);
		return;
	}
	if (!k->o->respawn) {
		k->exit_status = lr_child_exit_code(in->status);
		k->done = true;
		return;
	}
	long long ran = now_ms() - in->started_ms;
	if (ran >= LR_RESPAWN_RESET_MS || !k->respawn_ms)
		k->respawn_ms = LR_RESPAWN_FIRST_MS;
	say("pid %d (generation %u) exited (%s): starting it again in %d ms", (int)in->pid, in->gen, st,
	    k->respawn_ms);
	k->respawn_at = now_ms() + k->respawn_ms;
	k->respawn_ms = k->respawn_ms * 2 > LR_RESPAWN_MAX_MS ? LR_RESPAWN_MAX_MS : k->respawn_ms * 2;
}

/* What follows an instance's end, all of it gone. */
static void settle(struct keeper *k)
{
	if (k->unsettled)
		return;
	bool freed = false;
	for (int i = 0; i < LR_INSTANCES; i++) {
		struct instance *in = &k->inst[i];
		if (in->state == I_FREE || alive(in))
			continue;
		char st[64];
		lr_child_status_text(in->status, st, sizeof(st));
		enum state was = in->state;
		in->state = I_FREE;
		freed = true;
		if (k->quitting) {
			if (in->gen == k->quit_gen)
				k->exit_status = lr_child_exit_code(in->status);
			continue;
		}
		if (was == I_STOPPING) {
			/* How long an old instance took to finish: what a restart
			 * costs, and how near it came to the stop timeout. */
			say("pid %d (generation %u) exited (%s) %lld ms after SIG%s", (int)in->pid, in->gen,
			    st, now_ms() - in->stop_ms, sigabbrev_np(k->o->stop_signal));
			report_restart(k, in);
			if (in->failed_alone)
				nothing_serves(k, in, st);
		} else if (was == I_STARTING) {
			struct instance *old = by_state(k, I_SERVING);
			say("restart failed: pid %d (generation %u) exited (%s) before taking its sockets%s",
			    (int)in->pid, in->gen, st, old ? "; the old instance serves on" : "");
			k->restarts_failed++;
			if (old)
				run_pending(k);
			else
				nothing_serves(k, in, st);
		} else if (was == I_SERVING) {
			/* A restart under way: the new instance becomes the one. */
			nothing_serves(k, in, st);
		}
	}
	if (freed)
		run_pending(k); /* one held for want of a free slot */
	if (k->quitting) {
		bool any = false;
		for (int i = 0; i < LR_INSTANCES; i++)
			any = any || k->inst[i].state != I_FREE;
		k->done = !any;
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
			rnd[i] = (unsigned char)(now_ms() >> (i * 3));
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
		say("cannot open the keeper's socket: %s", strerror(errno));
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
		say("cannot become a child subreaper (%s): a daemon that forks into the background "
		    "is not followed", strerror(errno));
	if (!lr_kernel_has(LR_K_PEERPIDFD)) {
		char line[320];
		lr_kernel_lacks_line(LR_K_PEERPIDFD, line, sizeof(line));
		say("%s", line);
	}
	if (open_listener(k) != 0)
		return -1;
	k->sigfd = lr_child_signals(&k->orig_mask);
	if (k->sigfd < 0) {
		say("cannot take signals: %s", strerror(errno));
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
		wait = due - now_ms();
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
			serve(k, w->conn_of[i]);
	if (w->p[1].revents & POLLIN)
		accept_some(k);
	for (nfds_t i = 0; i < w->nextra; i++) {
		struct pollfd *q = &w->p[2 + w->nconn + i];
		struct instance *in = w->extra_of[i].in;
		int j = w->extra_of[i].j;
		/* Still this process's (a reap above may have closed it). */
		if ((q->revents & POLLIN) && in->extra_fd[j] == q->fd) {
			close(q->fd);
			in->extra_fd[j] = -1;
			claim_orphans(k);
		}
	}
	if (k->unsettled)
		claim_orphans(k);
}

static void keeper_close(struct keeper *k)
{
	lr_outsiders_summary(&k->outsiders, now_ms(), true, say_line);
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
	if (!start_instance(&k, I_SERVING)) {
		keeper_close(&k);
		return 126;
	}
	while (!k.done) {
		gather(&k, &w);
		if (poll(w.p, w.n, wait_ms(&k)) < 0 && errno != EINTR)
			break;
		handle(&k, &w);
		check_deadlines(&k);
		check_ready(&k);
		settle(&k);
	}
	keeper_close(&k);
	return k.exit_status;
}

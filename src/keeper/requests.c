/* What the keeper answers: connections accepted (the credentials decide
 * who may ask what), requests served (keep a socket, hand one over, the
 * board, its state for `libreuse who`), peers refused or hung up on. */
#include "state.h"

#include "keepwire.h"
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connections accepted per turn of the loop: signals, children's exits and
 * deadlines are looked at between batches, however many peers connect. */
#define LR_ACCEPT_BATCH 64

static void refuse(struct keeper *k, int conn, const struct lr_peer *peer);

/* Whether a line last said in second *said_s may be said now (and then
 * marks this second): the keeper's lines about peers, at most one a second. */
static bool first_this_second(long long *said_s)
{
	long long s = lr_keeper_now_ms() / 1000;
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
	lr_keeper_say("hung up on pid %d: %s%s", (int)pid, why, more);
}

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
	long long now = lr_keeper_now_ms();
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

/* The keeper's state, to whoever may ask it (`libreuse who`). */
static void send_state(struct keeper *k, struct lr_conn *c, int fd)
{
	char text[LR_KEEP_STATE_MAX];
	size_t len = state_text(k, text, sizeof(text));
	send(c->fd, text, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (fd >= 0)
		close(fd);
	lr_conns_drop(c);
}

/* An asker not of the tree wanted more than the state: refused. */
static void refuse_asker(struct keeper *k, struct lr_conn *c, int fd)
{
	struct lr_peer peer = c->peer;
	int conn = c->fd;
	c->fd = -1;
	if (fd >= 0)
		close(fd);
	refuse(k, conn, &peer);
	lr_peer_close(&peer);
}

/* The reply to a request of the tree: keep a socket (*fd, then the
 * store's: -1), the board, or a kept socket handed over. The fd that goes
 * with the reply, or -1; *board, the board when it was asked along. */
static int answer(struct keeper *k, const struct lr_keep_msg *m, int *fd, struct lr_keep_msg *reply,
		  int *board)
{
	*board = (m->op == LR_KEEP_OFFER || m->op == LR_KEEP_ADOPT) && (m->want & LR_KEEP_WANT_BOARD)
			 ? k->board_fd
			 : -1;
	memset(reply, 0, sizeof(*reply));
	reply->magic = LR_KEEP_MAGIC;
	reply->pid = (int32_t)k->self;
	int give = -1;
	if (m->op == LR_KEEP_OFFER) {
		if (*fd < 0) {
			reply->op = LR_KEEP_FAILED;
			snprintf(reply->reason, sizeof(reply->reason), "no socket came with the offer");
		} else {
			reply->op = lr_store_offer(&k->store, *fd, m->gen, reply->reason, sizeof(reply->reason)) == 0
					    ? LR_KEEP_OK
					    : LR_KEEP_FAILED;
			*fd = -1; /* the store's now */
		}
	} else if (m->op == LR_KEEP_ADOPT) {
		give = lr_store_adopt(&k->store, &m->sock, m->gen, reply->reason, sizeof(reply->reason));
		reply->op = give >= 0 ? LR_KEEP_OK : LR_KEEP_NONE;
	} else {
		reply->op = LR_KEEP_FAILED;
		snprintf(reply->reason, sizeof(reply->reason), "unknown request %u", m->op);
	}
	return give;
}

/* Serves a request that arrived: keep a socket, or hand one over. The
 * connection is the keeper's own tree's, or an asker's that may have its
 * state only (lr_requests_accept saw to that); it is non-blocking, so
 * neither the read nor the reply can wait. */
void lr_requests_serve(struct keeper *k, struct lr_conn *c)
{
	struct lr_keep_msg m, reply;
	int fd = -1;
	if (lr_keep_recv(c->fd, &m, &fd, NULL) != 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return; /* woken for nothing: the deadline still holds */
		if (errno == EPROTO)
			hung_up(k, c->peer.pid, "not a request of libreuse's");
		lr_conns_drop(c);
		return;
	}
	if (m.op == LR_KEEP_STATE) {
		send_state(k, c, fd);
		return;
	}
	if (c->asker) {
		refuse_asker(k, c, fd);
		return;
	}
	int board;
	int give = answer(k, &m, &fd, &reply, &board);
	/* Count the asker to its instance: a daemon's forked-off main process
	 * is then stopped and waited for as the instance. */
	struct instance *in = lr_inst_by_gen(k, m.gen);
	if (in) {
		lr_inst_add_extra(in, c->peer.pid, c->peer.pidfd);
		c->peer.pidfd = -1;
	}
	lr_keep_send(c->fd, &reply, give, board);
	if (fd >= 0)
		close(fd);
	lr_conns_drop(c);
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
	lr_keep_send(conn, &reply, -1, -1);
	/* What the peer sent already is dropped unlooked-at (MSG_TRUNC, no
	 * room for fds: the kernel closes any): closing over unread data would
	 * reset the connection, and the reply with it. Non-blocking, bounded. */
	char none;
	for (int i = 0; i < 4 && recv(conn, &none, 1, MSG_DONTWAIT | MSG_TRUNC) > 0; i++)
		;
	close(conn);
	lr_outsiders_seen(&k->outsiders, peer->pid, peer->uid, lr_keeper_now_ms(), lr_keeper_say_line);
}

/* The credentials decide, at accept, before a byte is read: a process not
 * of the keeper's tree is closed at once; one of its tree waits for its
 * request in the table, with a deadline. */
void lr_requests_accept(struct keeper *k)
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
				lr_keeper_say("out of file descriptors (%s): a connection was closed unserved",
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
		if (!lr_inst_started_by_us(k, peer.pid) && !lr_peer_descends(&peer, k->self)) {
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
			lr_conns_add(&k->conns, conn, &peer, !asker && lr_inst_known(k, peer.pid), lr_keeper_now_ms(), &evicted);
		c->asker = asker;
		if (evicted)
			hung_up(k, evicted, "its request had not come, and newer ones needed the room");
	}
}

/* Connections whose request did not come in time: hung up on. */
void lr_requests_deadlines(struct keeper *k, long long now)
{
	for (int i = 0; i < LR_CONNS_MAX; i++) {
		struct lr_conn *c = &k->conns.c[i];
		if (c->fd >= 0 && now >= c->deadline_ms) {
			char why[64];
			snprintf(why, sizeof(why), "no request within %d ms of connecting", LR_CONN_TIMEOUT_MS);
			hung_up(k, c->peer.pid, why);
			lr_conns_drop(c);
		}
	}
}

#include "watch.h"

#include "addr.h"
#include "child.h"
#include "front.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Calls awaiting their outcome at once; past that the oldest is reported
 * at once, from what its socket shows. */
#define LR_WATCHED 256
/* How often the watching thread looks, and how young a call it leaves for
 * the thread's own next call to settle. */
#define LR_WATCH_TICK_NS 1000000LL
/* How long the watching thread keeps looking after the last call added,
 * before it sleeps until the next: a program making calls in a row adds
 * each to a thread already awake, and pays no wake-up for it. */
#define LR_WATCH_LINGER_NS 100000000LL
/* A thread that /proc shows running (on a CPU: in the call or past it, it
 * cannot say) whose socket shows no outcome after this long has failed. */
#define LR_WATCH_RUNNING_NS 50000000LL

/* The calls awaiting their outcome, shared by the receiving thread (adds,
 * and settles a thread's previous call), the watching thread and the main
 * thread at the end; under `lock`. A call being settled is out of the
 * table, counted in `busy`. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;
static struct {
	struct lr_watch w;
	bool used;
} slots[LR_WATCHED];
static unsigned used, busy;
/* When a call was last added, and whether the watching thread waits on
 * `more` for one (else it looks at every tick, and needs no signal). */
static long long last_add_ns;
static bool sleeping;
/* Read without the lock by lr_watch_thread_next: most calls find it 0. */
static atomic_uint pending;

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

enum thread_state { IN_CALL, RUNNING, OUT };

/* Where the calling thread is: still in the call (waiting to run it, or
 * blocked in it), on a CPU, or out of it (or gone). */
static enum thread_state thread_state(const struct lr_watch *w)
{
	char what[48], buf[256];
	snprintf(what, sizeof(what), "task/%d/syscall", (int)w->tid);
	if (lr_child_read(w->tgid, what, buf, sizeof(buf)) < 0)
		return OUT;
	if (strncmp(buf, "running", 7) == 0)
		return RUNNING;
	char *end;
	long nr = strtol(buf, &end, 10);
	if (nr != w->nr)
		return OUT;
	unsigned long long a0 = strtoull(end, &end, 16);
	unsigned long long a1 = strtoull(end, &end, 16);
	return a0 == w->arg0 && a1 == w->arg1 ? IN_CALL : OUT;
}

/* How far a look at a call goes: the thread is known past it; the socket,
 * then /proc; the socket alone (a look that must cost almost nothing). */
enum look { DONE, LOOK, QUICK };

/* Whether the call is over, when nothing on the socket says so yet. */
static bool call_over(const struct lr_watch *w, enum look how)
{
	if (how != LOOK)
		return how == DONE;
	enum thread_state s = thread_state(w);
	return s == OUT || (s == RUNNING && now_ns() - w->since_ns >= LR_WATCH_RUNNING_NS);
}

static bool local_port(int fd, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t n = sizeof(ss);
	struct lr_addr a;
	*port = 0;
	return getsockname(fd, (struct sockaddr *)&ss, &n) == 0 &&
	       lr_sockaddr_read((struct sockaddr *)&ss, n, &a, port) == 0 && *port;
}

static bool bind_outcome(struct lr_watch *w, struct lr_trapped *t, enum look how, int *ret, int *err)
{
	uint16_t port;
	bool bound = local_port(w->dup, &port);
	*ret = 0;
	*err = 0;
	if (bound && !w->was_bound)
		return true;
	if (!call_over(w, how))
		return false;
	*ret = -1;
	*err = bound ? EINVAL : lr_front_bind_errno(t, w->dup, (struct sockaddr *)&w->ss, w->len);
	return true;
}

static int tcp_state(int fd, bool *handshook)
{
	struct tcp_info ti;
	socklen_t n = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	int state = getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &n) == 0 ? ti.tcpi_state : -1;
	/* The first round-trip sample is taken from the SYN-ACK: a connect
	 * reset or closed since was connected once. */
	if (handshook)
		*handshook = state >= 0 && ti.tcpi_rtt > 0;
	return state;
}

static bool connect_outcome(struct lr_watch *w, bool stream, enum look how, int *ret, int *err)
{
	struct sockaddr_storage ss;
	socklen_t n = sizeof(ss);
	bool connected = getpeername(w->dup, (struct sockaddr *)&ss, &n) == 0;
	/* A non-blocking TCP connect that sent its SYN is answered EINPROGRESS,
	 * whatever came of the handshake since. */
	bool in_progress = stream && w->nonblock;
	*ret = in_progress ? -1 : 0;
	*err = in_progress ? EINPROGRESS : 0;
	bool handshook = false;
	int state = stream ? tcp_state(w->dup, &handshook) : -1;
	if (!w->was_connected && (connected || handshook || (in_progress && state == TCP_SYN_SENT)))
		return true;
	if (!call_over(w, how))
		return false;
	uint16_t port;
	*ret = -1;
	if (w->was_connected)
		*err = EISCONN;
	else if (stream && !w->nonblock && state == TCP_SYN_SENT)
		*err = EINTR; /* a signal ended the wait, and the call was not made again */
	else if (!local_port(w->dup, &port))
		*err = EADDRNOTAVAIL; /* no local port could be had for it */
	else if (!in_progress)
		*err = 0; /* refused, unreachable, timed out: that errno went to the program alone */
	return true;
}

/* Whether the outcome makes a line due: a rule matched (it may say what it
 * would have done), a conflict, or any call at level "all". Else nothing
 * more is read: a success at the default level costs the one look. */
static bool line_due(const struct lr_watch *w, int ret, int err)
{
	return w->matched || w->loaded->table->log.level >= LR_LOG_ALL ||
	       (ret < 0 && lr_is_conflict(err));
}

static bool is_stream(int fd)
{
	int type = 0;
	socklen_t n = sizeof(type);
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &n) == 0 && type == SOCK_STREAM;
}

/* Reports w's call if its outcome is known (always when DONE: the thread
 * is past it). True when reported and w released. */
static bool settle(struct lr_watch *w, enum look how)
{
	struct lr_trapped t = { .listener = -1, .tgid = w->tgid, .pidfd = -1, .target = -1,
				.dup = w->dup, .made = true };
	bool known = w->c.op == LR_OP_BIND
			     ? bind_outcome(w, &t, how, &t.ret, &t.err)
			     : connect_outcome(w, is_stream(w->dup), how, &t.ret, &t.err);
	if (!known)
		return false;
	struct stat st;
	uint16_t bits = 0;
	if (!line_due(w, t.ret, t.err) || fstat(w->dup, &st) != 0 || !S_ISSOCK(st.st_mode))
		goto drop;
	bits = lr_front_get(st.st_ino);
	if (!(bits & LR_SOCK_KNOWN)) {
		/* Added to what is recorded (the options the program set). */
		uint16_t kind;
		if (!lr_front_kind(w->dup, &kind))
			goto drop;
		bits |= kind;
		lr_front_update(st.st_ino, 0, kind);
	}
	t.ino = st.st_ino;
	struct lr_caller who;
	lr_front_caller(&who, &t, w->program, w->euid);
	struct lr_sockinfo si;
	struct lr_call c = w->c;
	lr_sockinfo_of(bits, &si, &c.proto);
	(c.op == LR_OP_BIND ? lr_act_bind : lr_act_connect)(w->loaded, &who, w->dup,
							    (struct sockaddr *)&w->ss, w->len, &c, &si);
drop:
	close(w->dup);
	return true;
}

/* Takes slot i out of the table to settle it (under the lock). */
static struct lr_watch claim(unsigned i)
{
	slots[i].used = false;
	used--;
	busy++;
	atomic_fetch_sub(&pending, 1);
	return slots[i].w;
}

/* Settles w out of the lock; puts it back if its outcome is not known yet.
 * Called and returns with the lock held. */
static void settle_claimed(struct lr_watch *w, enum look how)
{
	pthread_mutex_unlock(&lock);
	bool settled = settle(w, how);
	pthread_mutex_lock(&lock);
	busy--;
	if (!settled) {
		unsigned i = 0;
		while (i < LR_WATCHED && slots[i].used)
			i++;
		if (i == LR_WATCHED) {
			/* Taken meanwhile: no room to wait, report it now. */
			busy++;
			pthread_mutex_unlock(&lock);
			settle(w, DONE);
			pthread_mutex_lock(&lock);
			busy--;
		} else {
			slots[i].w = *w;
			slots[i].used = true;
			used++;
			atomic_fetch_add(&pending, 1);
		}
	}
	if (!busy && !used)
		pthread_cond_broadcast(&idle);
}

static void *watcher(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		while (!used && now_ns() - last_add_ns >= LR_WATCH_LINGER_NS) {
			sleeping = true;
			pthread_cond_wait(&more, &lock);
			sleeping = false;
		}
		/* Lingering with nothing to look at, it looks less often: a
		 * call added meanwhile is most likely settled by its thread's
		 * next one. */
		struct timespec tick = { 0, used ? LR_WATCH_TICK_NS : 10 * LR_WATCH_TICK_NS };
		pthread_mutex_unlock(&lock);
		nanosleep(&tick, NULL);
		pthread_mutex_lock(&lock);
		long long now = now_ns();
		for (unsigned i = 0; i < LR_WATCHED; i++) {
			if (!slots[i].used || now - slots[i].w.since_ns < LR_WATCH_TICK_NS)
				continue;
			struct lr_watch w = claim(i);
			settle_claimed(&w, LOOK);
		}
	}
	return NULL;
}

void lr_watch_start(void)
{
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 256 * 1024);
	if (pthread_create(&t, &a, watcher, NULL) != 0)
		fprintf(stderr, "libreuse: warning: cannot start the supervisor's watching thread: %s; "
				"outcomes are reported at each thread's next call or at the end\n",
			strerror(errno));
	pthread_attr_destroy(&a);
}

void lr_watch_expect(void)
{
	pthread_mutex_lock(&lock);
	busy++;
	pthread_mutex_unlock(&lock);
}

void lr_watch_unexpect(void)
{
	pthread_mutex_lock(&lock);
	if (!--busy && !used)
		pthread_cond_broadcast(&idle);
	pthread_mutex_unlock(&lock);
}

void lr_watch_add(const struct lr_watch *w)
{
	pthread_mutex_lock(&lock);
	busy--; /* expected: now in the table */
	for (;;) {
		unsigned i = 0, oldest = 0;
		for (; i < LR_WATCHED && slots[i].used; i++)
			if (slots[i].w.since_ns < slots[oldest].w.since_ns)
				oldest = i;
		if (i < LR_WATCHED) {
			slots[i].w = *w;
			slots[i].used = true;
			used++;
			atomic_fetch_add(&pending, 1);
			break;
		}
		/* Full: the oldest is reported now, from what its socket shows. */
		struct lr_watch old = claim(oldest);
		pthread_mutex_unlock(&lock);
		settle(&old, DONE);
		pthread_mutex_lock(&lock);
		busy--;
	}
	last_add_ns = w->since_ns;
	if (sleeping)
		pthread_cond_signal(&more);
	pthread_cond_broadcast(&idle); /* a flush waiting takes it at once */
	pthread_mutex_unlock(&lock);
}

void lr_watch_thread_next(pid_t tid, long nr, uint64_t arg0, uint64_t arg1)
{
	if (!atomic_load_explicit(&pending, memory_order_relaxed))
		return;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < LR_WATCHED; i++)
		if (slots[i].used && slots[i].w.tid == tid) {
			struct lr_watch w = claim(i);
			if (w.nr == nr && w.arg0 == arg0 && w.arg1 == arg1 && !w.nonblock &&
			    w.c.op == LR_OP_CONNECT && tcp_state(w.dup, NULL) == TCP_SYN_SENT) {
				/* A blocking connect a signal interrupted, made
				 * again (SA_RESTART): its outcome is the new call's. */
				pthread_mutex_unlock(&lock);
				close(w.dup);
				pthread_mutex_lock(&lock);
				if (!--busy && !used)
					pthread_cond_broadcast(&idle);
				continue;
			}
			settle_claimed(&w, DONE);
		}
	pthread_mutex_unlock(&lock);
}

void lr_watch_shown(void)
{
	if (!atomic_load_explicit(&pending, memory_order_relaxed))
		return;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < LR_WATCHED; i++)
		if (slots[i].used) {
			struct lr_watch w = claim(i);
			settle_claimed(&w, QUICK);
		}
	pthread_mutex_unlock(&lock);
}

void lr_watch_flush(void)
{
	pthread_mutex_lock(&lock);
	while (used || busy) {
		unsigned i = 0;
		while (i < LR_WATCHED && !slots[i].used)
			i++;
		if (i < LR_WATCHED) {
			struct lr_watch w = claim(i);
			settle_claimed(&w, DONE);
		} else {
			pthread_cond_wait(&idle, &lock);
		}
	}
	pthread_mutex_unlock(&lock);
}

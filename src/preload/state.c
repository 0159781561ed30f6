#include "state.h"

#include "caller.h"
#include "environ.h"
#include "fetch.h"
#include "fileid.h"
#include "tablecache.h"
#include "fmt.h"
#include "gate.h"
#include "keep.h"
#include "libc.h"
#include "pages.h"
#include "real.h"
#include "tally.h"

#include <errno.h>
#include <linux/futex.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

extern char *program_invocation_short_name;

/* Set on the thread that is loading rules, so that anything libreuse's own
 * start-up does through the hooks (syslog's socket, a log file) passes
 * straight through instead of waiting for its own start. */
static __thread int in_start __attribute__((tls_model("initial-exec")));

/* Written once by load_first (see start), read-only afterwards. */
static char program[NAME_MAX + 1];
static char exe_name[NAME_MAX + 1];
static struct lr_sink error_sink;

/* The rules in force. Replaced only by the thread holding `reloading`;
 * read by every hook between lr_state_enter and lr_state_leave. */
static _Atomic(struct lr_loaded *) current;

/* Epoch-based reclamation: a call counts itself in active[epoch & 1]. A
 * reload publishes the new rules, then flips the epoch; the old ones are
 * freed once the counter of the old parity drains to zero. Calls are never
 * blocked; a reload waits (is skipped) while a previous retiree lingers. */
static atomic_uint epoch;
static atomic_long active[2];

/* Owned by the thread that holds `reloading` (and by load_first). */
static atomic_flag reloading = ATOMIC_FLAG_INIT;
static struct lr_loaded *retired;
static unsigned retired_parity;
/* Set with every publication of `current`; read by any hook. */
atomic_bool lr_state_calls_logged;

static void publish_hint(const struct lr_loaded *l)
{
	atomic_store_explicit(&lr_state_calls_logged, l && l->table->log.level >= LR_LOG_ALL,
			      memory_order_relaxed);
}

/* Set up by load_first; its look is claimed by the hook that finds it due
 * (lr_state_enter), and made by the thread that then holds `reloading`. */
struct lr_reload lr_state_reload;
/* Set by load_first when it is done; a process that never opened an IP
 * socket has no rules to report on. Read by the socket() hook. */
atomic_bool lr_state_started;


/* Written once by load_first (see start), read-only afterwards. */
static struct lr_sources sources;

/* A name cut at NAME_MAX: copied, not formatted (see tablecache.c), and
 * by a loop: the first socket() calls no libc function it can do without
 * (sys.h says why). */
static void copy_name(char out[NAME_MAX + 1], const char *s)
{
	size_t n = 0;
	for (; n < NAME_MAX && s[n]; n++)
		out[n] = s[n];
	out[n] = '\0';
}

/* The basename of /proc/self/exe, read at most once, and only when a table
 * has rules naming a program or argv[0] is empty: called by load_first
 * (see start) or by the thread holding `reloading`, never both. */
static const char *exe_of(void)
{
	static bool read_once;
	if (!read_once) {
		read_once = true;
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n > 0) {
			exe[n] = '\0';
			const char *base = strrchr(exe, '/');
			copy_name(exe_name, base ? base + 1 : exe);
		}
	}
	return exe_name[0] ? exe_name : NULL;
}

/* The reload's clock: the hooks' own, so that lr_state_check_due and the
 * reload agree on when a look is due. */
static long long now_ns(void)
{
	return lr_state_now_ns();
}

static void *build(void *ctx, const struct lr_file_id *config, struct lr_file_id *read)
{
	(void)ctx;
	struct lr_loaded *l = lr_fetch(&sources, config, exe_of, program, &error_sink);
	if (l)
		lr_table_source_id(l->table, sources.config_path, read);
	return l;
}

/* Frees the retired rules once no call can still hold them. */
static bool reclaim(void)
{
	if (retired && atomic_load(&active[retired_parity]) == 0) {
		lr_loaded_free(retired);
		retired = NULL;
	}
	return retired == NULL;
}

static void swap(void *ctx, void *rules, bool first)
{
	(void)ctx;
	struct lr_loaded *fresh = rules;
	if (first) {
		/* No call holds rules yet: nothing to narrow, nothing to retire. */
		publish_hint(fresh);
		atomic_store(&current, fresh);
		/* Its gate read in place: the image outlives the table, which a
		 * reload retires while a hook may still read the gate. */
		if (lr_gate_open(fresh ? fresh->table : NULL))
			fresh->table->release = NULL;
		return;
	}
	/* Publish, then flip: callers counted under the old parity may hold the
	 * old rules; those after the flip cannot. */
	lr_gate_narrow(fresh->table);
	publish_hint(fresh);
	struct lr_loaded *old = atomic_exchange(&current, fresh);
	lr_gate_open(fresh->table);
	unsigned e = atomic_fetch_add(&epoch, 1);
	retired = old;
	retired_parity = e & 1;
	reclaim();
}

static void discard(void *ctx, void *rules)
{
	(void)ctx;
	lr_loaded_free(rules);
}

static const struct lr_reload_ops reload_ops = {
	.now_ns = now_ns, .build = build, .swap = swap, .discard = discard
};

/* A fork child noticed without pthread_atfork (a handler the host cannot
 * take back, run inside every fork it makes): one page the kernel zeroes in
 * a fork child (MADV_WIPEONFORK, Linux 4.14). A page of our own .bss, which
 * ld.so maps anonymous and private as the advice needs: no mapping of its
 * own to make. Advised by the first hook to start (start_slow), before any
 * thread claims the start. */
enum { START_IDLE, START_RUNNING, START_WAITED, START_DONE };
static struct {
	/* 1 once load_first is done; 0 again in a fork child. After load_first
	 * written only by the hook that finds it wiped, in the child's one
	 * thread. */
	volatile uint8_t mark;
	/* START_*: who loads the rules, and whether anyone waits for it;
	 * START_IDLE again in a fork child, which loads them itself if the
	 * fork came while another thread was loading. */
	atomic_int start;
	uint8_t rest[4096 - 2 * sizeof(int)];
} fork_page LR_ZERO_PAGES __attribute__((aligned(4096)));
_Static_assert(sizeof(fork_page) == 4096, "the fork page is one page");
/* &fork_page.mark once advised; NULL where the kernel cannot wipe it: then
 * pthread_once and pthread_atfork after all. */
static volatile uint8_t *fork_mark;
/* Whether the fork page is advised: 0 not yet, 1 it is, -1 it cannot be.
 * Written by the first hooks to start (the same answer from each). */
static atomic_int advised;
static pthread_once_t start_once = PTHREAD_ONCE_INIT;

static void after_fork_child(void)
{
	/* Only the forking thread lives on, and it is not inside a hook: no
	 * call holds a table, and no reload is under way. */
	atomic_store(&active[0], 0);
	atomic_store(&active[1], 0);
	atomic_flag_clear(&reloading);
	lr_tally_reset(); /* its exit summary counts its own calls */
}

static void load_first(void)
{
	in_start = 1;
	lr_log_capture_stderr();
	lr_sink_stderr(&error_sink);
	const char *argv0 = program_invocation_short_name;
	const char *name = argv0 && argv0[0] ? argv0 : exe_of();
	copy_name(program, name ? name : "");
	if (!lr_env_complete() || lr_sources_find(&sources, lr_env_get) != 0) {
		lr_log_message(&error_sink, "out of memory at start-up; rules not applied");
		lr_sources_free(&sources);
	}
	lr_keep_capture();
	lr_caller_init(program);
	lr_reload_init(&lr_state_reload, sources.config_path, &error_sink, &reload_ops, NULL);
	lr_reload_run(&lr_state_reload);
	if (atomic_load(&advised) > 0) {
		fork_mark = &fork_page.mark;
		fork_mark[0] = 1;
	} else {
		pthread_atfork(NULL, NULL, after_fork_child);
	}
	atomic_store(&lr_state_started, true);
	in_start = 0;
}

static void futex(atomic_int *addr, int op, int val)
{
	syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

/* The start's once: pthread_once's, but for its end, which in glibc wakes
 * waiters with a system call whether there are any or not (one of each
 * process's first socket call). Its state is on the fork page: in a fork
 * child of a process still loading it is idle again, and the child loads
 * the rules itself, as pthread_once would (see forkstress). */
static void __attribute__((noinline)) start_slow(void)
{
	int a = atomic_load(&advised);
	if (!a) {
		a = syscall(SYS_madvise, &fork_page, sizeof(fork_page), MADV_WIPEONFORK) == 0 ? 1 : -1;
		atomic_store(&advised, a);
	}
	if (a < 0) {
		pthread_once(&start_once, load_first);
		return;
	}
	/* Claimed before it is read: the page's first touch is then a write,
	 * one fault, where a read would map the zero page and the write
	 * after it fault again. A failed claim reads what the start is. */
	for (int s = START_IDLE;; s = atomic_load(&fork_page.start)) {
		if (s == START_DONE)
			return;
		if (s == START_IDLE) {
			if (!atomic_compare_exchange_strong(&fork_page.start, &s, START_RUNNING))
				continue;
			load_first();
			if (atomic_exchange(&fork_page.start, START_DONE) == START_WAITED)
				futex(&fork_page.start, FUTEX_WAKE_PRIVATE, INT_MAX);
			return;
		}
		/* Another thread is loading: wait for it, saying so. */
		if (s == START_RUNNING &&
		    !atomic_compare_exchange_strong(&fork_page.start, &s, START_WAITED))
			continue;
		futex(&fork_page.start, FUTEX_WAIT_PRIVATE, START_WAITED);
	}
}

/* Only until the rules were loaded: afterwards every hook pays one load
 * instead of a call. */
static inline void start(void)
{
	if (!atomic_load_explicit(&lr_state_started, memory_order_acquire))
		start_slow();
}

int lr_state_start_at(int fd)
{
	int saved = errno;
	if (!in_start)
		start();
	errno = saved;
	return fd;
}

/* The look a hook claimed: skipped while the rules a previous reload
 * retired are still held (the next second's look tries again). */
static void maybe_reload(void)
{
	if (atomic_flag_test_and_set(&reloading))
		return;
	in_start = 1;
	if (reclaim())
		lr_reload_run(&lr_state_reload);
	in_start = 0;
	atomic_flag_clear(&reloading);
}

/* Counts the caller in the current epoch and returns the rules in force (or
 * NULL, uncounted, when there are none). */
/* In a fork child, before its first call counts itself: the counters and
 * flags as a fresh process has them. */
static inline __attribute__((always_inline)) void note_fork(void)
{
	if (fork_mark && __builtin_expect(!fork_mark[0], 0)) {
		after_fork_child();
		fork_mark[0] = 1;
	}
}

static inline __attribute__((always_inline)) struct lr_loaded *hold(struct lr_guard *g)
{
	/* No rules in force (the usual case of a system-wide install): nothing
	 * to hold, so no shared counter to touch. */
	if (!atomic_load_explicit(&current, memory_order_relaxed))
		return NULL;
	for (;;) {
		unsigned e = atomic_load(&epoch);
		atomic_fetch_add(&active[e & 1], 1);
		if (atomic_load(&epoch) == e) {
			g->parity = e & 1;
			break;
		}
		atomic_fetch_sub(&active[e & 1], 1);
	}
	struct lr_loaded *l = atomic_load(&current);
	if (!l)
		lr_state_leave(g);
	return l;
}

struct lr_loaded *lr_state_enter(struct lr_guard *g)
{
	if (in_start)
		return NULL;
	start();
	note_fork();
	if (lr_state_check_due() && lr_reload_claim(&lr_state_reload))
		maybe_reload();
	return hold(g);
}

struct lr_loaded *lr_state_peek(struct lr_guard *g)
{
	if (in_start || !atomic_load(&lr_state_started))
		return NULL;
	note_fork();
	return hold(g);
}

void lr_state_leave(struct lr_guard *g)
{
	atomic_fetch_sub(&active[g->parity], 1);
}

#ifdef __GLIBC__
/* glibc calls ELF constructors with (argc, argv, envp): envp is the
 * environment the process started with, even if a dependency's constructor
 * has changed `environ` since. musl passes nothing; there `environ` is still
 * the initial one (the program's own code has not run). */
__attribute__((constructor)) static void lr_state_constructor(int argc, char **argv, char **envp)
{
	(void)argc;
	(void)argv;
#else
__attribute__((constructor)) static void lr_state_constructor(void)
{
	char **envp = NULL;
#endif
	/* In a process of another libc (libc.c's constructor, which runs
	 * first, has said so) the arguments are not glibc's: envp would be
	 * whatever a register held. Every hook passes through there anyway. */
	if (lr_libc_foreign)
		return;
	/* Only this: the environment and the host's stderr as they are now,
	 * before the program changes its environment or a daemon closes or
	 * replaces fd 2. Rules wait for the first IP socket call. */
	lr_env_capture(envp);
	lr_log_capture_stderr();
	lr_keep_capture();
	/* Another library preloaded after this one may hook exec too. The
	 * exec hooks reach it only through the real functions, which they may
	 * not look up themselves (between vfork and exec): until some other
	 * hook has, they make the system calls, past it. Looked up now, in
	 * such a process only: one preloaded alone, or after the others (as
	 * valgrind's own are), pays nothing here. */
	if (lr_env_preloads_after_self())
		lr_real_resolve();
}

#include "state.h"

#include "caller.h"
#include "environ.h"
#include "fetch.h"
#include "fileid.h"
#include "tablecache.h"
#include "fmt.h"
#include "gate.h"
#include "keep.h"
#include "tally.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char *program_invocation_short_name;

/* Set on the thread that is loading rules, so that anything libreuse's own
 * start-up does through the hooks (syslog's socket, a log file) passes
 * straight through instead of recursing into pthread_once. */
static __thread int in_start __attribute__((tls_model("initial-exec")));

/* Written once by load_first under start_once, read-only afterwards. */
static pthread_once_t start_once = PTHREAD_ONCE_INIT;
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
static struct lr_file_id attempted; /* the rule file as last read, good or bad */
/* Set with every publication of `current`; read by any hook. */
atomic_bool lr_state_calls_logged;

static void publish_hint(const struct lr_loaded *l)
{
	atomic_store_explicit(&lr_state_calls_logged, l && l->table->log.level >= LR_LOG_ALL,
			      memory_order_relaxed);
}

/* When the rule file is next looked at: claimed by the hook that finds it
 * due (compare-and-swap in lr_state_enter), read by any hook. */
atomic_llong lr_state_next_check_ns;
/* Set by load_first when it is done; a process that never opened an IP
 * socket has no rules to report on. Read by the socket() hook. */
atomic_bool lr_state_started;


/* Written once by load_first under start_once, read-only afterwards. */
static struct lr_sources sources;

/* A name cut at NAME_MAX: copied, not formatted (see tablecache.c). */
static void copy_name(char out[NAME_MAX + 1], const char *s)
{
	size_t n = strnlen(s, NAME_MAX);
	memcpy(out, s, n);
	out[n] = '\0';
}

/* The basename of /proc/self/exe, read at most once, and only when a table
 * has rules naming a program or argv[0] is empty: called by load_first
 * (under start_once) or by the thread holding `reloading`, never both. */
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

static struct lr_loaded *build(const struct lr_file_id *config)
{
	return lr_fetch(&sources, config, exe_of, program, &error_sink);
}

/* A fork child noticed without pthread_atfork (a handler the host cannot
 * take back, run inside every fork it makes): one page the kernel zeroes in
 * a fork child (MADV_WIPEONFORK, Linux 4.14). A page of our own .bss, which
 * ld.so maps anonymous and private as the advice needs: no mapping of its
 * own to make. Set by load_first; after that written only by the hook that
 * finds it wiped, in the child's one thread. NULL where the kernel cannot
 * wipe it: then pthread_atfork after all. */
static uint8_t fork_page[4096] __attribute__((aligned(4096)));
static volatile uint8_t *fork_mark;

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
	attempted = lr_file_id_of(sources.config_path);
	struct lr_loaded *first = build(&attempted);
	publish_hint(first);
	atomic_store(&current, first);
	lr_gate_open(first ? first->table : NULL);
	atomic_store(&lr_state_next_check_ns, lr_state_now_ns() + LR_RELOAD_INTERVAL_NS);
	if (madvise(fork_page, sizeof(fork_page), MADV_WIPEONFORK) == 0) {
		fork_mark = fork_page;
		fork_mark[0] = 1;
	} else {
		pthread_atfork(NULL, NULL, after_fork_child);
	}
	atomic_store(&lr_state_started, true);
	in_start = 0;
}

/* pthread_once only until the rules were loaded: afterwards every hook pays
 * one load instead of a call. In a fork child of a process still loading,
 * `started` is false and pthread_once sees to the load (see forkstress). */
static inline void start(void)
{
	if (!atomic_load_explicit(&lr_state_started, memory_order_acquire))
		pthread_once(&start_once, load_first);
}

int lr_state_start_at(int fd)
{
	int saved = errno;
	if (!in_start)
		start();
	errno = saved;
	return fd;
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

static void maybe_reload(void)
{
	if (atomic_flag_test_and_set(&reloading))
		return;
	in_start = 1;
	struct lr_file_id id = lr_file_id_of(sources.config_path);
	if (reclaim() && !lr_file_id_equal(&id, &attempted) && !lr_file_being_written(&id)) {
		attempted = id;
		struct lr_loaded *fresh = id.exists ? build(&id) : NULL;
		if (!id.exists)
			lr_log_parts(&error_sink, sources.config_path,
				     ": rule file removed; keeping the rules in force", NULL);
		struct lr_file_id used;
		if (fresh && lr_table_source_id(fresh->table, sources.config_path, &used)) {
			/* The compiler read one version whole (config.c reads a file
			 * rewritten under it again): the one it read is the one in
			 * force, and a newer one is read at the next check. An empty
			 * one may be a write in progress: read it again then. */
			attempted = used;
			if (lr_file_being_written(&used)) {
				lr_loaded_free(fresh);
				fresh = NULL;
				attempted.size = -1; /* matches no file: read again */
			}
		}
		if (fresh) {
			/* Publish, then flip: callers counted under the old parity may
			 * hold the old rules; those after the flip cannot. */
			lr_gate_narrow(fresh->table);
			publish_hint(fresh);
			struct lr_loaded *old = atomic_exchange(&current, fresh);
			lr_gate_open(fresh->table);
			unsigned e = atomic_fetch_add(&epoch, 1);
			retired = old;
			retired_parity = e & 1;
			reclaim();
		}
	}
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
	long long now = lr_state_now_ns();
	long long due = atomic_load_explicit(&lr_state_next_check_ns, memory_order_relaxed);
	if (now >= due && atomic_compare_exchange_strong(&lr_state_next_check_ns, &due,
							 now + LR_RELOAD_INTERVAL_NS))
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
	/* Only this: the environment and the host's stderr as they are now,
	 * before the program changes its environment or a daemon closes or
	 * replaces fd 2. Rules wait for the first IP socket call. */
	lr_env_capture(envp);
	lr_log_capture_stderr();
	lr_keep_capture();
}

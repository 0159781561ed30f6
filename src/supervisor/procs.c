#include "procs.h"

#include "child.h"
#include "fileid.h"
#include "reload.h"
#include "table.h"
#include "tablecache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Processes and programs the supervisor remembers at once; past that the
 * oldest slot is read again when needed. */
#define LR_PROCS 256
#define LR_PROGRAMS 64

/* Both tables are shared by every worker thread, under `lock`. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct lr_proc procs[LR_PROCS];
static unsigned next_slot;
static struct {
	char exe[NAME_MAX + 1], argv0[NAME_MAX + 1];
	struct lr_loaded *loaded;
	bool used;
} programs[LR_PROGRAMS];
/* Set once by lr_procs_init, before the workers start. */
static const struct lr_sources *sources;
static struct lr_sink *errors;
static struct lr_traps installed; /* what the filter traps */

/* The table every program's rules are a view of, compiled again when the
 * rule file changes (src/core/reload.c, as the library does); under `lock`.
 * A replaced table and its views stay allocated: a handler may still be
 * using a copy of a process's rules (struct lr_proc), and nothing counts
 * those. A reload costs one table. */
static void *image;
static size_t image_len;
static unsigned generation;
/* Set up by lr_procs_init; claimed and run under `lock`. */
static struct lr_reload reload;

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The calls the rules of an image can touch (none without one). */
static void traps_of_image(const void *img, size_t len, struct lr_traps *t)
{
	struct lr_table view;
	const char *why;
	memset(t, 0, sizeof(*t));
	if (img && lr_table_open(&view, img, len, NULL, NULL, NULL, &why) == 0) {
		lr_traps_of(&view, t);
		lr_table_close(&view);
	}
}

/* New rules that need a call the filter does not trap: a filter cannot be
 * widened once installed, so those rules wait for the next run. Said at
 * each such reload. */
static void say_untrapped(const void *img, size_t len)
{
	struct lr_traps want;
	traps_of_image(img, len, &want);
	const char *what = want.connect && !installed.connect ? "connect"
			   : want.listen && !installed.listen ? "listen"
			   : want.shutdown && !installed.shutdown ? "shutdown"
			   : want.send && !installed.send ? "sendto/sendmsg/sendmmsg"
								  : NULL;
	if (what) {
		char msg[PATH_MAX + 320];
		snprintf(msg, sizeof(msg),
			 "%s: reloaded, but the filter installed at start traps no %s (the first rules "
			 "needed none, and a filter cannot be widened): rules that need it take effect "
			 "at the next libreuse run",
			 sources->config_path, what);
		lr_log_message(errors, msg);
	}
}

/* A compiled image, between build and swap. */
struct built {
	void *image;
	size_t len;
};

/* The rule file as the compiler read it, recorded in the image. */
static void image_source_id(const struct built *b, struct lr_file_id *read)
{
	struct lr_table view;
	const char *why;
	if (lr_table_open(&view, b->image, b->len, NULL, NULL, NULL, &why) == 0) {
		lr_table_source_id(&view, sources->config_path, read);
		lr_table_close(&view);
	}
}

static void *build(void *ctx, const struct lr_file_id *id, struct lr_file_id *read)
{
	(void)ctx;
	(void)id; /* the compiler reads the file itself, and records what it read */
	char msg[1536];
	struct built *b = calloc(1, sizeof(*b));
	if (!b) {
		lr_log_message(errors, "out of memory while loading the rules; rules not applied");
		return NULL;
	}
	enum lr_make_result r = lr_table_make(sources, &b->image, &b->len, msg, sizeof(msg));
	if (r == LR_MAKE_ERROR || (r == LR_MAKE_NOTHING && msg[0]))
		lr_log_message(errors, msg);
	if (r != LR_MAKE_OK) {
		free(b->image);
		free(b);
		return NULL;
	}
	image_source_id(b, read);
	return b;
}

static void swap(void *ctx, void *fresh, bool first)
{
	(void)ctx;
	struct built *b = fresh;
	if (!first)
		say_untrapped(b->image, b->len);
	image = b ? b->image : NULL;
	image_len = b ? b->len : 0;
	free(b);
	generation++;
	memset(programs, 0, sizeof(programs));
}

static void discard(void *ctx, void *fresh)
{
	(void)ctx;
	struct built *b = fresh;
	free(b->image);
	free(b);
}

static const struct lr_reload_ops reload_ops = {
	.now_ns = now_ns, .build = build, .swap = swap, .discard = discard
};

/* Under `lock`: the first rules, then a look at the rule file at most once
 * an interval. */
static void reload_locked(void)
{
	if (lr_reload_claim(&reload))
		lr_reload_run(&reload);
}

void lr_procs_init(const struct lr_sources *src, struct lr_sink *err, struct lr_traps *traps)
{
	sources = src;
	errors = err;
	lr_reload_init(&reload, src->config_path, err, &reload_ops, NULL);
	pthread_mutex_lock(&lock);
	reload_locked();
	traps_of_image(image, image_len, &installed);
	pthread_mutex_unlock(&lock);
	*traps = installed;
}

static const char *base(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

int lr_proc_creds(pid_t tgid, uid_t *euid, uint64_t *capeff)
{
	char buf[4096];
	if (lr_child_read(tgid, "status", buf, sizeof(buf)) < 0)
		return -1;
	const char *uid = strstr(buf, "\nUid:");
	const char *cap = strstr(buf, "\nCapEff:");
	unsigned long real = 0, eff = 0;
	if (!uid || sscanf(uid + 5, "%lu %lu", &real, &eff) != 2)
		return -1;
	*euid = (uid_t)eff;
	*capeff = cap ? strtoull(cap + 8, NULL, 16) : 0;
	return 0;
}

static int read_names(pid_t tgid, struct lr_proc *p)
{
	char path[64], buf[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)tgid);
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	p->exe[0] = '\0';
	if (n > 0) {
		buf[n] = '\0';
		snprintf(p->exe, sizeof(p->exe), "%.*s", NAME_MAX, base(buf));
	}
	if (lr_child_read(tgid, "cmdline", buf, sizeof(buf)) > 0 && buf[0])
		snprintf(p->argv0, sizeof(p->argv0), "%.*s", NAME_MAX, base(buf));
	else
		snprintf(p->argv0, sizeof(p->argv0), "%s", p->exe);
	return p->exe[0] || p->argv0[0] ? 0 : -1;
}

/* Under `lock`: the view of the table for one program. */
static struct lr_loaded *open_for(const char *exe, const char *argv0)
{
	if (!image)
		return NULL;
	const char *why = "out of memory";
	struct lr_table *t = malloc(sizeof(*t));
	if (!t || lr_table_open(t, image, image_len, exe[0] ? exe : NULL, argv0, NULL, &why) != 0) {
		lr_log_parts(errors, sources->config_path, ": its compiled table is refused: ", why);
		free(t);
		return NULL;
	}
	return lr_loaded_of(t, errors);
}

/* Under `lock`. One view per program and table, kept while that table is. */
static struct lr_loaded *rules_locked(const char *exe, const char *argv0)
{
	reload_locked();
	for (int i = 0; i < LR_PROGRAMS && programs[i].used; i++)
		if (strcmp(programs[i].exe, exe) == 0 && strcmp(programs[i].argv0, argv0) == 0)
			return programs[i].loaded;
	struct lr_loaded *l = open_for(exe, argv0);
	for (int i = 0; i < LR_PROGRAMS; i++) {
		if (!programs[i].used) {
			programs[i].used = true;
			snprintf(programs[i].exe, sizeof(programs[i].exe), "%s", exe);
			snprintf(programs[i].argv0, sizeof(programs[i].argv0), "%s", argv0);
			programs[i].loaded = l;
			break;
		}
	}
	/* More than LR_PROGRAMS distinct programs: this one's table is not
	 * remembered, and lives on (a leak bounded by the calls that need it). */
	return l;
}

struct lr_loaded *lr_procs_rules_for(const char *exe, const char *argv0)
{
	pthread_mutex_lock(&lock);
	struct lr_loaded *l = rules_locked(exe, argv0);
	pthread_mutex_unlock(&lock);
	return l;
}

unsigned long lr_procs_dropped(void)
{
	unsigned long n = 0;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < LR_PROGRAMS && programs[i].used; i++)
		if (programs[i].loaded)
			n += atomic_load(&programs[i].loaded->sink.dropped);
	pthread_mutex_unlock(&lock);
	return n;
}

int lr_proc_get(pid_t tgid, struct lr_proc *out)
{
	pthread_mutex_lock(&lock);
	struct lr_proc *p = NULL;
	for (int i = 0; i < LR_PROCS; i++)
		if (procs[i].tgid == tgid) {
			p = &procs[i];
			break;
		}
	int r = 0;
	reload_locked();
	if (p && p->gen != generation) {
		p->loaded = rules_locked(p->exe, p->argv0);
		p->gen = generation;
	}
	if (!p) {
		p = &procs[next_slot++ % LR_PROCS];
		memset(p, 0, sizeof(*p));
		if (read_names(tgid, p) != 0 || lr_proc_creds(tgid, &p->euid, &p->capeff) != 0) {
			p->tgid = 0;
			r = -1;
		} else {
			p->tgid = tgid;
			p->loaded = rules_locked(p->exe, p->argv0);
			p->gen = generation;
		}
	}
	if (r == 0)
		*out = *p;
	pthread_mutex_unlock(&lock);
	return r;
}

bool lr_proc_first(pid_t tgid, unsigned bit)
{
	bool first = false;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < LR_PROCS; i++)
		if (procs[i].tgid == tgid) {
			first = !(procs[i].said & bit);
			procs[i].said |= bit;
			break;
		}
	pthread_mutex_unlock(&lock);
	return first;
}

void lr_proc_forget(pid_t tgid)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < LR_PROCS; i++)
		if (procs[i].tgid == tgid)
			procs[i].tgid = 0;
	pthread_mutex_unlock(&lock);
}

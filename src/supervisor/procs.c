#include "procs.h"

#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

void lr_procs_init(const struct lr_sources *src, struct lr_sink *err)
{
	sources = src;
	errors = err;
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

/* Under `lock`. Compiled once per program, kept for the supervisor's life. */
static struct lr_loaded *rules_locked(const char *exe, const char *argv0)
{
	for (int i = 0; i < LR_PROGRAMS && programs[i].used; i++)
		if (strcmp(programs[i].exe, exe) == 0 && strcmp(programs[i].argv0, argv0) == 0)
			return programs[i].loaded;
	struct lr_loaded *l = lr_load(sources, exe, argv0, errors);
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
	if (!p) {
		p = &procs[next_slot++ % LR_PROCS];
		memset(p, 0, sizeof(*p));
		if (read_names(tgid, p) != 0 || lr_proc_creds(tgid, &p->euid, &p->capeff) != 0) {
			p->tgid = 0;
			r = -1;
		} else {
			p->tgid = tgid;
			p->loaded = rules_locked(p->exe, p->argv0);
		}
	}
	if (r == 0)
		*out = *p;
	pthread_mutex_unlock(&lock);
	return r;
}

void lr_proc_forget(pid_t tgid)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < LR_PROCS; i++)
		if (procs[i].tgid == tgid)
			procs[i].tgid = 0;
	pthread_mutex_unlock(&lock);
}

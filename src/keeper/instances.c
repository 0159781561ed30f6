/* The keeper's instances: the table of them, starting and signalling one,
 * and the processes that make up each (the one the keeper started, and
 * those a daemon forked off, claimed as orphans or by their requests). */
#include "state.h"

#include "child.h"
#include "exec.h"
#include "keepwire.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

bool lr_inst_alive(const struct instance *in)
{
	if (in->running)
		return true;
	for (int j = 0; j < in->nextra; j++)
		if (in->extra_fd[j] >= 0)
			return true;
	return false;
}

struct instance *lr_inst_by_state(struct keeper *k, enum state s)
{
	for (int i = 0; i < LR_INSTANCES; i++)
		if (k->inst[i].state == s)
			return &k->inst[i];
	return NULL;
}

struct instance *lr_inst_by_gen(struct keeper *k, unsigned gen)
{
	for (int i = 0; i < LR_INSTANCES; i++)
		if (k->inst[i].state != I_FREE && k->inst[i].gen == gen)
			return &k->inst[i];
	return NULL;
}

/* The instance's main process if it runs, else the processes it forked off
 * that spoke to the keeper (a daemon that went into the background). */
void lr_inst_signal(const struct instance *in, int sig)
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
void lr_inst_kill(struct instance *in)
{
	if (in->running)
		kill(-in->pid, SIGKILL), kill(in->pid, SIGKILL);
	for (int j = 0; j < in->nextra; j++)
		if (in->extra_fd[j] >= 0)
			syscall(SYS_pidfd_send_signal, in->extra_fd[j], SIGKILL, NULL, 0);
	in->killed = true;
}

void lr_inst_stop(struct keeper *k, struct instance *in, int sig)
{
	in->state = I_STOPPING;
	in->stop_ms = lr_keeper_now_ms();
	in->deadline_ms = in->stop_ms + k->o->stop_timeout_ms;
	lr_inst_signal(in, sig);
}

/* Which generation serves, on the board its instances read. */
void lr_inst_set_serving(struct keeper *k, unsigned gen)
{
	if (k->board)
		atomic_store_explicit(k->board, gen, memory_order_release);
}

struct instance *lr_inst_start(struct keeper *k, enum state s)
{
	struct instance *in = lr_inst_by_state(k, I_FREE);
	if (!in) {
		lr_keeper_say("too many instances still stopping: not starting another");
		return NULL;
	}
	unsigned gen = ++k->last_gen;
	char g[16];
	snprintf(g, sizeof(g), "%u", gen);
	setenv(LR_KEEPER_GEN_ENV, g, 1);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		lr_keeper_say("cannot start %s: %s", k->o->argv[0], strerror(errno));
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
		lr_inst_set_serving(k, gen); /* the first, or one started again */
	in->state = s;
	in->gen = gen;
	in->pid = pid;
	in->running = true;
	in->started_ms = lr_keeper_now_ms();
	in->deadline_ms = s == I_STARTING ? in->started_ms + k->o->ready_timeout_ms : 0;
	return in;
}

void lr_inst_add_extra(struct instance *in, pid_t pid, int pidfd)
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

bool lr_inst_known(const struct keeper *k, pid_t pid)
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

/* A process the keeper started and has not reaped: its pid cannot have
 * been reused, so it needs no walk up /proc. */
bool lr_inst_started_by_us(const struct keeper *k, pid_t pid)
{
	for (int i = 0; i < LR_INSTANCES; i++)
		if (k->inst[i].state != I_FREE && k->inst[i].running && k->inst[i].pid == pid)
			return true;
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
void lr_inst_claim_orphans(struct keeper *k)
{
	k->unsettled = false;
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 1 || lr_inst_known(k, (pid_t)pid) || lr_proc_parent((pid_t)pid) != k->self)
			continue;
		long gen = gen_of((pid_t)pid);
		struct instance *in = gen > 0 ? lr_inst_by_gen(k, (unsigned)gen) : NULL;
		if (in)
			lr_inst_add_extra(in, (pid_t)pid, -1);
		else if (gen < 0)
			k->unsettled = true;
	}
	closedir(d);
}

void lr_inst_reap(struct keeper *k)
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
		lr_inst_claim_orphans(k);
}

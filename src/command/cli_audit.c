/* `libreuse audit`: a program's trail turned into a report (and, with
 * --propose, into rules and units). The trail is JSON lines: from a run it
 * starts itself (`audit -- CMD`, through `libreuse run --log all --json`),
 * from files or standard input, or from the journal. */
#include "cli.h"

#include "audit_model.h"
#include "audit_propose.h"
#include "audit_report.h"
#include "audit_unseen.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
	"usage: libreuse audit [--json] [--propose DIR] [--for DURATION] [--save FILE]\n"
	"                      [--host | --no-kernel] -- CMD [ARG...]\n"
	"       libreuse audit [--json] [--propose DIR] [--host | --no-kernel] FILE... | -\n"
	"       libreuse audit [--json] [--propose DIR] [--no-kernel] --journal [--since TIME]\n"
	"\n"
	"Reports, program by program, what a program listens on and connects to, which\n"
	"reuse options it sets and which libreuse injected, what the rules did, what\n"
	"failed (with the holder and Linux's reason), and whether it can restart at\n"
	"once, share its ports, and restart without losing connections.\n"
	"  -- CMD [ARG...]   run CMD audited (everything, JSON, to a private file)\n"
	"                    until it exits, Ctrl-C, or --for ends; then report\n"
	"  FILE... | -       report on JSON logs (any number of processes and runs);\n"
	"                    lines that are not libreuse JSON are counted and skipped\n"
	"  --journal         report on what libreuse logged to the journal\n"
	"  --since TIME      with --journal: journalctl's --since\n"
	"  --for DURATION    stop CMD (SIGTERM) after DURATION: 30, 30s, 500ms, 5m, 1h\n"
	"  --save FILE       keep CMD's trail in FILE\n"
	"  --json            one JSON document (schema in libreuse(7)); CMD's standard\n"
	"                    output then goes to standard error\n"
	"  --propose DIR     write, per program, a rule file and systemd units that\n"
	"                    make it restart with nothing lost, each line citing its\n"
	"                    evidence\n"
	"  --host            compare with every listener of this host, not only those\n"
	"                    on the audited programs' ports (the default with --journal)\n"
	"  --no-kernel       do not compare with the kernel's sockets now\n"
	"Exit status: 0 after a report; 1 when no trail could be read or the proposal\n"
	"could not be written; 2 for a usage error.\n";

/* Set by the signal handlers of an audited run, read by its wait loop. */
static volatile sig_atomic_t got_signal, deadline_passed;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void on_alarm(int sig)
{
	(void)sig;
	deadline_passed = 1;
}

/* "30", "30s", "500ms", "5m", "1h" in milliseconds; -1 if not one. */
static long parse_duration(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	double ms;
	if (!*end || strcmp(end, "s") == 0)
		ms = v * 1000;
	else if (strcmp(end, "ms") == 0)
		ms = v;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		ms = v * 60000;
	else if (strcmp(end, "h") == 0)
		ms = v * 3600000;
	else
		return -1;
	return ms >= 1 && ms < 86400000.0 * 30 ? (long)ms : -1;
}

static void read_stream(struct au_model *m, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) >= 0) {
		if (len && line[len - 1] == '\n')
			len--;
		au_model_line(m, line, (size_t)len);
	}
	free(line);
}

static bool read_file(struct au_model *m, const char *path)
{
	if (strcmp(path, "-") == 0) {
		read_stream(m, stdin);
		m->sources++;
		return true;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		lr_cli_error("%s: %s", path, strerror(errno));
		return false;
	}
	read_stream(m, f);
	fclose(f);
	m->sources++;
	return true;
}

/* The processes still running that CMD started: those whose environment
 * names this audit's trail (`run` puts it in LIBREUSE_RULES, and children
 * inherit it), a mark no other process carries. Returns how many were put
 * in pids. */
static size_t audited_left(const char *trail, pid_t *pids, size_t max)
{
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	size_t n = 0, tl = strlen(trail);
	/* A scratch buffer (not state): too big for the stack, and the
	 * command has one thread. */
	static char env[1 << 16];
	struct dirent *e;
	while (n < max && (e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == getpid())
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t len = read(fd, env, sizeof(env));
		close(fd);
		/* A zombie has no environment left: it is no longer running. */
		if (len > 0 && memmem(env, (size_t)len, trail, tl))
			pids[n++] = (pid_t)pid;
	}
	closedir(d);
	return n;
}

/* argv for `libreuse run --log all --json --log-file TRAIL -- CMD...`;
 * NULL when out of memory. The caller frees the array (not its strings). */
static char **audited_argv(char **cmd, const char *trail)
{
	size_t argc = 0;
	while (cmd[argc])
		argc++;
	char **argv = calloc(argc + 9, sizeof(*argv));
	if (!argv)
		return NULL;
	size_t a = 0;
	argv[a++] = "libreuse";
	argv[a++] = "run";
	argv[a++] = "--log";
	argv[a++] = "all";
	argv[a++] = "--json";
	argv[a++] = "--log-file";
	argv[a++] = (char *)trail;
	argv[a++] = "--";
	for (size_t i = 0; i < argc; i++)
		argv[a++] = cmd[i];
	return argv;
}

/* The signals an audited run catches: the three that stop it, passed on to
 * CMD, and the alarm of the --for deadline. */
static const int caught[4] = { SIGINT, SIGTERM, SIGHUP, SIGALRM };

static void catch_signals(struct sigaction old[4])
{
	struct sigaction sa = { .sa_handler = on_signal }, al = { .sa_handler = on_alarm };
	sigemptyset(&sa.sa_mask);
	sigemptyset(&al.sa_mask);
	/* No SA_RESTART: a signal must wake the waits of the run. */
	for (int i = 0; i < 4; i++)
		sigaction(caught[i], caught[i] == SIGALRM ? &al : &sa, &old[i]);
}

static void restore_signals(const struct sigaction old[4])
{
	for (int i = 0; i < 4; i++)
		sigaction(caught[i], &old[i], NULL);
}

/* Forks the run, in a process group of its own; its pid, or -1 after
 * saying why. */
static pid_t start_audited(const char *self, char **argv, bool json_out)
{
	pid_t child = fork();
	if (child < 0) {
		lr_cli_error("fork: %s", strerror(errno));
		return -1;
	}
	if (child == 0) {
		setpgid(0, 0);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		signal(SIGTTOU, SIG_DFL);
		/* The document alone on standard output: CMD's goes to stderr. */
		if (json_out)
			dup2(STDERR_FILENO, STDOUT_FILENO);
		execv(self, argv);
		fprintf(stderr, "libreuse: %s: %s\n", self, strerror(errno));
		_exit(127);
	}
	setpgid(child, child); /* both sides: whichever runs first */
	return child;
}

/* On a terminal CMD's group becomes the foreground one: it reads the
 * terminal as it would without the audit, and Ctrl-C reaches it directly.
 * Returns whether it did (give_terminal_back then undoes it). */
static bool lend_terminal(pid_t child, struct sigaction *old_ttou)
{
	struct sigaction ign = { .sa_handler = SIG_IGN };
	sigemptyset(&ign.sa_mask);
	bool tty = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
	if (tty) {
		sigaction(SIGTTOU, &ign, old_ttou);
		tcsetpgrp(STDIN_FILENO, child);
	}
	return tty;
}

static void give_terminal_back(bool tty, const struct sigaction *old_ttou)
{
	if (tty) {
		tcsetpgrp(STDIN_FILENO, getpgrp());
		sigaction(SIGTTOU, old_ttou, NULL);
	}
}

static void set_alarm(long ms)
{
	struct itimerval it = { .it_value = { ms / 1000, (ms % 1000) * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
}

/* The signal for the next stop: the first signal (or the deadline) is
 * passed on, as SIGTERM for the deadline; what is still there after 5 more
 * seconds (the alarm the caller sets) or a second signal gets SIGKILL. */
static int next_stop(int *stops)
{
	int sig = (*stops)++ ? SIGKILL : deadline_passed ? SIGTERM : got_signal;
	deadline_passed = got_signal = 0;
	return sig;
}

/* Waits for CMD's first process, passing stops on to its group; its wait
 * status. */
static int wait_audited(pid_t child, int *stops)
{
	int status = 0;
	for (;;) {
		pid_t w = waitpid(child, &status, 0);
		if (w == child)
			break;
		if (w < 0 && errno != EINTR)
			break;
		if (!deadline_passed && !got_signal)
			continue;
		kill(-child, next_stop(stops));
		set_alarm(5000);
	}
	return status;
}

/* A daemon forks and its first process exits: what it left running (in
 * another session, out of reach of the group) is audited on until Ctrl-C
 * or --for, then stopped the same way. */
static void wait_left(const char *trail, const char *cmd0, long for_ms, int *stops)
{
	bool said = false;
	for (int empty = 0;;) {
		pid_t left[256];
		size_t n = audited_left(trail, left, 256);
		/* A daemon between its two forks, or a pid read past in /proc's
		 * listing, can be missed once: none left is none, twice. */
		if (!n && ++empty == 2)
			break;
		if (n)
			empty = 0;
		/* Said only when something is left: a CMD that simply exited
		 * has nothing to audit on. */
		if (n && !said && !*stops) {
			fprintf(stderr, "libreuse audit: %s left %zu process%s running (a daemon?); auditing "
					"%s until %s\n", cmd0, n, n == 1 ? "" : "es", n == 1 ? "it" : "them",
				for_ms > 0 ? "--for ends (or Ctrl-C)" : "Ctrl-C");
			said = true;
		}
		if (deadline_passed || got_signal) {
			int sig = next_stop(stops);
			for (size_t i = 0; i < n; i++)
				kill(left[i], sig);
			set_alarm(5000);
		}
		struct timespec nap = { 0, 100 * 1000 * 1000 };
		nanosleep(&nap, NULL); /* a signal cuts it short */
	}
}

/* How CMD's first process ended, when that is news: nothing for a clean
 * exit, a stop the audit passed on (--for, a signal to the audit), or
 * Ctrl-C, which on a terminal reaches CMD's group directly. */
static void say_status(const char *cmd0, int status, int stops)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) >= 126)
		lr_cli_error("%s: could not be run (status %d)", cmd0, WEXITSTATUS(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status))
		fprintf(stderr, "libreuse audit: %s exited with status %d\n", cmd0, WEXITSTATUS(status));
	else if (WIFSIGNALED(status) && !stops && WTERMSIG(status) != SIGINT)
		fprintf(stderr, "libreuse audit: %s was killed by signal %d (%s)\n", cmd0,
			WTERMSIG(status), strsignal(WTERMSIG(status)));
}

/* Runs CMD under `libreuse run --log all --json --log-file TRAIL` in a
 * process group of its own, so that a signal for the audit (Ctrl-C at the
 * terminal, SIGTERM, the --for deadline) reaches CMD and everything it
 * forked. Returns 0 once CMD exited, -1 if it could not be started. */
static int run_audited(char **cmd, const char *trail, long for_ms, bool json_out)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		lr_cli_error("cannot find the libreuse command itself: %s", strerror(errno));
		return -1;
	}
	self[n] = '\0';
	char **argv = audited_argv(cmd, trail);
	if (!argv)
		return -1;
	struct sigaction old[4], old_ttou;
	catch_signals(old);
	pid_t child = start_audited(self, argv, json_out);
	free(argv);
	if (child < 0) {
		restore_signals(old);
		return -1;
	}
	bool tty = lend_terminal(child, &old_ttou);
	if (for_ms > 0)
		set_alarm(for_ms);
	int stops = 0, status = wait_audited(child, &stops);
	give_terminal_back(tty, &old_ttou);
	wait_left(trail, cmd[0], for_ms, &stops);
	set_alarm(0);
	restore_signals(old);
	say_status(cmd[0], status, stops);
	return 0;
}

/* The journal's entries of libreuse, through journalctl (its JSON export):
 * each carries the log line whole in LIBREUSE_JSON, and the program's path
 * in the trusted _EXE. */
static bool read_journal(struct au_model *m, const char *since)
{
	char cmdline[512] = "journalctl --no-pager -q -o json SYSLOG_IDENTIFIER=libreuse";
	if (since) {
		if (strchr(since, '\'')) {
			lr_cli_error("--since %s: not a time", since);
			return false;
		}
		size_t used = strlen(cmdline);
		snprintf(cmdline + used, sizeof(cmdline) - used, " --since '%s'", since);
	}
	FILE *f = popen(cmdline, "r");
	if (!f) {
		lr_cli_error("journalctl: %s", strerror(errno));
		return false;
	}
	read_stream(m, f);
	int st = pclose(f);
	if (st != 0 && m->lines == 0) {
		lr_cli_error("journalctl failed (status %d): is the journal readable here?",
			     WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return false;
	}
	m->sources++;
	return true;
}

/* CMD as execvp would find it on PATH; left empty when it is not found. */
static void command_path(const char *cmd, char *out, size_t n)
{
	if (strchr(cmd, '/')) {
		snprintf(out, n, "%s", cmd);
		return;
	}
	const char *path = getenv("PATH");
	for (const char *d = path ? path : "/usr/bin:/bin"; *d;) {
		size_t len = strcspn(d, ":");
		char full[PATH_MAX];
		int w = snprintf(full, sizeof(full), "%.*s/%s", (int)len, len ? d : ".", cmd);
		if (w > 0 && (size_t)w < n && access(full, X_OK) == 0) {
			snprintf(out, n, "%.*s", (int)(n - 1), full);
			return;
		}
		d += len + (d[len] == ':');
	}
}

enum { OPT_JSON = 256, OPT_PROPOSE, OPT_FOR, OPT_SAVE, OPT_NO_KERNEL, OPT_JOURNAL, OPT_SINCE, OPT_HOST };

static const struct option longopts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "propose", required_argument, NULL, OPT_PROPOSE },
	{ "for", required_argument, NULL, OPT_FOR },
	{ "save", required_argument, NULL, OPT_SAVE },
	{ "no-kernel", no_argument, NULL, OPT_NO_KERNEL },
	{ "host", no_argument, NULL, OPT_HOST },
	{ "journal", no_argument, NULL, OPT_JOURNAL },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* What the command line asks for. */
struct audit_opts {
	bool json, no_kernel, journal, host;
	bool run;     /* `-- CMD`: args is CMD's argv */
	const char *propose, *save, *since;
	long for_ms;
	char **args;  /* CMD, or the FILEs (NULL-terminated, as argv is) */
	int nargs;
};

/* Reads the options into o; -1 to go on, or the exit status. */
static int parse_options(int argc, char **argv, struct audit_opts *o)
{
	int c;
	optind = 1;
	/* '+': CMD's own options after "--" (or its name) are not ours. */
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON: o->json = true; break;
		case OPT_PROPOSE: o->propose = optarg; break;
		case OPT_SAVE: o->save = optarg; break;
		case OPT_NO_KERNEL: o->no_kernel = true; break;
		case OPT_HOST: o->host = true; break;
		case OPT_JOURNAL: o->journal = true; break;
		case OPT_SINCE: o->since = optarg; break;
		case OPT_FOR:
			if ((o->for_ms = parse_duration(optarg)) < 0) {
				lr_cli_error("--for %s: not a duration (30, 30s, 500ms, 5m, 1h)", optarg);
				return LR_EXIT_USAGE;
			}
			break;
		case 'h': fputs(usage, stdout); return LR_EXIT_OK;
		default: fputs(usage, stderr); return LR_EXIT_USAGE;
		}
	}
	o->run = optind > 1 && strcmp(argv[optind - 1], "--") == 0;
	o->args = argv + optind;
	o->nargs = argc - optind;
	return -1;
}

/* Whether the options go together; false after saying why. */
static bool usage_ok(const struct audit_opts *o)
{
	if (o->journal ? o->nargs > 0 : o->nargs == 0) {
		fputs(usage, stderr);
		return false;
	}
	if (!o->run && (o->for_ms || o->save)) {
		lr_cli_error("--for and --save go with -- CMD");
		return false;
	}
	if (o->since && !o->journal) {
		lr_cli_error("--since goes with --journal");
		return false;
	}
	return true;
}

/* A fresh private directory for the trail, and the trail's path in it;
 * false after saying why. */
static bool private_trail(bool root, char dir[PATH_MAX], char trail[PATH_MAX])
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, PATH_MAX, "%s/libreuse-audit.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(dir) || (root && chmod(dir, 0711) != 0)) {
		lr_cli_error("%s: %s", dir, strerror(errno));
		return false;
	}
	if ((size_t)snprintf(trail, PATH_MAX, "%.*s/trail.json", PATH_MAX - 16, dir) >= PATH_MAX) {
		lr_cli_error("%s: path too long", dir);
		rmdir(dir);
		return false;
	}
	return true;
}

/* The trail of a run, created empty: --save's FILE, or a private one (dir
 * then names its directory, else dir is ""). False after saying why, with
 * nothing left behind. */
static bool make_trail(const char *save, char dir[PATH_MAX], char trail[PATH_MAX])
{
	/* A daemon run as root often drops to another user before its first
	 * bind, and the library opens the log file then: as root the trail
	 * is writable by all, in a directory others can pass through but not
	 * list (its name is random). */
	bool root = geteuid() == 0;
	if (save)
		snprintf(trail, PATH_MAX, "%s", save);
	else if (!private_trail(root, dir, trail))
		return false;
	/* Appended to by the program: it starts empty, and a program stopped
	 * before its first line still gets its (empty) report. */
	FILE *f = fopen(trail, "w");
	if (!f || (root && fchmod(fileno(f), 0666) != 0)) {
		lr_cli_error("%s: %s", trail, strerror(errno));
		if (f)
			fclose(f);
		if (dir[0])
			rmdir(dir);
		return false;
	}
	fclose(f);
	return true;
}

/* `-- CMD`: runs it audited and reads its trail. -1 when the trail could
 * not be made (the exit status is then LR_EXIT_FAIL), else whether a trail
 * was read. */
static int read_run(struct au_model *m, const struct audit_opts *o)
{
	char dir[PATH_MAX] = "", trail[PATH_MAX];
	if (!make_trail(o->save, dir, trail))
		return -1;
	bool read_any = false;
	if (run_audited(o->args, trail, o->for_ms, o->json) == 0)
		read_any = read_file(m, trail);
	if (dir[0]) {
		unlink(trail);
		rmdir(dir);
	}
	/* The command's path, found the way exec finds it. */
	struct au_prog *p = m->nprogs == 1 ? &m->progs[0] : NULL;
	if (p && !p->path[0])
		command_path(o->args[0], p->path, sizeof(p->path));
	return read_any;
}

/* Compares with the kernel's sockets, reports, and proposes; the exit
 * status. */
static int report(struct au_model *m, const struct audit_opts *o)
{
	if (!o->no_kernel)
		au_unseen_check(m);
	if (!o->no_kernel && (o->host || o->journal))
		au_unseen_check_host(m);
	if (o->json)
		au_report_json(stdout, m);
	else
		au_report_text(stdout, m, isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
	int rc = LR_EXIT_OK;
	if (o->propose) {
		struct au_propose_opts po = { .dir = o->propose };
		if (o->run) {
			po.cmd = o->args;
		}
		if (au_propose(m, &po) != 0)
			rc = LR_EXIT_FAIL;
	}
	fflush(stdout);
	return rc;
}

int lr_cli_audit(int argc, char **argv)
{
	struct audit_opts o = { 0 };
	int rc = parse_options(argc, argv, &o);
	if (rc >= 0)
		return rc;
	if (!usage_ok(&o))
		return LR_EXIT_USAGE;

	struct au_model m;
	au_model_init(&m);
	bool read_any = false;
	if (o.run) {
		int r = read_run(&m, &o);
		if (r < 0) {
			au_model_free(&m);
			return LR_EXIT_FAIL;
		}
		read_any = r;
	} else if (o.journal) {
		read_any = read_journal(&m, o.since);
	} else {
		for (int i = 0; i < o.nargs; i++)
			read_any |= read_file(&m, o.args[i]);
	}
	if (!read_any) {
		au_model_free(&m);
		return LR_EXIT_FAIL;
	}
	rc = report(&m, &o);
	au_model_free(&m);
	return rc;
}

/* libreuse run: exec a command with the shim preloaded, the rule file
 * exported, and quick flags turned into an inline rule set (LIBREUSE_RULES);
 * first warning in plain words when LD_PRELOAD cannot reach the command. */
#include "cachewrite.h"
#include "cli.h"
#include "compile.h"
#include "config.h"
#include "exec.h"
#include "keeper.h"
#include "runenv.h"
#include "supervise.h"
#include "tablecache.h"
#include "tablemake.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef LR_LIBDIR
#define LR_LIBDIR "/usr/local/lib"
#endif
#ifndef LR_LIBDIR32
#define LR_LIBDIR32 "/usr/local/lib32"
#endif
#ifndef LR_LIBDIRMUSL
#define LR_LIBDIRMUSL LR_LIBDIR "/musl"
#endif

static const char usage[] =
	"usage: libreuse run [-c FILE] [--reuseaddr] [--reuseport] [--bind ADDR[:PORT]]\n"
	"                    [--log LEVEL] [--log-file PATH] [--json] [--dry-run]\n"
	"                    [--keep [--respawn] [--restart-signal SIG] [--stop-signal SIG]\n"
	"                     [--ready-timeout SECONDS] [--stop-timeout SECONDS]]\n"
	"                    [--no-io-uring] [--preload | --seccomp] [--argv0 NAME]\n"
	"                    [--] CMD [ARG...]\n"
	"\n"
	"Runs CMD with libreuse preloaded (prepended to any LD_PRELOAD): the library\n"
	"built for its libc and class (glibc x86-64, i386, musl), chosen by its ELF\n"
	"header and interpreter; or, for a static or Go program, under the seccomp\n"
	"supervisor. Every program CMD starts is ruled the same way.\n"
	"  -c, --config FILE     the rule file (checked first; exported as LIBREUSE_CONFIG)\n"
	"  --reuseaddr           set SO_REUSEADDR on every socket CMD binds\n"
	"  --reuseport           set SO_REUSEPORT on every socket CMD binds\n"
	"  --bind ADDR[:PORT]    bind to ADDR (and PORT) whatever CMD asks for\n"
	"  --log LEVEL           off, errors, conflicts, actions or all\n"
	"  --log-file PATH       log to PATH instead of stderr\n"
	"  --json                log JSON lines\n"
	"  --dry-run             decide and log, change nothing\n"
	"  --keep                keep every TCP listener and UDP socket CMD binds to a\n"
	"                        port: run stays CMD's parent and holds them, so a\n"
	"                        restart refuses and resets no connection\n"
	"  --restart-signal SIG  to run: restart CMD (default HUP); others go to CMD\n"
	"  --stop-signal SIG     to the old instance once the new one took its sockets\n"
	"                        (default TERM)\n"
	"  --ready-timeout SECONDS  for a new instance to take every kept socket (30)\n"
	"  --stop-timeout SECONDS   after the stop signal, before SIGKILL (10)\n"
	"  --respawn             start CMD again when it exits by itself\n"
	"  --no-io-uring         make io_uring_setup fail (ENOSYS), so CMD makes the socket\n"
	"                        calls libreuse sees (io_uring = \"refuse\"; the supervisor's)\n"
	"  --preload             use LD_PRELOAD even for a static or Go program\n"
	"  --seccomp             apply the rules from outside CMD, by seccomp user\n"
	"                        notification (what static and Go programs get by default)\n"
	"  --argv0 NAME          run CMD with NAME as its argv[0]\n"
	"Quick flags need no file: they become rules in LIBREUSE_RULES, which come\n"
	"before the file's. Exit status: CMD's own; 126/127 when it cannot be run;\n"
	"1 for a bad rule file; 2 for a usage error.\n";

struct run_opts {
	const char *config;
	bool reuseaddr, reuseport, json, dry_run, keep, no_io_uring;
	const char *bind, *level, *log_file;
};

/* Appends to a fixed buffer; false when it does not fit. */
static bool append(char *buf, size_t n, const char *s)
{
	size_t used = strlen(buf), add = strlen(s);
	if (used + add >= n)
		return false;
	memcpy(buf + used, s, add + 1);
	return true;
}

/* --reuseaddr, --reuseport, --bind: one rule for every bind. */
static int quick_bind_rule(const struct run_opts *o, char *out, size_t n)
{
	char part[PATH_MAX + 128];
	if (!o->reuseaddr && !o->reuseport && !o->bind)
		return 0;
	append(out, n, "rules = ( { match = { op = \"bind\"; };");
	if (o->reuseaddr)
		append(out, n, " reuseaddr = true;");
	if (o->reuseport)
		append(out, n, " reuseport = true;");
	if (o->bind) {
		if (strchr(o->bind, '"') || strchr(o->bind, '\\')) {
			lr_cli_error("--bind %s: not an address", o->bind);
			return -1;
		}
		snprintf(part, sizeof(part), " rewrite = \"%s\";", o->bind);
		append(out, n, part);
	}
	append(out, n, " } );\n");
	return 0;
}

/* --log-file as the target the library opens: absolute, since the program
 * may chdir before its first line. */
static int quick_log_target(const char *file, char *out, size_t n)
{
	char part[PATH_MAX + 128], abs[PATH_MAX];
	if (file[0] == '/') {
		snprintf(abs, sizeof(abs), "%s", file);
	} else {
		char cwd[PATH_MAX / 2];
		if (!getcwd(cwd, sizeof(cwd))) {
			lr_cli_error("--log-file %s: cannot make it absolute", file);
			return -1;
		}
		snprintf(abs, sizeof(abs), "%s/%s", cwd, file);
	}
	if (strchr(abs, '"') || strchr(abs, '\\')) {
		lr_cli_error("--log-file %s: quotes and backslashes are not supported", abs);
		return -1;
	}
	snprintf(part, sizeof(part), " target = \"%s\";", abs);
	if (!append(out, n, part)) {
		lr_cli_error("--log-file: path too long");
		return -1;
	}
	return 0;
}

/* --log, --log-file, --json: the log group. */
static int quick_log(const struct run_opts *o, char *out, size_t n)
{
	char part[64];
	if (!o->level && !o->log_file && !o->json)
		return 0;
	append(out, n, "log = {");
	if (o->level) {
		snprintf(part, sizeof(part), " level = \"%.32s\";", o->level);
		append(out, n, part);
	}
	if (o->log_file && quick_log_target(o->log_file, out, n) != 0)
		return -1;
	if (o->json)
		append(out, n, " format = \"json\";");
	append(out, n, " };\n");
	return 0;
}

/* The inline rules for the quick flags, or "" when none was given. Values
 * are checked by loading the text as the shim will, so a bad --bind is an
 * error here rather than a line in the program's stderr. */
static int quick_rules(const struct run_opts *o, char *out, size_t n)
{
	out[0] = '\0';
	if (quick_bind_rule(o, out, n) != 0 || quick_log(o, out, n) != 0)
		return -1;
	if (o->dry_run)
		append(out, n, "dry_run = true;\n");
	if (o->keep)
		append(out, n, "keep = true;\n");
	if (o->no_io_uring)
		append(out, n, "io_uring = \"refuse\";\n");
	if (!out[0])
		return 0;
	char err[1024];
	struct lr_ruleset rs;
	lr_ruleset_init(&rs);
	enum lr_config_result r = lr_config_load_text(out, "LIBREUSE_RULES", NULL, &rs, err, sizeof(err));
	lr_ruleset_free(&rs);
	if (r != LR_CONFIG_OK) {
		/* err names LIBREUSE_RULES:LINE; say which flag that was. */
		lr_cli_error("the quick flags do not make valid rules: %s", err);
		return -1;
	}
	return 0;
}

/* A sanitizer runtime insists on coming first in the initial library list
 * (an ASan-built program aborts otherwise): such leading entries stay in
 * front, libreuse goes right after them, the rest follow. */
static bool must_stay_first(const char *entry, size_t len)
{
	static const char *const runtimes[] = { "libasan", "libtsan", "libubsan", "liblsan",
						"libmsan", "libhwasan" };
	const char *base = entry;
	for (size_t i = 0; i < len; i++)
		if (entry[i] == '/')
			base = entry + i + 1;
	for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++)
		if (strncmp(base, runtimes[i], strlen(runtimes[i])) == 0)
			return true;
	return false;
}

static int build_preload(const char *lib, const char *old, char *out, size_t n)
{
	size_t used = 0;
	const char *rest = old ? old : "";
#ifdef LR_SANITIZER_RUNTIME
	/* A sanitizer build of libreuse.so needs its runtime ahead of it. */
	int s = snprintf(out, n, "%s:", LR_SANITIZER_RUNTIME);
	if (s < 0 || (size_t)s >= n)
		return -1;
	used = (size_t)s;
#endif
	/* LD_PRELOAD separates entries with colons or spaces. */
	for (;;) {
		rest += strspn(rest, ": ");
		size_t len = strcspn(rest, ": ");
		if (!len || !must_stay_first(rest, len))
			break;
		int w = snprintf(out + used, n - used, "%.*s:", (int)len, rest);
		if (w < 0 || (size_t)w >= n - used)
			return -1;
		used += (size_t)w;
		rest += len;
	}
	int w = snprintf(out + used, n - used, "%s%s%s", lib, rest[0] ? ":" : "", rest);
	return w < 0 || (size_t)w >= n - used ? -1 : 0;
}

/* Which library a dynamically linked program takes: by its class and its
 * libc (its interpreter). */
enum lib_kind { LIB_GLIBC, LIB_I386, LIB_MUSL };

/* The shim of a program's kind next to this binary (the build tree:
 * libreuse.so, i386/libreuse.so, musl/libreuse.so), else the installed
 * one. */
static int find_library(enum lib_kind kind, char *out, size_t n)
{
	static const char *const names[] = { "libreuse.so", "i386/libreuse.so", "musl/libreuse.so" };
	static const char *const dirs[] = { LR_LIBDIR, LR_LIBDIR32, LR_LIBDIRMUSL };
	const char *name = names[kind];
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len > 0) {
		exe[len] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			slash[1] = '\0';
			int w = snprintf(out, n, "%s%s", exe, name);
			if (w > 0 && (size_t)w < n && access(out, R_OK) == 0)
				return 0;
		}
	}
	/* Built by hand: gcc 12 -O1 with the sanitizers took `out` here for a
	 * null pointer (-Wformat-truncation) after the access() above. */
	const char *dir = dirs[kind];
	size_t dl = strlen(dir), nl = strlen("/libreuse.so");
	if (dl + nl + 1 > n)
		return -1;
	memcpy(out, dir, dl);
	memcpy(out + dl, "/libreuse.so", nl + 1);
	return access(out, R_OK) == 0 ? 0 : -1;
}

enum run_mode { MODE_AUTO, MODE_PRELOAD, MODE_SECCOMP };

/* Why LD_PRELOAD cannot reach a program (e, its ELF facts; kind, its
 * library's kind), in words that follow "is", or NULL when it can; nolib
 * holds the text of one reason. */
static const char *why_not_preload(const struct lr_elf_info *e, enum lib_kind kind, char *nolib, size_t n)
{
	char lib[PATH_MAX];
	bool i386 = kind == LIB_I386;
	bool x32 = e->is_elf && e->is_32 && e->machine == EM_X86_64;
	nolib[0] = '\0';
	if (kind != LIB_GLIBC && !e->is_static && !e->is_go && find_library(kind, lib, sizeof(lib)) != 0)
		snprintf(nolib, n,
			 "a %s program, and no %s libreuse.so is installed (looked next to this program "
			 "and in %s)", i386 ? "32-bit (i386)" : "musl", i386 ? "32-bit" : "musl",
			 i386 ? LR_LIBDIR32 : LR_LIBDIRMUSL);
	return !e->is_elf ? NULL
	       : e->is_go ? "a Go program (Go makes its socket system calls itself, "
			    "not through libc)"
	       : e->is_static ? "statically linked (there is no dynamic loader to preload "
				"libreuse)"
	       : x32 ? "an x32 program (no libreuse.so is built for its ABI)"
	       : nolib[0] ? nolib
			  : NULL;
}

/* A set-ID program, or one with file capabilities: what that means under
 * the way chosen, warned of. */
static void warn_privileged(const char *path, enum run_mode mode)
{
	struct stat st;
	bool setid = stat(path, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID));
	bool caps = !setid && getxattr(path, "security.capability", NULL, 0) > 0;
	if ((setid || caps) && mode == MODE_SECCOMP)
		fprintf(stderr, "libreuse: warning: %s %s: under the seccomp supervisor no_new_privs stops "
				"it gaining privileges, so it runs with yours\n",
			path, setid ? ((st.st_mode & S_ISUID) ? "is set-user-ID" : "is set-group-ID")
				    : "has file capabilities");
	else if (setid)
		fprintf(stderr, "libreuse: warning: %s is set-%s-ID: the dynamic loader ignores LD_PRELOAD "
				"from the environment for it, so libreuse will not be loaded (only a library "
				"installed in a system directory and /etc/ld.so.preload reach it)\n",
			path, (st.st_mode & S_ISUID) ? "user" : "group");
	else if (caps)
		fprintf(stderr, "libreuse: warning: %s has file capabilities: the dynamic loader runs it in "
				"secure mode and ignores LD_PRELOAD, so libreuse will not be loaded\n",
			path);
}

/* Which way reaches CMD, said in plain words: LD_PRELOAD of the library of
 * its kind (*kind: glibc x86-64, i386 or musl) for a dynamically linked
 * program, the seccomp supervisor for a static or Go one, an x32 one, or
 * one whose kind of library is not installed (unless a mode was forced;
 * then what that way cannot do is warned of). */
static enum run_mode choose(const char *cmd, enum run_mode forced, enum lib_kind *kind)
{
	char path[PATH_MAX];
	*kind = LIB_GLIBC;
	if (!lr_exec_resolve(cmd, path, sizeof(path)))
		return forced == MODE_SECCOMP ? MODE_SECCOMP : MODE_PRELOAD; /* execvp will say so */
	struct lr_elf_info e;
	lr_exec_inspect(path, &e);
	/* The machines this build's library and supervisor reach: x86-64 and
	 * i386 (and x32) on x86-64; aarch64 alone on arm64 (a 32-bit ARM
	 * program has no library here, and its calls are not decoded). */
#if defined(__aarch64__)
	bool ours = e.machine == EM_AARCH64 && !e.is_32;
#else
	bool ours = e.machine == EM_X86_64 || e.machine == EM_386;
#endif
	if (e.is_elf && !ours) {
		fprintf(stderr, "libreuse: warning: %s is built for another machine (ELF machine %d): "
				"libreuse cannot see its calls\n",
			path, e.machine);
		return forced == MODE_SECCOMP ? MODE_SECCOMP : MODE_PRELOAD;
	}
	*kind = e.is_elf && e.machine == EM_386 ? LIB_I386 : e.is_elf && lr_elf_is_musl(&e) ? LIB_MUSL : LIB_GLIBC;
	char nolib[PATH_MAX + 160];
	const char *what = why_not_preload(&e, *kind, nolib, sizeof(nolib));
	enum run_mode mode = forced != MODE_AUTO ? forced : what ? MODE_SECCOMP : MODE_PRELOAD;
	if (what && forced == MODE_PRELOAD)
		fprintf(stderr, "libreuse: warning: %s is %s: LD_PRELOAD cannot change or see its calls "
				"(--seccomp can)\n",
			path, what);
	else if (what && forced == MODE_AUTO)
		fprintf(stderr, "libreuse: %s is %s: applying the rules from outside it, by seccomp user "
				"notification\n",
			path, what);
	warn_privileged(path, mode);
	return mode;
}

/* What the library's exec hooks need to rule every program CMD starts as
 * run would rule it alone (runenv.h): this command, and the library of each
 * kind that is installed. */
static void export_for_exec_hooks(void)
{
	static const char *const vars[] = { LR_ENV_LIB, LR_ENV_LIB32, LR_ENV_LIB_MUSL };
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n <= 0)
		return; /* without it, children are ruled only as LD_PRELOAD reaches them */
	path[n] = '\0';
	setenv(LR_ENV_RUN, path, 1);
	for (enum lib_kind k = LIB_GLIBC; k <= LIB_MUSL; k++) {
		char lib[PATH_MAX], abs[PATH_MAX];
		if (find_library(k, lib, sizeof(lib)) == 0 && realpath(lib, abs))
			setenv(vars[k], abs, 1);
		else
			unsetenv(vars[k]);
	}
}

/* Under the keeper, each instance of a supervised program is this command
 * again, supervising it. */
static char **supervised_argv(char **cmd)
{
	size_t n = 0;
	while (cmd[n])
		n++;
	char **v = calloc(n + 5, sizeof(*v));
	static char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (!v || len <= 0)
		return NULL;
	self[len] = '\0';
	v[0] = self;
	v[1] = "run";
	v[2] = "--seccomp";
	v[3] = "--";
	memcpy(v + 4, cmd, n * sizeof(*v));
	return v;
}

/* "HUP", "SIGHUP" or a number; -1 when none of them. */
static int parse_signal(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (*s && !*end)
		return n > 0 && n <= SIGRTMAX ? (int)n : -1;
	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (int sig = 1; sig < NSIG; sig++) {
		const char *name = sigabbrev_np(sig);
		if (name && strcmp(name, s) == 0)
			return sig;
	}
	return -1;
}

/* Seconds, possibly fractional, as milliseconds; -1 when not a duration. */
static int parse_seconds(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !(v >= 0) || v > 86400)
		return -1;
	return (int)lround(v * 1000);
}

/* Catching these would make the keeper unkillable or unstoppable. */
static bool signal_usable(int sig)
{
	return sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD && sig != SIGSEGV && sig != SIGBUS &&
	       sig != SIGFPE && sig != SIGILL;
}

/* Whether the rules' log level is "actions" or more, as the program's
 * library will have it: --log, else the rule file's (-c, LIBREUSE_CONFIG or
 * the system's). The keeper then reports each restart's phases. */
static bool logs_actions(const struct run_opts *o)
{
	if (o->level)
		return strcmp(o->level, "actions") == 0 || strcmp(o->level, "all") == 0;
	struct lr_sources src;
	if (lr_sources_find(&src, lr_getenv_own) != 0 || !src.config_path)
		return false;
	struct lr_ruleset rs;
	char err[1024];
	lr_ruleset_init(&rs);
	bool yes = lr_config_load_file(src.config_path, &rs, err, sizeof(err)) == LR_CONFIG_OK &&
		   rs.log.level >= LR_LOG_ACTIONS;
	lr_ruleset_free(&rs);
	lr_sources_free(&src);
	return yes;
}

/* The table the program's library will look for, compiled now and cached,
 * so that the program starts without a helper; and this command named as
 * its helper for when the rules change. Best effort: without the cache the
 * library compiles for itself. */
static void precompile(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		setenv("LIBREUSE_HELPER", self, 1);
	}
	struct lr_sources src;
	if (lr_sources_find(&src, lr_getenv_own) != 0)
		return;
	char msg[1536];
	void *image = NULL;
	size_t len = 0;
	const char *why;
	if (lr_table_make(&src, &image, &len, msg, sizeof(msg)) == LR_MAKE_OK)
		lr_cache_write(&src, image, len, &why);
	free(image);
	lr_sources_free(&src);
}

/* What run was asked: the flags that become rules (run_opts), the keeper's,
 * and how CMD is to be reached. */
struct run_args {
	struct run_opts o;
	struct lr_keeper_opts ko;
	bool keeper_flag; /* a flag that goes with --keep was given */
	bool exec_child;
	const char *argv0;
	enum run_mode forced;
};

enum { OPT_REUSEADDR = 256, OPT_REUSEPORT, OPT_BIND, OPT_LOG, OPT_LOG_FILE, OPT_JSON, OPT_DRY,
       OPT_KEEP, OPT_RESTART_SIG, OPT_STOP_SIG, OPT_READY_TIMEOUT, OPT_STOP_TIMEOUT, OPT_RESPAWN,
       OPT_PRELOAD, OPT_SECCOMP, OPT_NO_IO_URING, OPT_ARGV0, OPT_EXEC_CHILD };

static const struct option longs[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "reuseaddr", no_argument, NULL, OPT_REUSEADDR },
	{ "reuseport", no_argument, NULL, OPT_REUSEPORT },
	{ "bind", required_argument, NULL, OPT_BIND },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "dry-run", no_argument, NULL, OPT_DRY },
	{ "keep", no_argument, NULL, OPT_KEEP },
	{ "restart-signal", required_argument, NULL, OPT_RESTART_SIG },
	{ "stop-signal", required_argument, NULL, OPT_STOP_SIG },
	{ "ready-timeout", required_argument, NULL, OPT_READY_TIMEOUT },
	{ "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
	{ "respawn", no_argument, NULL, OPT_RESPAWN },
	{ "preload", no_argument, NULL, OPT_PRELOAD },
	{ "seccomp", no_argument, NULL, OPT_SECCOMP },
	{ "no-io-uring", no_argument, NULL, OPT_NO_IO_URING },
	{ "argv0", required_argument, NULL, OPT_ARGV0 },
	/* The library's exec hook starting a static or Go child of a ruled
	 * program (src/preload/exec.c): where the supervisor cannot run,
	 * the child runs untouched with a warning, as it would have. */
	{ "exec-child", no_argument, NULL, OPT_EXEC_CHILD },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The options below return -1 to go on, else the status run exits with. */

static int take_mode(struct run_args *a, int c)
{
	if (a->forced != MODE_AUTO) {
		lr_cli_error("--preload and --seccomp: one way or the other");
		return LR_EXIT_USAGE;
	}
	a->forced = c == OPT_PRELOAD ? MODE_PRELOAD : MODE_SECCOMP;
	return -1;
}

static int take_signal(struct run_args *a, int c, const char *arg)
{
	int v = parse_signal(arg);
	if (v < 0 || !signal_usable(v) || (c == OPT_RESTART_SIG && (v == SIGTERM || v == SIGINT))) {
		lr_cli_error("%s %s: not a signal that can be used here",
			     c == OPT_RESTART_SIG ? "--restart-signal" : "--stop-signal", arg);
		return LR_EXIT_USAGE;
	}
	*(c == OPT_RESTART_SIG ? &a->ko.restart_signal : &a->ko.stop_signal) = v;
	a->keeper_flag = true;
	return -1;
}

static int take_timeout(struct run_args *a, int c, const char *arg)
{
	int v = parse_seconds(arg);
	if (v < 0) {
		lr_cli_error("%s %s: not a number of seconds",
			     c == OPT_READY_TIMEOUT ? "--ready-timeout" : "--stop-timeout", arg);
		return LR_EXIT_USAGE;
	}
	*(c == OPT_READY_TIMEOUT ? &a->ko.ready_timeout_ms : &a->ko.stop_timeout_ms) = v;
	a->keeper_flag = true;
	return -1;
}

static int take_option(struct run_args *a, int c, const char *arg)
{
	switch (c) {
	case 'c': a->o.config = arg; break;
	case OPT_REUSEADDR: a->o.reuseaddr = true; break;
	case OPT_REUSEPORT: a->o.reuseport = true; break;
	case OPT_BIND: a->o.bind = arg; break;
	case OPT_LOG: a->o.level = arg; break;
	case OPT_LOG_FILE: a->o.log_file = arg; break;
	case OPT_JSON: a->o.json = true; break;
	case OPT_DRY: a->o.dry_run = true; break;
	case OPT_KEEP: a->o.keep = true; break;
	case OPT_NO_IO_URING: a->o.no_io_uring = true; break;
	case OPT_RESPAWN: a->ko.respawn = a->keeper_flag = true; break;
	case OPT_ARGV0: a->argv0 = arg; break;
	case OPT_EXEC_CHILD: a->exec_child = true; break;
	case OPT_PRELOAD:
	case OPT_SECCOMP: return take_mode(a, c);
	case OPT_RESTART_SIG:
	case OPT_STOP_SIG: return take_signal(a, c, arg);
	case OPT_READY_TIMEOUT:
	case OPT_STOP_TIMEOUT: return take_timeout(a, c, arg);
	case 'h': fputs(usage, stdout); return LR_EXIT_OK;
	default: fputs(usage, stderr); return LR_EXIT_USAGE;
	}
	return -1;
}

/* The options, up to CMD (at argv[optind] after). */
static int parse_args(int argc, char **argv, struct run_args *a)
{
	*a = (struct run_args){ .ko = { .restart_signal = SIGHUP, .stop_signal = SIGTERM,
					.ready_timeout_ms = 30000, .stop_timeout_ms = 10000 },
				.forced = MODE_AUTO };
	int c, rc;
	/* "+": stop at the first non-option, which is CMD. */
	while ((c = getopt_long(argc, argv, "+c:h", longs, NULL)) != -1)
		if ((rc = take_option(a, c, optarg)) >= 0)
			return rc;
	if (optind >= argc) {
		lr_cli_error("run: no command given");
		fputs(usage, stderr);
		return LR_EXIT_USAGE;
	}
	if (a->keeper_flag && !a->o.keep) {
		lr_cli_error("--respawn, --restart-signal, --stop-signal and the timeouts go with --keep");
		return LR_EXIT_USAGE;
	}
	return -1;
}

/* -c FILE: checked here, so a bad file is run's error and not a line in the
 * program's stderr; exported absolute, since the program may chdir before
 * its first socket. */
static int export_config(const char *config)
{
	char err[1024], abs[PATH_MAX];
	struct lr_ruleset rs;
	lr_ruleset_init(&rs);
	enum lr_config_result r = lr_config_load_file(config, &rs, err, sizeof(err));
	lr_ruleset_free(&rs);
	if (r == LR_CONFIG_MISSING) {
		lr_cli_error("%s: no such rule file", config);
		return LR_EXIT_FAIL;
	}
	if (r == LR_CONFIG_ERROR) {
		fprintf(stderr, "%s\n", err);
		return LR_EXIT_FAIL;
	}
	if (!realpath(config, abs)) {
		lr_cli_error("%s: %s", config, strerror(errno));
		return LR_EXIT_FAIL;
	}
	setenv("LIBREUSE_CONFIG", abs, 1);
	return -1;
}

/* The rules the flags give, for the program's library (or supervisor) to
 * find in its environment: the rule file, and the quick flags' rules. */
static int export_rules(const struct run_opts *o)
{
	int rc;
	if (o->config && (rc = export_config(o->config)) >= 0)
		return rc;
	char rules[PATH_MAX + 1024];
	if (quick_rules(o, rules, sizeof(rules)) != 0)
		return LR_EXIT_USAGE;
	if (rules[0])
		setenv("LIBREUSE_RULES", rules, 1);
	return -1;
}

/* Which way reaches CMD (choose), with --argv0 applied; --no-io-uring, left
 * to choose, moves it under the supervisor. */
static enum run_mode reach(const struct run_args *a, char **cmd, enum lib_kind *kind)
{
	enum run_mode mode = choose(cmd[0], a->forced, kind);
	if (a->argv0) {
		/* Found and started by the name given, seen by itself (and by
		 * the rules' program globs) by argv0. */
		lr_exec_set_path(cmd[0]);
		cmd[0] = (char *)a->argv0;
	}
	if (a->o.no_io_uring && mode == MODE_PRELOAD && a->forced == MODE_AUTO) {
		/* Only the supervisor sees io_uring_setup. */
		fprintf(stderr, "libreuse: --no-io-uring: applying the rules from outside %s, by seccomp user "
				"notification (inside it libreuse cannot see io_uring_setup)\n",
			cmd[0]);
		mode = MODE_SECCOMP;
	}
	return mode;
}

/* CMD under the seccomp supervisor: this process supervises it, or, with
 * --keep, the keeper starts each instance as this command supervising it. */
static int run_supervised(struct run_args *a, char **cmd)
{
	if (!a->o.keep)
		return lr_supervise_run(cmd, a->forced == MODE_SECCOMP && !a->exec_child);
	if (!(a->ko.argv = supervised_argv(cmd))) {
		lr_cli_error("cannot find this command's own path for the keeper's instances");
		return LR_EXIT_FAIL;
	}
	return lr_keeper_run(&a->ko);
}

/* CMD with the library of its kind preloaded (the supervisor needs none),
 * its table compiled ahead; exec'd, or started by the keeper. */
static int run_preloaded(struct run_args *a, char **cmd, enum lib_kind kind)
{
	char lib[PATH_MAX];
	if (find_library(kind, lib, sizeof(lib)) != 0 &&
	    (kind == LIB_GLIBC || find_library(LIB_GLIBC, lib, sizeof(lib)) != 0)) {
		lr_cli_error("cannot find libreuse.so (looked next to this program and in %s)", LR_LIBDIR);
		return LR_EXIT_FAIL;
	}
	export_for_exec_hooks();
	char preload[PATH_MAX * 4];
	if (build_preload(lib, getenv("LD_PRELOAD"), preload, sizeof(preload)) != 0) {
		lr_cli_error("LD_PRELOAD is too long");
		return LR_EXIT_FAIL;
	}
	setenv("LD_PRELOAD", preload, 1);
	precompile();
	if (a->o.keep) {
		a->ko.argv = cmd;
		return lr_keeper_run(&a->ko);
	}
	return lr_exec(cmd);
}

int lr_cli_run(int argc, char **argv)
{
	struct run_args a;
	int rc = parse_args(argc, argv, &a);
	if (rc >= 0 || (rc = export_rules(&a.o)) >= 0)
		return rc;
	if (a.o.keep)
		a.ko.log_actions = logs_actions(&a.o);
	char **cmd = argv + optind;
	enum lib_kind kind;
	enum run_mode mode = reach(&a, cmd, &kind);
	return mode == MODE_SECCOMP ? run_supervised(&a, cmd) : run_preloaded(&a, cmd, kind);
}

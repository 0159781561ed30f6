#include "exec.h"

#include "elfinfo.h"
#include "environ.h"
#include "fmt.h"
#include "libc.h"
#include "log.h"
#include "real.h"
#include "runenv.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#define LR_EXPORT __attribute__((visibility("default")))

extern char **environ;
extern char *program_invocation_short_name;

/* The next definitions (libc's) are real.c's, in the one table of them.
 * glibc's execvp, execl... and posix_spawn call its execve internally, not
 * through the PLT: each is hooked for itself. An exec hook may run between
 * vfork and exec, where nothing may be looked up (dlsym locks and may
 * allocate): the hooks use the table only once it is filled whole (by a
 * parent's posix_spawn, system or popen, or at load where another exec
 * interposer follows libreuse in LD_PRELOAD: real.h), and till then the
 * system calls libc's exec functions are made of (own_execvpe: its search
 * of PATH). A process that starts nothing pays nothing for it. */
static bool resolved(void)
{
	return atomic_load_explicit(&lr_real_ready, memory_order_acquire);
}

static int real_execve(const char *path, char *const argv[], char *const envp[])
{
	int (*f)(const char *, char *const[], char *const[]) = resolved() ? lr_real.execve : NULL;
	if (f)
		return f(path, argv, envp);
	return (int)syscall(SYS_execve, path, argv, envp);
}

/* What becomes of one exec. */
enum way {
	WAY_PASS,      /* as the program asked (not under run, or nothing to change) */
	WAY_PRELOAD,   /* its environment given what run set, with `lib` preloaded */
	WAY_SUPERVISE, /* `libreuse run --seccomp` instead of it */
	WAY_ESCAPES,   /* as asked, and one line saying it is not ruled (`why`) */
};
struct plan {
	enum way way;
	const char *lib;
	bool unreachable; /* static, Go or x32: no library can reach it */
	bool musl;
	bool valgrind; /* one of valgrind's tools: static, but it preloads its client */
	char why[160];
};

/* The command that put this process tree under rules: NULL outside run, in
 * a libc the library was not built for, and in secure execution. */
static const char *run_command(void)
{
	if (lr_libc_foreign)
		return NULL;
	const char *run = lr_env_get(LR_ENV_RUN);
	return run && run[0] == '/' ? run : NULL;
}

static void why(struct plan *p, const char *a, const char *b)
{
	struct lr_buf w = LR_BUF(p->why);
	lr_buf_str(&w, a);
	if (b)
		lr_buf_str(&w, b);
}

/* The secure execution the kernel gives a set-ID or capable program run by
 * us: then the loader ignores LD_PRELOAD, and under the supervisor
 * no_new_privs would take its privileges away. */
static bool secure_exec(int fd, const struct stat *st, struct plan *p)
{
	if ((st->st_mode & S_ISUID) && st->st_uid != getuid()) {
		why(p, "it is set-user-ID", ": the loader ignores LD_PRELOAD in it, and the supervisor "
					    "cannot run it with its privileges");
		return true;
	}
	if ((st->st_mode & S_ISGID) && st->st_gid != getgid()) {
		why(p, "it is set-group-ID", ": the loader ignores LD_PRELOAD in it, and the supervisor "
					     "cannot run it with its privileges");
		return true;
	}
	if (geteuid() != 0 && fgetxattr(fd, "security.capability", NULL, 0) > 0) {
		why(p, "it has file capabilities", ": the loader ignores LD_PRELOAD in it, and the "
						   "supervisor cannot run it with its privileges");
		return true;
	}
	return false;
}

static void classify_fd(int fd, struct plan *p, int depth);

/* The system call, not close(): that is our own hook, whose first call
 * resolves libc's functions (dlsym, which may allocate), and an exec hook
 * may run between vfork and exec. */
static void fd_close(int fd)
{
	syscall(SYS_close, fd);
}

/* A script: what matters is its interpreter, which the kernel runs. */
static bool classify_script(int fd, struct plan *p, int depth)
{
	char line[256];
	ssize_t n = pread(fd, line, sizeof(line) - 1, 0);
	if (n < 3 || line[0] != '#' || line[1] != '!')
		return false;
	line[n] = '\0';
	char *s = line + 2;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t len = strcspn(s, " \t\n");
	s[len] = '\0';
	int ifd = depth == 0 && s[0] == '/' ? open(s, O_RDONLY | O_CLOEXEC) : -1;
	if (ifd < 0) {
		p->way = WAY_PASS;
		return true;
	}
	classify_fd(ifd, p, depth + 1);
	fd_close(ifd);
	return true;
}

static void classify_fd(int fd, struct plan *p, int depth)
{
	struct stat st;
	p->way = WAY_PASS;
	p->lib = NULL;
	p->unreachable = p->musl = false;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return;
	if (secure_exec(fd, &st, p)) {
		p->way = WAY_ESCAPES;
		return;
	}
	struct lr_elf_info e;
	lr_elf_inspect_fd(fd, &e);
	if (!e.is_elf) {
		classify_script(fd, p, depth);
		return;
	}
	if (e.machine != EM_X86_64 && e.machine != EM_386)
		return; /* the kernel will say */
	bool x32 = e.is_32 && e.machine == EM_X86_64;
	if (e.is_go || e.is_static || x32) {
		p->way = WAY_SUPERVISE;
		p->unreachable = true;
		return;
	}
	p->musl = lr_elf_is_musl(&e);
	const char *lib = lr_elf_is_musl(&e) ? lr_env_get(LR_ENV_LIB_MUSL)
			  : e.is_32	     ? lr_env_get(LR_ENV_LIB32)
					     : lr_env_get(LR_ENV_LIB);
	/* No library of its kind installed: the supervisor reaches it. */
	p->way = lib && lib[0] == '/' ? WAY_PRELOAD : WAY_SUPERVISE;
	p->lib = lib;
}

static void classify_at(int dirfd, const char *path, struct plan *p)
{
	/* Every field, whatever is found: a caller reads unreachable and musl
	 * of a target that could not be opened too. */
	*p = (struct plan){ .way = WAY_PASS };
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* the exec will fail, or say why itself */
	classify_fd(fd, p, 0);
	fd_close(fd);
	/* valgrind's tools are static, but load the program themselves and
	 * give it LD_PRELOAD: the library then rules it from inside, by its
	 * own name, as it would outside valgrind. */
	p->valgrind = p->unreachable && strstr(path, "/valgrind/");
	if (p->valgrind && p->way == WAY_SUPERVISE && lr_env_get(LR_ENV_LIB)) {
		p->way = WAY_PRELOAD;
		p->lib = lr_env_get(LR_ENV_LIB);
	}
}

static size_t count(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

/* The libraries run named (any may be NULL), looked up once per exec. */
struct our_libs {
	const char *path[3];
};

static void our_libs(struct our_libs *o)
{
	o->path[0] = lr_env_get(LR_ENV_LIB);
	o->path[1] = lr_env_get(LR_ENV_LIB32);
	o->path[2] = lr_env_get(LR_ENV_LIB_MUSL);
}

static bool is_our_library(const struct our_libs *o, const char *entry, size_t len)
{
	for (size_t i = 0; i < 3; i++)
		if (o->path[i] && strncmp(o->path[i], entry, len) == 0 && o->path[i][len] == '\0')
			return true;
	return false;
}

/* "LD_PRELOAD=" + base's entries, with libreuse's (any kind) replaced by
 * lib where the first of them stood (run put it after any sanitizer
 * runtime, which must stay first), or put first; none when lib is NULL.
 * False when it does not fit. */
static bool make_preload(const char *base, const char *lib, struct lr_buf *b)
{
	lr_buf_str(b, "LD_PRELOAD=");
	struct our_libs o;
	our_libs(&o);
	bool placed = lib == NULL, first = true;
	for (const char *s = base ? base : "";;) {
		s += strspn(s, ": ");
		size_t len = strcspn(s, ": ");
		if (!len)
			break;
		const char *entry = s;
		s += len;
		if (is_our_library(&o, entry, len)) {
			if (placed)
				continue;
			entry = lib;
			len = strlen(lib);
			placed = true;
		}
		if (!first)
			lr_buf_char(b, ':');
		lr_buf_mem(b, entry, len);
		first = false;
	}
	if (!placed) {
		/* Not there at all: first. */
		char rest[4096];
		size_t rl = b->len - 11;
		if (rl >= sizeof(rest))
			return false;
		memcpy(rest, b->p + 11, rl);
		b->len = 11;
		lr_buf_str(b, lib);
		if (rl) {
			lr_buf_char(b, ':');
			lr_buf_mem(b, rest, rl);
		}
	}
	return b->len + 1 < b->cap;
}

/* The environment to give: envp itself when it lacks nothing, else one
 * built in out (room for count(envp) + count(carried) + 1) with every
 * LIBREUSE_* variable the process started with that envp lost, and
 * LD_PRELOAD holding lib (or, lib NULL, none of libreuse's libraries).
 * NULL when it cannot be built (the caller execs as asked). One pass over
 * envp: exec is on the path of every child a shell starts. */
static char *const *fix_env(char *const *envp, const char *lib, char **out, size_t cap,
			    char *pre, size_t precap)
{
	char *const *carried = lr_env_carried();
	/* Which of the carried variables envp still has, by index (a bit
	 * each): the first 64 are more than the library ever carries. */
	uint64_t present = 0;
	size_t ncarried = 0;
	while (carried[ncarried])
		ncarried++;
	if (ncarried > 64)
		return NULL;
	const char *cur = NULL;
	for (size_t i = 0; envp && envp[i]; i++) {
		const char *e = envp[i];
		if (e[0] != 'L' || (e[1] != 'I' && e[1] != 'D'))
			continue;
		if (strncmp(e, "LD_PRELOAD=", 11) == 0) {
			if (!cur)
				cur = e + 11;
			continue;
		}
		if (strncmp(e, "LIBREUSE_", 9) != 0)
			continue;
		size_t len = strcspn(e, "=");
		for (size_t c = 0; c < ncarried; c++)
			if (strncmp(carried[c], e, len + 1) == 0)
				present |= 1ull << c;
	}
	const char *base = cur;
	for (size_t c = 0; !base && c < ncarried; c++)
		if (strncmp(carried[c], "LD_PRELOAD=", 11) == 0)
			base = carried[c] + 11;
	struct lr_buf b = { .p = pre, .len = 0, .cap = precap };
	pre[0] = '\0';
	if (!make_preload(base, lib, &b))
		return NULL;
	bool drop_preload = b.len == 11; /* "LD_PRELOAD=" and nothing */
	bool same = cur ? !drop_preload && strcmp(cur, pre + 11) == 0 : drop_preload;
	uint64_t missing = 0;
	for (size_t c = 0; c < ncarried; c++)
		if (!(present >> c & 1) && strncmp(carried[c], "LD_PRELOAD=", 11) != 0)
			missing |= 1ull << c;
	if (same && !missing)
		return envp;
	size_t n = 0;
	for (size_t i = 0; envp && envp[i]; i++)
		if (strncmp(envp[i], "LD_PRELOAD=", 11) != 0 && n + 1 < cap)
			out[n++] = envp[i];
	for (size_t c = 0; c < ncarried; c++)
		if ((missing >> c & 1) && n + 1 < cap)
			out[n++] = carried[c];
	if (!drop_preload && n + 1 < cap)
		out[n++] = pre;
	out[n] = NULL;
	return out;
}

/* argv for `RUN run --seccomp --exec-child --argv0 ARGV0 -- PATH ARGS...`
 * in out (room for count(argv) + 9); path made ./path when it has no
 * slash, so that run does not look for it in PATH. */
static char *const *supervised_argv(const char *run, const char *path, char *const argv[], char **out,
				    char *pathbuf, size_t pathcap)
{
	size_t n = 0;
	out[n++] = (char *)run;
	out[n++] = "run";
	out[n++] = "--seccomp";
	out[n++] = "--exec-child";
	out[n++] = "--argv0";
	out[n++] = (char *)(argv && argv[0] ? argv[0] : path);
	out[n++] = "--";
	if (!strchr(path, '/')) {
		struct lr_buf b = { .p = pathbuf, .len = 0, .cap = pathcap };
		lr_buf_str(&b, "./");
		lr_buf_str(&b, path);
		path = pathbuf;
	}
	out[n++] = (char *)path;
	for (size_t i = 1; argv && argv[0] && argv[i]; i++)
		out[n++] = argv[i];
	out[n] = NULL;
	return out;
}

/* One line naming the program that leaves the rules behind, and why. */
static void say_escaped(const char *path, const char *reason)
{
	int saved = errno;
	char line[PATH_MAX + 512];
	struct lr_buf b = LR_BUF(line);
	lr_buf_str(&b, program_invocation_short_name ? program_invocation_short_name : "?");
	lr_buf_str(&b, ": exec of ");
	lr_buf_str(&b, path);
	lr_buf_str(&b, ": ");
	lr_buf_str(&b, reason);
	lr_buf_str(&b, "; its calls are not ruled");
	struct lr_sink s;
	lr_sink_stderr(&s);
	lr_log_message(&s, line);
	errno = saved;
}

/* Outside run, a process started with rules of its own (LIBREUSE_CONFIG or
 * LIBREUSE_RULES) starts a child as asked, and one line names a child
 * that leaves the rules behind: one LD_PRELOAD cannot reach, or one whose
 * environment lost the library (a musl child says so itself). */
static bool watched_outside_run(void)
{
	return !lr_libc_foreign && (lr_env_get("LIBREUSE_CONFIG") || lr_env_get("LIBREUSE_RULES"));
}

static bool keeps_library(char *const envp[])
{
	for (size_t i = 0; envp && envp[i]; i++)
		if (strncmp(envp[i], "LD_PRELOAD=", 11) == 0)
			return strstr(envp[i] + 11, "libreuse") != NULL;
	return false;
}

/* p: the target as classify_fd found it; name: how to call it. */
static void watch_outside_run(const struct plan *p, const char *name, char *const envp[])
{
	if (p->way == WAY_ESCAPES)
		say_escaped(name, p->why);
	else if (p->valgrind && keeps_library(envp))
		return; /* its client is given the library, and ruled from inside */
	else if (p->unreachable)
		say_escaped(name, "it is statically linked or a Go program, which LD_PRELOAD cannot reach "
				  "(libreuse run would rule it through the supervisor)");
	else if (p->way != WAY_PASS && !p->musl && !keeps_library(envp))
		say_escaped(name, "its environment no longer preloads libreuse (libreuse run would put "
				  "it back)");
}

static void watch_path(int dirfd, const char *path, char *const envp[])
{
	if (!path || !watched_outside_run())
		return;
	int saved = errno;
	struct plan p;
	classify_at(dirfd, path, &p);
	watch_outside_run(&p, path, envp);
	errno = saved;
}

static bool search_path(const char *file, char *out, size_t cap);

/* What becomes of a valgrind tool, which is static but loads the program
 * it runs itself (its first argument that is not an option, looked up
 * along PATH as valgrind does) and hands it LD_PRELOAD: that program's
 * libc and class choose the library, and a program no library reaches
 * (static, Go) is ruled by supervising the tool, which makes its calls.
 * Where the program cannot be read, the glibc library, as before. p is
 * the tool's plan (p->valgrind). */
static void valgrind_client(struct plan *p, char *const argv[])
{
	const char *client = NULL;
	for (size_t i = 1; argv && argv[0] && argv[i] && !client; i++)
		if (argv[i][0] != '-')
			client = argv[i];
	char found[PATH_MAX];
	const char *cpath = !client ? NULL
			    : strchr(client, '/') ? client
			    : search_path(client, found, sizeof(found)) ? found
								    : NULL;
	if (!cpath)
		return;
	struct plan c;
	classify_at(AT_FDCWD, cpath, &c);
	if (c.way == WAY_PRELOAD && c.lib) {
		p->lib = c.lib;
	} else if (c.way == WAY_SUPERVISE) {
		p->way = WAY_SUPERVISE;
		p->lib = NULL;
	}
}

/* What one exec is given instead of what it asked for. The buffers are the
 * caller's (its stack: no allocation between vfork and exec). */
struct launch {
	const char *path;
	char *const *argv;
	char *const *envp;
	enum way way;
};

#define PRE_CAP 8192
/* Bounds of what is rebuilt on the stack; beyond them an exec goes as
 * asked, with a line. */
#define MAX_VEC 32768

/* Fills l for an exec of path (opened at dirfd) with argv and envp. */
static void prepare(struct launch *l, const char *run, const struct plan *p, const char *path,
		    char *const argv[], char *const envp[], char **envbuf, size_t envcap, char **argbuf,
		    size_t argcap, char *pre, char *pathbuf, size_t pathcap)
{
	struct plan tool;
	if (p->valgrind && p->way == WAY_PRELOAD) {
		tool = *p;
		valgrind_client(&tool, argv);
		p = &tool;
	}
	l->path = path;
	l->argv = argv;
	l->envp = envp;
	l->way = p->way;
	if (p->way == WAY_ESCAPES) {
		say_escaped(path, p->why);
		return;
	}
	if (p->way == WAY_PASS)
		return;
	/* Only a supervised start rebuilds argv: a long argument list (xargs)
	 * given to a program the library reaches needs no room. */
	if (!envcap || (p->way == WAY_SUPERVISE && !argcap)) {
		say_escaped(path, "its argument or environment list is too long to rebuild");
		l->way = WAY_PASS;
		return;
	}
	char *const *env = fix_env(envp, p->way == WAY_PRELOAD ? p->lib : NULL, envbuf, envcap, pre,
				   PRE_CAP);
	if (!env) {
		say_escaped(path, "its LD_PRELOAD is too long to put libreuse in");
		l->way = WAY_PASS;
		return;
	}
	l->envp = env;
	if (p->way == WAY_SUPERVISE) {
		l->path = run;
		l->argv = supervised_argv(run, path, argv, argbuf, pathbuf, pathcap);
	}
}

/* The stack room prepare needs, in the hook's own frame. */
#define LAUNCH_ROOM(argv, envp)                                                          \
	size_t envn_ = count(envp) + count(lr_env_carried()) + 2, argn_ = count(argv) + 9;  \
	size_t envcap_ = envn_ <= MAX_VEC ? envn_ : 0, argcap_ = argn_ <= MAX_VEC ? argn_ : 0; \
	char *envbuf_[envcap_ ? envcap_ : 1], *argbuf_[argcap_ ? argcap_ : 1];                \
	char pre_[PRE_CAP], pathbuf_[PATH_MAX + 3]
#define LAUNCH_ARGS envbuf_, envcap_, argbuf_, argcap_, pre_, pathbuf_, sizeof(pathbuf_)

LR_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	const char *run = run_command();
	if (!run) {
		watch_path(AT_FDCWD, path, envp);
		return real_execve(path, argv, envp);
	}
	int saved = errno;
	struct plan p;
	classify_at(AT_FDCWD, path, &p);
	if (p.way == WAY_PASS) {
		errno = saved;
		return real_execve(path, argv, envp);
	}
	LAUNCH_ROOM(argv, envp);
	struct launch l;
	prepare(&l, run, &p, path, argv, envp, LAUNCH_ARGS);
	errno = saved;
	return real_execve(l.path, l.argv, l.envp);
}

LR_EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

/* The file execvp would run: path itself when it has a slash, else the
 * first executable regular file of that name along PATH. */
static bool search_path(const char *file, char *out, size_t cap)
{
	if (strchr(file, '/'))
		return false;
	const char *path = NULL;
	for (size_t i = 0; environ && environ[i]; i++)
		if (strncmp(environ[i], "PATH=", 5) == 0)
			path = environ[i] + 5;
	if (!path)
		path = "/usr/local/bin:/bin:/usr/bin";
	size_t flen = strlen(file);
	while (*path) {
		size_t len = strcspn(path, ":");
		if (len + flen + 2 <= cap) {
			memcpy(out, len ? path : ".", len ? len : 1);
			size_t at = len ? len : 1;
			out[at] = '/';
			memcpy(out + at + 1, file, flen + 1);
			struct stat st;
			if (access(out, X_OK) == 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode))
				return true;
		}
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}

/* Runs file as a shell script: what execvp does with a file the kernel
 * refuses as of no executable format. */
static void exec_script(const char *file, char *const argv[], char *const envp[])
{
	size_t n = count(argv);
	if (n > MAX_VEC)
		return;
	char *sh[n + 3];
	size_t j = 0;
	sh[j++] = (char *)"/bin/sh";
	sh[j++] = (char *)file;
	for (size_t i = 1; i < n; i++)
		sh[j++] = argv[i];
	sh[j] = NULL;
	syscall(SYS_execve, "/bin/sh", sh, envp);
}

/* execvpe as libc's does it, for a process that has not looked libc's up
 * (see real_execve): each directory of PATH in turn, a script through
 * /bin/sh, EACCES said if any file was found but refused. System calls
 * and the caller's stack only. */
static int own_execvpe(const char *file, char *const argv[], char *const envp[])
{
	if (!file || !file[0]) {
		errno = ENOENT;
		return -1;
	}
	if (strchr(file, '/')) {
		syscall(SYS_execve, file, argv, envp);
		if (errno == ENOEXEC)
			exec_script(file, argv, envp);
		return -1;
	}
	const char *path = getenv("PATH");
#ifdef __GLIBC__
	if (!path)
		path = "/bin:/usr/bin"; /* confstr(_CS_PATH) */
#else
	if (!path)
		path = "/usr/local/bin:/bin:/usr/bin";
#endif
	size_t flen = strlen(file);
	bool eacces = false;
	char buf[PATH_MAX];
	for (const char *p = path;;) {
		size_t len = strcspn(p, ":");
		/* An empty entry is the working directory: the file's name alone. */
		if (len + flen + 2 <= sizeof(buf)) {
			memcpy(buf, p, len);
			size_t at = len;
			if (len)
				buf[at++] = '/';
			memcpy(buf + at, file, flen + 1);
			syscall(SYS_execve, buf, argv, envp);
			if (errno == ENOEXEC)
				exec_script(buf, argv, envp);
			switch (errno) {
			case EACCES:
				eacces = true;
				break;
			case ENOENT:
			case ESTALE:
			case ENOTDIR:
			case ENODEV:
			case ETIMEDOUT:
				break;
			default:
				return -1;
			}
		}
		p += len;
		if (!*p)
			break;
		p++;
	}
	if (eacces)
		errno = EACCES;
	return -1;
}

/* libc's execvp or execvpe once looked up, else ours. */
static int exec_next_searching(const char *file, char *const argv[], char *const envp[], bool own_env)
{
	if (resolved()) {
		if (!own_env && lr_real.execvp)
			return lr_real.execvp(file, argv);
		if (lr_real.execvpe)
			return lr_real.execvpe(file, argv, envp);
	}
	return own_execvpe(file, argv, envp);
}

/* execvp and execvpe: the file found along PATH decides. Passed on to
 * libc's own (which keeps its search and its ENOEXEC fallback) with the
 * environment fixed; a supervised one is started by path. */
static int exec_searching(const char *file, char *const argv[], char *const envp[], bool own_env)
{
	const char *run = run_command();
	char found[PATH_MAX];
	int saved = errno;
	struct plan p = { .way = WAY_PASS };
	bool watch = !run && watched_outside_run();
	if ((run || watch) && file && file[0]) {
		const char *path = strchr(file, '/') ? file : search_path(file, found, sizeof(found)) ? found : NULL;
		if (path)
			classify_at(AT_FDCWD, path, &p);
	}
	errno = saved;
	if (watch) {
		watch_outside_run(&p, file, envp);
		p.way = WAY_PASS;
	}
	if (p.way == WAY_PASS || p.way == WAY_ESCAPES) {
		if (p.way == WAY_ESCAPES)
			say_escaped(file, p.why);
		return exec_next_searching(file, argv, envp, own_env);
	}
	const char *path = strchr(file, '/') ? file : found;
	LAUNCH_ROOM(argv, envp);
	struct launch l;
	prepare(&l, run, &p, path, argv, envp, LAUNCH_ARGS);
	errno = saved;
	if (l.way == WAY_SUPERVISE)
		return real_execve(l.path, l.argv, l.envp);
	return exec_next_searching(file, l.argv, l.envp, true);
}

LR_EXPORT int execvp(const char *file, char *const argv[])
{
	return exec_searching(file, argv, environ, false);
}

LR_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	return exec_searching(file, argv, envp, true);
}

/* execl, execle, execlp: their arguments as a vector on the stack. */
#define COLLECT_ARGS(arg0, ap, vec, extra)                        \
	size_t n_ = 1;                                            \
	va_start(ap, arg0);                                       \
	while (va_arg(ap, char *))                                \
		n_++;                                             \
	va_end(ap);                                               \
	char *vec[n_ + 1];                                        \
	va_start(ap, arg0);                                       \
	vec[0] = (char *)arg0;                                    \
	for (size_t i_ = 1; i_ <= n_; i_++)                       \
		vec[i_] = i_ < n_ ? va_arg(ap, char *) : NULL;    \
	extra;                                                    \
	va_end(ap)

LR_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	COLLECT_ARGS(arg, ap, argv, (void)va_arg(ap, char *));
	return execve(path, argv, environ);
}

LR_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	COLLECT_ARGS(arg, ap, argv, (void)va_arg(ap, char *));
	return execvp(file, argv);
}

LR_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	char *const *envp;
	COLLECT_ARGS(arg, ap, argv, (void)va_arg(ap, char *); envp = va_arg(ap, char *const *));
	return execve(path, argv, envp);
}

/* fexecve and execveat: the environment is fixed and the library swapped;
 * a target the supervisor must start is started by path where there is
 * one (execveat of an absolute path, or from the working directory), and
 * named as escaping otherwise. */
static int exec_at(int dirfd, const char *path, char *const argv[], char *const envp[], int flags,
		   bool is_fexecve)
{
	const char *run = run_command();
	int saved = errno;
	struct plan p = { .way = WAY_PASS };
	bool by_path = !is_fexecve && path && path[0] && !(flags & AT_EMPTY_PATH) &&
		       (path[0] == '/' || dirfd == AT_FDCWD);
	bool watch = !run && watched_outside_run();
	if (run || watch) {
		if (is_fexecve || (path && !path[0] && (flags & AT_EMPTY_PATH))) {
			classify_fd(dirfd, &p, 0);
		} else if (path) {
			classify_at(dirfd, path, &p);
		}
	}
	if (watch) {
		watch_outside_run(&p, by_path ? path : "a program given by file descriptor", envp);
		p.way = WAY_PASS;
	}
	if (p.way == WAY_SUPERVISE && !by_path) {
		p.way = WAY_ESCAPES;
		why(&p, "it needs the supervisor (static, Go or no library for it), which cannot start a "
			"program given by file descriptor", NULL);
	}
	char fdname[32];
	const char *name = path;
	if (!by_path) {
		struct lr_buf b = LR_BUF(fdname);
		lr_buf_str(&b, "fd ");
		lr_buf_i64(&b, dirfd);
		name = fdname;
	}
	const char *const *use_argv = (const char *const *)argv;
	char *const *use_envp = envp;
	const char *use_path = path;
	LAUNCH_ROOM(argv, envp);
	struct launch l = { .path = path, .argv = argv, .envp = envp, .way = WAY_PASS };
	if (p.way != WAY_PASS) {
		prepare(&l, run, &p, by_path ? path : name, argv, envp, LAUNCH_ARGS);
		use_argv = (const char *const *)l.argv;
		use_envp = l.envp;
		use_path = l.path;
	}
	errno = saved;
	if (l.way == WAY_SUPERVISE)
		return real_execve(use_path, (char *const *)use_argv, use_envp);
	if (is_fexecve) {
		int (*f)(int, char *const[], char *const[]) = resolved() ? lr_real.fexecve : NULL;
		if (f)
			return f(dirfd, argv, use_envp);
		return (int)syscall(SYS_execveat, dirfd, "", argv, use_envp, AT_EMPTY_PATH);
	}
	int (*f)(int, const char *, char *const[], char *const[], int) =
		resolved() ? lr_real.execveat : NULL;
	if (f)
		return f(dirfd, path, argv, use_envp, flags);
	return (int)syscall(SYS_execveat, dirfd, path, argv, use_envp, flags);
}

LR_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	return exec_at(fd, NULL, argv, envp, 0, true);
}

LR_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
	return exec_at(dirfd, path, argv, envp, flags, false);
}

/* posix_spawn and posix_spawnp run in the parent: the child libc makes
 * runs no hook (glibc's calls execve internally). What it is given is
 * decided here, before it starts. */
static int spawn(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
		 const posix_spawnattr_t *attr, char *const argv[], char *const envp[], bool search)
{
	lr_real_resolve();
	lr_spawn_fn real = search ? lr_real.posix_spawnp : lr_real.posix_spawn;
	if (!real)
		return ENOSYS;
	const char *run = run_command();
	char found[PATH_MAX];
	struct plan p = { .way = WAY_PASS };
	const char *path = file;
	bool watch = !run && watched_outside_run();
	if ((run || watch) && file && file[0]) {
		if (search && !strchr(file, '/'))
			path = search_path(file, found, sizeof(found)) ? found : NULL;
		if (path)
			classify_at(AT_FDCWD, path, &p);
	}
	if (watch) {
		watch_outside_run(&p, file, envp);
		p.way = WAY_PASS;
	}
	if (p.way == WAY_PASS)
		return real(pid, file, fa, attr, argv, envp);
	int saved = errno;
	LAUNCH_ROOM(argv, envp);
	struct launch l;
	prepare(&l, run, &p, path, argv, envp, LAUNCH_ARGS);
	errno = saved;
	if (l.way == WAY_SUPERVISE)
		return lr_real.posix_spawn ? lr_real.posix_spawn(pid, l.path, fa, attr, l.argv, l.envp) : ENOSYS;
	return real(pid, file, fa, attr, argv, l.envp);
}

LR_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			  const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return spawn(pid, path, fa, attr, argv, envp, false);
}

LR_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return spawn(pid, file, fa, attr, argv, envp, true);
}

/* system and popen: glibc starts /bin/sh from inside (posix_spawn, not
 * through the PLT) with the process's environ, so a program that cleared
 * its environment would start a shell without libreuse. When environ lacks
 * what run set, the shell is given it: environ points at a fixed copy for
 * the length of the call. A thread that calls setenv meanwhile loses its
 * change (the same race setenv itself has with any reader of environ). */

static char **shell_env(char **buf, size_t cap, char *pre)
{
	struct plan p = { .way = WAY_PASS };
	classify_at(AT_FDCWD, "/bin/sh", &p);
	if (p.way != WAY_PRELOAD)
		return NULL;
	char *const *env = fix_env(environ, p.lib, buf, cap, pre, PRE_CAP);
	return env && env != environ ? (char **)env : NULL;
}

LR_EXPORT int system(const char *command)
{
	lr_real_resolve();
	int (*real)(const char *) = lr_real.system;
	if (!real)
		return -1;
	if (!command || !run_command())
		return real(command);
	int saved = errno;
	size_t cap = count(environ) + count(lr_env_carried()) + 2;
	if (cap > MAX_VEC)
		return real(command);
	char *buf[cap], pre[PRE_CAP];
	char **env = shell_env(buf, cap, pre);
	errno = saved;
	if (!env)
		return real(command);
	char **own = environ;
	environ = env;
	int r = real(command);
	saved = errno;
	environ = own;
	errno = saved;
	return r;
}

LR_EXPORT FILE *popen(const char *command, const char *type)
{
	lr_real_resolve();
	FILE *(*real)(const char *, const char *) = lr_real.popen;
	if (!real) {
		errno = ENOSYS;
		return NULL;
	}
	if (!run_command())
		return real(command, type);
	int saved = errno;
	size_t cap = count(environ) + count(lr_env_carried()) + 2;
	if (cap > MAX_VEC)
		return real(command, type);
	char *buf[cap], pre[PRE_CAP];
	char **env = shell_env(buf, cap, pre);
	errno = saved;
	if (!env)
		return real(command, type);
	char **own = environ;
	environ = env;
	FILE *r = real(command, type);
	saved = errno;
	environ = own;
	errno = saved;
	return r;
}

/* The hooks' own addresses, to tell a lookup that came back to us. */
LR_HOOKED_EXEC(LR_SELF_ALIAS)

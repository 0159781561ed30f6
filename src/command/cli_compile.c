/* libreuse compile: the rules → the table the library reads, written to the
 * cache where the library looks. The library runs this itself (--helper)
 * when it finds no fresh table, so that no parser ever runs inside a
 * program; run and check do it before the program starts. */
#include "cachewrite.h"
#include "cli.h"

#include "load.h"
#include "table.h"
#include "tablecache.h"
#include "tablemake.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: libreuse compile [-c FILE]\n"
	"\n"
	"Compile the rules the library would load here ($LIBREUSE_RULES, then\n"
	"FILE, $LIBREUSE_CONFIG or the system rule file) into the table it reads,\n"
	"and keep it in the table cache ($LIBREUSE_CACHE_DIR, else\n"
	"$XDG_RUNTIME_DIR/libreuse, else /run/libreuse or /tmp/libreuse-UID).\n"
	"Programs started afterwards load it without compiling. The library runs\n"
	"this itself when its table is missing or stale.\n"
	"\n"
	"  -c, --config FILE  the rule file\n"
	"      --helper       as the library runs it: the table (or the error) on\n"
	"                     standard output, nothing else; the sources are given\n"
	"                     by the options below, never by the environment\n"
	"\n"
	"With --helper only (the library's own request):\n"
	"      --stdin        the rule file (-c names it) is standard input, opened by\n"
	"                     the program; without it the rule file is absent\n"
	"      --from-env     the rule file was named by LIBREUSE_CONFIG\n"
	"      --rules TEXT   the program's LIBREUSE_RULES\n"
	"      --cache-dir DIR  where to cache the table (empty: nowhere)\n"
	"      --as EUID:EGID the program's effective ids: run as others, refuse\n";

/* The helper's sources, as the library asked: nothing from the environment,
 * which secure execution of the helper alone (the program had euid != ruid
 * when it started it) would make it ignore, and which is the helper's, not
 * the program's. */
struct helper_ask {
	bool from_stdin, from_env;
	const char *rules, *cache_dir, *as;
};

static int helper_sources(const struct helper_ask *a, const char *file, struct lr_sources *src)
{
	memset(src, 0, sizeof(*src));
	src->config_from_env = a->from_env;
	src->config_fd = a->from_stdin ? 0 : LR_CONFIG_FD_ABSENT;
	src->config_path = strdup(file ? file : "");
	if (a->rules && a->rules[0]) {
		src->inline_rules = strdup(a->rules);
		src->inline_hash = lr_text_hash(a->rules, 0);
	}
	if (a->cache_dir && a->cache_dir[0])
		src->cache_dir = strdup(a->cache_dir);
	if (src->config_path && (!a->rules || !a->rules[0] || src->inline_rules) &&
	    (!a->cache_dir || !a->cache_dir[0] || src->cache_dir))
		return 0;
	lr_sources_free(src);
	return -1;
}

/* The helper reads @include'd files itself: only with the program's own
 * effective ids, so that it reads nothing the program could not have read
 * (a set-ID helper, or one given file capabilities, refuses). */
static const char *helper_ids_differ(const char *as)
{
	unsigned long uid, gid;
	char *end;
	if (!as)
		return NULL;
	uid = strtoul(as, &end, 10);
	if (*end != ':')
		return "bad --as";
	gid = strtoul(end + 1, &end, 10);
	if (*end)
		return "bad --as";
	if (uid != (unsigned long)geteuid() || gid != (unsigned long)getegid())
		return "the rule compiler does not run with the program's ids (is it set-ID?); rules not applied, calls pass through";
	return NULL;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

#ifdef LR_SANITIZER_RUNTIME
/* Set once, by lr_cli_compile when it runs as the library's helper; read
 * by LeakSanitizer at exit. The helper runs with an empty environment (no
 * LSAN_OPTIONS), in secure execution when the program's euid != ruid, and
 * under a tracer with strace -f: there LeakSanitizer cannot stop its world
 * (ptrace is refused) and exits 1, failing the compile. Its leak check is
 * left to the same compile run as `libreuse compile` and `run`. */
static int running_as_helper;
int __lsan_is_turned_off(void);
__attribute__((visibility("default"))) int __lsan_is_turned_off(void)
{
	return running_as_helper;
}
#endif

/* What compile was asked: as the library's helper or not, the rule file,
 * and what the library told its helper. */
struct compile_args {
	bool helper;
	const char *file;
	struct helper_ask ask;
};

/* The arguments; -1 to go on, else the status compile exits with. */
static int parse_compile(int argc, char **argv, struct compile_args *a)
{
	memset(a, 0, sizeof(*a));
	struct helper_ask *ask = &a->ask;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--helper") == 0) {
			a->helper = true;
		} else if (strcmp(argv[i], "--stdin") == 0) {
			ask->from_stdin = true;
		} else if (strcmp(argv[i], "--from-env") == 0) {
			ask->from_env = true;
		} else if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc) {
			ask->rules = argv[++i];
		} else if (strcmp(argv[i], "--cache-dir") == 0 && i + 1 < argc) {
			ask->cache_dir = argv[++i];
		} else if (strcmp(argv[i], "--as") == 0 && i + 1 < argc) {
			ask->as = argv[++i];
		} else if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
			   i + 1 < argc) {
			a->file = argv[++i];
		} else {
			lr_cli_error("compile: unknown argument '%s'", argv[i]);
			fputs(usage, stderr);
			return LR_EXIT_USAGE;
		}
	}
	return -1;
}

/* As the library's helper: its signals as a command's, its ids checked, its
 * sources as the library asked. -1 to go on, else its exit status. */
static int helper_start(const struct compile_args *a, struct lr_sources *src)
{
#ifdef LR_SANITIZER_RUNTIME
	running_as_helper = 1;
#endif
	/* Started with every signal blocked (see src/preload/helper.c). */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	const char *why = helper_ids_differ(a->ask.as);
	if (why) {
		write_all(1, why, strlen(why));
		write_all(1, "\n", 1);
		return LR_EXIT_FAIL;
	}
	if (helper_sources(&a->ask, a->file, src) != 0) {
		write_all(1, "out of memory\n", 14);
		return LR_EXIT_FAIL;
	}
	return -1;
}

/* As a command: the sources this environment gives (and -c). -1 to go on,
 * else its exit status. */
static int command_start(const struct compile_args *a, struct lr_sources *src)
{
	const struct helper_ask *ask = &a->ask;
	if (ask->from_stdin || ask->from_env || ask->rules || ask->cache_dir || ask->as) {
		lr_cli_error("compile: --stdin, --from-env, --rules, --cache-dir and --as go with --helper");
		return LR_EXIT_USAGE;
	}
	if (a->file)
		setenv("LIBREUSE_CONFIG", a->file, 1);
	if (lr_sources_find(src, lr_getenv_own) != 0) {
		lr_cli_error("compile: out of memory");
		return LR_EXIT_FAIL;
	}
	return -1;
}

/* No table made: said to the library (which says it as the program's
 * line) or to the user. No rules at all is no error for the command. */
static int not_made(bool helper, enum lr_make_result r, char *msg, size_t n, const struct lr_sources *src)
{
	if (helper) {
		if (!msg[0])
			snprintf(msg, n, "%s: no such rule file; calls pass through", src->config_path);
		write_all(1, msg, strlen(msg));
		write_all(1, "\n", 1);
	} else if (msg[0]) {
		lr_cli_error("%s", msg);
	} else {
		lr_cli_error("%s: no such rule file, and no LIBREUSE_RULES: nothing to compile", src->config_path);
	}
	return r == LR_MAKE_NOTHING && !helper ? LR_EXIT_OK : LR_EXIT_FAIL;
}

/* The table made: cached, and given to the library that asked, or where it
 * was cached said to the user. */
static int made(bool helper, const struct lr_sources *src, const void *image, size_t len)
{
	const char *why = NULL;
	/* A helper told no cache directory (none fits) caches nothing. */
	int cached = helper && !src->cache_dir ? -1 : lr_cache_write(src, image, len, &why);
	if (helper) /* whether it could be cached or not, this program gets it */
		return write_all(1, image, len) == 0 ? LR_EXIT_OK : LR_EXIT_FAIL;
	if (cached != 0) {
		lr_cli_error("compile: %s: table not cached: %s", src->config_path, why);
		return LR_EXIT_FAIL;
	}
	char dir[4096], path[4200];
	lr_cache_dir(src, dir, sizeof(dir));
	lr_cache_path(src, dir, path, sizeof(path));
	const struct lr_tf_header *h = image;
	printf("%s: %u rule%s compiled into %s (%zu bytes)\n", src->config_path, h->nrules,
	       h->nrules == 1 ? "" : "s", path, len);
	return LR_EXIT_OK;
}

int lr_cli_compile(int argc, char **argv)
{
	if (lr_cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return LR_EXIT_OK;
	}
	struct compile_args a;
	struct lr_sources src;
	int rc = parse_compile(argc, argv, &a);
	if (rc >= 0 || (rc = a.helper ? helper_start(&a, &src) : command_start(&a, &src)) >= 0)
		return rc;
	char msg[1536];
	void *image = NULL;
	size_t len = 0;
	enum lr_make_result r = lr_table_make(&src, &image, &len, msg, sizeof(msg));
	rc = r == LR_MAKE_OK ? made(a.helper, &src, image, len) : not_made(a.helper, r, msg, sizeof(msg), &src);
	free(image);
	lr_sources_free(&src);
	return rc;
}

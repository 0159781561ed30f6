#include "fetch.h"

#include "errname.h"
#include "fileid.h"
#include "helper.h"
#include "sys.h"
#include "table.h"
#include "tablecache.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef LR_BINDIR
#define LR_BINDIR "/usr/bin"
#endif

/* The `libreuse` command that compiles for us: $LIBREUSE_HELPER (not in
 * secure execution), else the one beside this library (a build tree), else
 * the installed one. */
static void helper_path(const struct lr_sources *src, char *out, size_t n)
{
	const char *env = src->secure ? NULL : src->env("LIBREUSE_HELPER");
	if (env && env[0] == '/') {
		snprintf(out, n, "%s", env);
		return;
	}
	Dl_info info;
	if (dladdr((void *)helper_path, &info) && info.dli_fname) {
		const char *slash = strrchr(info.dli_fname, '/');
		if (slash && snprintf(out, n, "%.*s/libreuse", (int)(slash - info.dli_fname),
				      info.dli_fname) < (int)n &&
		    access(out, X_OK) == 0)
			return;
	}
	snprintf(out, n, "%s/libreuse", LR_BINDIR);
}

static struct lr_table *open_image(void *image, size_t len, lr_exe_fn *exe_of, const char *argv0,
				   const char **why)
{
	struct lr_table *t = malloc(sizeof(*t));
	if (!t) {
		*why = "out of memory";
		return NULL;
	}
	/* The program's path is read only for a table with rules that name a
	 * program (lr_table_open checks the header whole; a bad one is refused
	 * there, whatever was read here). */
	const struct lr_tf_header *h = image;
	const char *exe = len >= sizeof(*h) && h->nprogs ? exe_of() : NULL;
	if (lr_table_open(t, image, len, exe, argv0, lr_image_release, why) != 0) {
		free(t);
		return NULL;
	}
	return t;
}

/* The cached table at path, if there is one this process may use; NULL
 * otherwise (a distrusted one is said, once per load). Its directory is
 * path cut at dirlen. Part of every process's first socket(): its calls go
 * through syscall() (sys.h, fileid.h say why). */
static struct lr_table *from_cache(const struct lr_sources *src, const struct lr_file_id *config,
				   char *path, size_t dirlen, lr_exe_fn *exe_of,
				   const char *argv0, struct lr_sink *errors)
{
	struct stat st;
	path[dirlen] = '\0';
	int r = lr_stat_at(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, &st);
	uid_t euid = (uid_t)-1;
	const char *why = r != 0 ? NULL
			  : S_ISDIR(st.st_mode) ? lr_cache_distrust_as(&st, &euid)
			  : "not a directory";
	if (why)
		lr_log_parts(errors, path, ": table cache ignored: ", why);
	path[dirlen] = '/';
	if (r != 0 || why)
		return NULL;
	int fd = lr_sys_open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return NULL;
	why = lr_stat_at(fd, "", AT_EMPTY_PATH, &st) != 0 || !S_ISREG(st.st_mode)
		      ? "not a regular file"
		      : lr_cache_distrust_as(&st, &euid);
	if (!why && (st.st_size < (off_t)sizeof(struct lr_tf_header) ||
		     (uint64_t)st.st_size > LR_TABLE_MAX_BYTES))
		why = "not a libreuse table";
	/* Used in place, read-only: one mapping of the page cache, each page
	 * shared with every program that maps it, none copied. The cache
	 * writes a new table beside the old and renames it over (lr_cache_write):
	 * a mapped table is never rewritten or truncated under the program,
	 * and only its owner (this euid, or root) could do either. */
	void *image = NULL;
	size_t len = 0;
	if (!why) {
		len = (size_t)st.st_size;
		image = lr_sys_mmap(len, PROT_READ, MAP_PRIVATE, fd);
		if (image == MAP_FAILED) {
			image = NULL;
			why = "cannot be mapped";
		}
	}
	lr_sys.close(fd);
	if (why) {
		lr_log_parts(errors, path, ": cached table ignored: ", why);
		return NULL;
	}
	struct lr_table *t = open_image(image, len, exe_of, argv0, &why);
	if (!t) {
		/* Another version's, or damaged: the helper writes a new one. */
		lr_image_release(image, len);
		return NULL;
	}
	if (!lr_table_fresh(t, src, config)) {
		lr_table_free(t);
		return NULL;
	}
	return t;
}

/* Compiled by the helper, told everything through its argv and the rule
 * file opened here, as the program may read it: its environment is empty
 * (the helper may run in secure execution when the program does not, as
 * when the program's euid differs from its ruid), and what it reads itself
 * (@include) it reads with the program's ids, or not at all. Not inlined:
 * its buffers (14 KiB) are on the stack only when the cache missed, not in
 * every first call's frame, where each page of stack they push the calls
 * below into is a page fault. */
static __attribute__((noinline, cold)) struct lr_table *
from_helper(const struct lr_sources *src, const char *dir, lr_exe_fn *exe_of, const char *argv0,
	    struct lr_sink *errors)
{
	char path[PATH_MAX];
	helper_path(src, path, sizeof(path));
	int in = open(src->config_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (in < 0 && errno != ENOENT) {
		char msg[PATH_MAX + 256];
		snprintf(msg, sizeof(msg), "%s: cannot read the rule file: %s; rules not applied, calls pass through",
			 src->config_path, lr_errno_text(errno));
		lr_log_message(errors, msg);
		return NULL;
	}
	char ids[48];
	snprintf(ids, sizeof(ids), "%u:%u", (unsigned)geteuid(), (unsigned)getegid());
	char *argv[16];
	int k = 0;
	argv[k++] = "libreuse";
	argv[k++] = "compile";
	argv[k++] = "--helper";
	argv[k++] = "-c";
	argv[k++] = src->config_path;
	if (in >= 0)
		argv[k++] = "--stdin";
	if (src->config_from_env)
		argv[k++] = "--from-env";
	if (src->inline_rules) {
		argv[k++] = "--rules";
		argv[k++] = src->inline_rules;
	}
	argv[k++] = "--cache-dir";
	argv[k++] = (char *)dir;
	argv[k++] = "--as";
	argv[k++] = ids;
	argv[k] = NULL;
	char *envp[] = { NULL };
	struct lr_helper_out out;
	struct lr_table *t = NULL;
	int ran = lr_helper_run(path, argv, envp, in, &out);
	if (in >= 0)
		lr_sys.close(in);
	if (ran == 0) {
		const char *why = NULL;
		t = open_image(out.image, out.len, exe_of, argv0, &why);
		if (!t) {
			snprintf(out.why, sizeof(out.why), "its table is refused: %s", why);
			lr_image_release(out.image, out.len);
			out.image = NULL;
		}
	}
	if (t)
		return t;
	if (out.image && out.len && ((const char *)out.image)[0] != '\177') {
		/* The helper's own words: the rule file's error, FILE:LINE. */
		char msg[1536];
		size_t n = out.len < sizeof(msg) - 1 ? out.len : sizeof(msg) - 1;
		memcpy(msg, out.image, n);
		msg[n] = '\0';
		char *nl = strchr(msg, '\n');
		if (nl)
			*nl = '\0';
		lr_log_message(errors, msg);
	} else {
		char msg[2 * PATH_MAX + 512];
		snprintf(msg, sizeof(msg), "%s: the rule compiler (%s) failed: %s; rules not applied, calls pass through",
			 src->config_path, path, out.why);
		lr_log_message(errors, msg);
	}
	lr_image_release(out.image, out.len);
	return NULL;
}

struct lr_loaded *lr_fetch(const struct lr_sources *src, const struct lr_file_id *config,
			   lr_exe_fn *exe_of, const char *argv0, struct lr_sink *errors)
{
	if (!src->config_path)
		return NULL;
	if (!src->inline_rules && !config->exists && config->missing) {
		/* Nothing to compile: no helper for it. */
		if (src->config_from_env)
			lr_log_parts(errors, src->config_path,
				     ": no such rule file (LIBREUSE_CONFIG); calls pass through", NULL);
		return NULL;
	}
	/* The cache's directory and the table's path in it, in one buffer:
	 * the directory is the path cut at dirlen (empty: no cache). */
	char path[PATH_MAX + 64];
	size_t dirlen = 0;
	struct lr_table *t = NULL;
	if (lr_cache_dir(src, path, PATH_MAX) == 0) {
		dirlen = strlen(path);
		if (lr_cache_path(src, "", path + dirlen, sizeof(path) - dirlen) == 0)
			t = from_cache(src, config, path, dirlen, exe_of, argv0, errors);
		else
			dirlen = 0;
	}
	path[dirlen] = '\0';
	if (!t)
		t = from_helper(src, path, exe_of, argv0, errors);
	if (t && t->io_uring_refuse)
		/* Said at each load of such rules: a reload is rare, and a rule
		 * the program escapes is worth a line each time. */
		lr_log_message(errors, "io_uring = \"refuse\" is not carried out here: inside a program "
				       "libreuse sees the socket calls made through libc, not the system "
				       "calls a ring library makes itself; the seccomp supervisor "
				       "(libreuse run --seccomp) refuses them");
	return t ? lr_loaded_of(t, errors) : NULL;
}

/* libreuse compile: the rules → the table the library reads, written to the
 * cache where the library looks. The library runs this itself (--helper)
 * when it finds no fresh table, so that no parser ever runs inside a
 * program; run and check do it before the program starts. */
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
	"                     standard output, nothing else\n";

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

int lr_cli_compile(int argc, char **argv)
{
	if (lr_cli_wants_help(argc, argv)) {
		fputs(usage, stdout);
		return LR_EXIT_OK;
	}
	bool helper = false;
	const char *file = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--helper") == 0) {
			helper = true;
		} else if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
			   i + 1 < argc) {
			file = argv[++i];
		} else {
			lr_cli_error("compile: unknown argument '%s'", argv[i]);
			fputs(usage, stderr);
			return LR_EXIT_USAGE;
		}
	}
	if (helper) {
		/* Started with every signal blocked (see src/preload/helper.c). */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	if (file)
		setenv("LIBREUSE_CONFIG", file, 1);
	struct lr_sources src;
	if (lr_sources_find(&src, lr_getenv_own) != 0) {
		lr_cli_error("compile: out of memory");
		return LR_EXIT_FAIL;
	}
	char msg[1536];
	void *image = NULL;
	size_t len = 0;
	enum lr_make_result r = lr_table_make(&src, &image, &len, msg, sizeof(msg));
	if (r != LR_MAKE_OK) {
		if (helper) {
			/* The library says it as the program's line. */
			if (!msg[0])
				snprintf(msg, sizeof(msg), "%s: no rules", src.config_path);
			write_all(1, msg, strlen(msg));
			write_all(1, "\n", 1);
		} else if (msg[0]) {
			lr_cli_error("%s", msg);
		} else {
			lr_cli_error("%s: no rules to compile", src.config_path);
		}
		lr_sources_free(&src);
		return r == LR_MAKE_NOTHING && !helper ? LR_EXIT_OK : LR_EXIT_FAIL;
	}
	const char *why = NULL;
	int cached = lr_cache_write(&src, image, len, &why);
	int rc = LR_EXIT_OK;
	if (helper) {
		/* Whether it could be cached or not, this program gets it. */
		rc = write_all(1, image, len) == 0 ? LR_EXIT_OK : LR_EXIT_FAIL;
	} else if (cached != 0) {
		lr_cli_error("compile: %s: table not cached: %s", src.config_path, why);
		rc = LR_EXIT_FAIL;
	} else {
		char dir[4096], path[4200];
		lr_cache_dir(&src, dir, sizeof(dir));
		lr_cache_path(&src, dir, path, sizeof(path));
		const struct lr_tf_header *h = image;
		printf("%s: %u rule%s compiled into %s (%zu bytes)\n", src.config_path, h->nrules,
		       h->nrules == 1 ? "" : "s", path, len);
	}
	free(image);
	lr_sources_free(&src);
	return rc;
}

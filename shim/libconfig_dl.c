#include "libconfig_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#ifndef LR_LIBCONFIG_SONAME
#define LR_LIBCONFIG_SONAME "libconfig.so.9"
#endif

/* Written once under `once`, read-only afterwards. The handle is never
 * closed: reloads parse again, and a table's strings never point into it. */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct lr_libconfig fns;
static const struct lr_libconfig *loaded;
static char failure[256];

static void load(void)
{
	/* RTLD_LOCAL: the host's own symbol lookups never land in it. */
	void *h = dlopen(LR_LIBCONFIG_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(failure, sizeof(failure), "cannot load %s: %s", LR_LIBCONFIG_SONAME,
			 e ? e : "unknown error");
		return;
	}
	struct {
		void **slot;
		const char *name;
	} want[] = {
		{ (void **)&fns.init, "config_init" },
		{ (void **)&fns.destroy, "config_destroy" },
		{ (void **)&fns.read_string, "config_read_string" },
		{ (void **)&fns.set_include_dir, "config_set_include_dir" },
		{ (void **)&fns.length, "config_setting_length" },
		{ (void **)&fns.get_elem, "config_setting_get_elem" },
		{ (void **)&fns.get_bool, "config_setting_get_bool" },
		{ (void **)&fns.get_int64, "config_setting_get_int64" },
		{ (void **)&fns.get_string, "config_setting_get_string" },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		*want[i].slot = dlsym(h, want[i].name);
		if (!*want[i].slot) {
			snprintf(failure, sizeof(failure), "%s has no %s", LR_LIBCONFIG_SONAME,
				 want[i].name);
			return;
		}
	}
	loaded = &fns;
}

const struct lr_libconfig *lr_libconfig(char *why, size_t whylen)
{
	pthread_once(&once, load);
	if (!loaded && whylen)
		snprintf(why, whylen, "%s", failure);
	return loaded;
}

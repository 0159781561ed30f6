#include "libconfig_dl.h"

#include <dlfcn.h>
#include <stdio.h>

#ifndef LR_LIBCONFIG_SONAME
#define LR_LIBCONFIG_SONAME "libconfig.so.9"
#endif

/* Touched only by lr_libconfig, whose callers never run it concurrently
 * (state.c calls it under its start-up once or its reload flag; the command
 * and the tests are single-threaded). A failed attempt (out of memory, say)
 * is tried again at the next parse rather than remembered for good. The
 * handle is never closed: a table's strings never point into libconfig, but
 * reloads parse again. */
static struct lr_libconfig fns;
static const struct lr_libconfig *loaded;

static void load(char *why, size_t whylen)
{
	/* RTLD_LOCAL: the host's own symbol lookups never land in it. */
	void *h = dlopen(LR_LIBCONFIG_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(why, whylen, "cannot load %s: %s", LR_LIBCONFIG_SONAME,
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
			snprintf(why, whylen, "%s has no %s", LR_LIBCONFIG_SONAME, want[i].name);
			dlclose(h);
			return;
		}
	}
	loaded = &fns;
}

const struct lr_libconfig *lr_libconfig(char *why, size_t whylen)
{
	if (!loaded)
		load(why, whylen);
	return loaded;
}

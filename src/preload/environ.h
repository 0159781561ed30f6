/* The environment that governs the process: the one it started with,
 * captured once at load. A program may clear, rebuild or overwrite its
 * environment before its first socket call (exim, daemons that sanitise it,
 * setproctitle in nginx and postgres); its rules and its log stay those it
 * was started under. Only what libreuse reads is kept, in the library's own
 * memory. */
#ifndef LIBREUSE_ENVIRON_H
#define LIBREUSE_ENVIRON_H

#include <stdbool.h>

/* Captures from envp (the constructor's third argument), or from `environ`
 * when envp is NULL (a hook that runs before the constructor). Idempotent:
 * the first call wins. Allocates: call it at load, not on a hook's path
 * after start-up (every getter below calls it once, at worst). */
void lr_env_capture(char **envp);

/* The value name had at start; NULL if unset, or if the process runs in
 * secure execution (AT_SECURE), where the library honours none of its
 * variables. The string lives as long as the library. */
const char *lr_env_get(const char *name);

/* NULL-terminated "NAME=value" strings: every LIBREUSE_* entry and
 * LD_PRELOAD as at start, for a child exec'd with an environment that no
 * longer carries them. Empty (just the NULL) in secure execution: a set-ID
 * program that dropped the caller's environment must not hand it to a
 * child that runs with its privileges. */
char *const *lr_env_carried(void);

/* False when the environment could not be kept (out of memory at load):
 * then lr_env_get knows nothing, and the load says so. */
bool lr_env_complete(void);

/* Whether the process runs in secure execution (AT_SECURE), decided once. */
bool lr_env_secure(void);

/* Whether LD_PRELOAD at start named a library after libreuse's (a name whose file name is
 * libreuse.so, as every build and package names it): one loaded after
 * it, whose hooks are what libreuse reaches as the next definitions. True
 * too, with more than one name, when none is libreuse's (it came some
 * other way). */
bool lr_env_preloads_after_self(void);

#endif

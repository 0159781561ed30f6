/* How a layer reads the environment that governs it, without knowing whose
 * it is: the library's is the environment the program started with
 * (lr_env_get), the command's its own (secure_getenv). */
#ifndef LIBREUSE_GETENV_H
#define LIBREUSE_GETENV_H

/* NULL when unset or not honoured. */
typedef const char *lr_getenv_fn(const char *name);

#endif

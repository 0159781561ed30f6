/* What `libreuse run` tells the library in the program's environment, so
 * that the exec hooks (src/preload/exec.c) can rule every program of the
 * tree as run would rule it alone. Carried to children like every
 * LIBREUSE_* variable. */
#ifndef LIBREUSE_RUNENV_H
#define LIBREUSE_RUNENV_H

/* The command itself (an absolute path): set only when run preloads the
 * library, which then starts static and Go children under `LIBREUSE_RUN run
 * --seccomp --exec-child --argv0 ARGV0 -- PATH ARGS...`. */
#define LR_ENV_RUN "LIBREUSE_RUN"
/* The library for each kind of dynamic program, where one is installed:
 * x86-64 glibc, i386 glibc, x86-64 musl. */
#define LR_ENV_LIB "LIBREUSE_LIB"
#define LR_ENV_LIB32 "LIBREUSE_LIB32"
#define LR_ENV_LIB_MUSL "LIBREUSE_LIB_MUSL"

#endif

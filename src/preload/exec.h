/* The exec family, hooked: under `libreuse run` (LIBREUSE_RUN in the
 * environment the process started with) every program the process starts
 * is ruled as it would be alone. A child whose environment lost what run
 * set gets it back; a child of another libc or class gets the library
 * built for it in LD_PRELOAD; a static, Go or x32 child (or one no library
 * is installed for) is started as `libreuse run --seccomp -- CHILD`; a
 * set-ID child, which neither way can reach, is named in one line. Outside
 * run every call passes straight through.
 *
 * Async-signal-safe: a program may exec between vfork and exec, where
 * nothing may be allocated or locked. The new argv, envp and LD_PRELOAD
 * are built on the stack; the target is read with open/pread. */
#ifndef LIBREUSE_PRELOAD_EXEC_H
#define LIBREUSE_PRELOAD_EXEC_H

#endif

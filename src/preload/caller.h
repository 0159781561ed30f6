/* The shim as a front end of the core: its calls reach the program's own
 * socket through libc's real functions, what it knows of each socket is the
 * per-fd state, and its log lines name this process. */
#ifndef LIBREUSE_CALLER_H
#define LIBREUSE_CALLER_H

#include "act.h"

/* Filled once by lr_caller_init (at the first rule load, before any call
 * reaches the core), read-only afterwards. */
extern struct lr_caller lr_shim;

void lr_caller_init(const char *program);

#endif

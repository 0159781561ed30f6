/* A once for the captures every process makes at load (its environment,
 * its stderr), in place of pthread_once: that is a libc function, and the
 * first call of each libc function from the library costs every process a
 * symbol lookup (about 800 instructions) whether it opens a socket or not. */
#ifndef LIBREUSE_ONCE_H
#define LIBREUSE_ONCE_H

#include <stdatomic.h>

enum { LR_ONCE_IDLE, LR_ONCE_RUNNING, LR_ONCE_DONE };
typedef atomic_int lr_once_t;
#define LR_ONCE_INIT LR_ONCE_IDLE

/* Runs fn once; a caller that meets it running waits, spinning, for it to
 * end. Only for a fn that is short, never blocks and calls nothing that
 * comes back here: no lock, and (unlike pthread_once) nothing undone in a
 * fork child of a process that forked while fn ran, which would spin. The
 * captures run in the library's constructor, before the program's main
 * and its threads. */
static inline void lr_once(lr_once_t *o, void (*fn)(void))
{
	if (atomic_load_explicit(o, memory_order_acquire) == LR_ONCE_DONE)
		return;
	int idle = LR_ONCE_IDLE;
	if (atomic_compare_exchange_strong(o, &idle, LR_ONCE_RUNNING)) {
		fn();
		atomic_store_explicit(o, LR_ONCE_DONE, memory_order_release);
		return;
	}
	while (atomic_load_explicit(o, memory_order_acquire) != LR_ONCE_DONE)
		;
}

#endif

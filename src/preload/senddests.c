#include "senddests.h"

/* 2 MiB of zero pages: only the pages of numbers a followed sender had are
 * touched (4 KiB per 128 fds). In x86-64's large-data section, after every
 * other zeroed variable: in the middle of .bss it would spread the small
 * ones a first socket() touches over more pages (3 more faults,
 * t_firstcost.sh). Other targets have no such section: there it is plain
 * .bss. */
#if defined(__x86_64__)
__attribute__((section(".lbss")))
#endif
_Atomic uint64_t lr_senddests[LR_FD_TRACKED][LR_SEND_DESTS];
atomic_uint lr_senddests_top;

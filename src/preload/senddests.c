#include "senddests.h"

#include "pages.h"

/* 2 MiB of zero pages: only the pages of numbers a followed sender had are
 * touched (4 KiB per 128 fds). */
LR_ZERO_PAGES _Atomic uint64_t lr_senddests[LR_FD_TRACKED][LR_SEND_DESTS];
atomic_uint lr_senddests_top;

#include "fdstate.h"

#include "pages.h"

/* 128 KiB of zero pages: only the pages of fds the host uses are touched. */
LR_ZERO_PAGES _Atomic uint16_t lr_fdstate[LR_FD_TRACKED];

/* 256 KiB of zero pages, touched only where the host sets a carried option. */
LR_ZERO_PAGES _Atomic uint32_t lr_fdopts[LR_FD_TRACKED];

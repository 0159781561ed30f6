#include "fdstate.h"

/* 128 KiB of zero pages: only the pages of fds the host uses are touched. */
_Atomic uint16_t lr_fdstate[LR_FD_TRACKED];

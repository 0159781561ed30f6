/* errno values by name and their English text, for rule files ("EACCES")
 * and log lines; signal names. The lookups from a value are async-signal-safe. */
#ifndef LIBREUSE_ERRNAME_H
#define LIBREUSE_ERRNAME_H

/* "EACCES" → 13; 0 when the name is unknown. */
int lr_errno_from_name(const char *name);
/* 13 → "EACCES"; "E?" when unknown. Never NULL. */
const char *lr_errno_name(int e);
/* 13 → "Permission denied", in English whatever the locale. Never NULL. */
const char *lr_errno_text(int e);
/* 15 → "TERM", as glibc's sigabbrev_np; NULL for a real-time signal or an
 * unknown one. */
const char *lr_signal_abbrev(int sig);

#endif

/* errno values by name and their English text, for rule files ("EACCES")
 * and log lines. The lookups from a value are async-signal-safe. */
#ifndef LIBREUSE_ERRNAME_H
#define LIBREUSE_ERRNAME_H

/* "EACCES" → 13; 0 when the name is unknown. */
int lr_errno_from_name(const char *name);
/* 13 → "EACCES"; "E?" when unknown. Never NULL. */
const char *lr_errno_name(int e);
/* 13 → "Permission denied", in English whatever the locale. Never NULL. */
const char *lr_errno_text(int e);

#endif

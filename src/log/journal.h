/* The journal log target: each event one datagram in systemd-journald's
 * native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL), the human line as
 * MESSAGE beside fields of its own (LIBREUSE_OP, LIBREUSE_PORT,
 * LIBREUSE_PROGRAM...) and the whole JSON line as LIBREUSE_JSON, so that
 * `journalctl LIBREUSE_PORT=8080` filters and `libreuse audit --journal`
 * reads it back. Sent as syslog lines are: a socket per line, MSG_DONTWAIT,
 * stack buffers only; a journal that is absent, restarting or full costs a
 * dropped (and counted) line, never a blocked call. */
#ifndef LIBREUSE_JOURNAL_H
#define LIBREUSE_JOURNAL_H

#include "log.h"

#include <stdbool.h>
#include <sys/types.h>

#define LR_JOURNAL_PATH "/run/systemd/journal/socket"

/* Sends ev (said by pid) at the syslog priority given; false when the
 * journal did not take it. errno is the caller's to keep. */
bool lr_journal_send(const struct lr_event *ev, pid_t pid, int priority);

#endif

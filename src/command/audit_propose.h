/* --propose DIR: from the trail, per program, the smallest rules and systemd
 * units that make it restart with nothing lost, each line citing the
 * evidence it rests on (which calls, how many). Nothing is proposed that
 * the trail does not show. */
#ifndef LIBREUSE_AUDIT_PROPOSE_H
#define LIBREUSE_AUDIT_PROPOSE_H

#include "audit_model.h"

struct au_propose_opts {
	const char *dir;
	char **cmd; /* the command audited, when it was run by the audit: a whole unit */
};

/* Writes DIR/NAME.conf, NAME.socket and NAME.service (or, without a command
 * line, the drop-in NAME.service.d/libreuse.conf) per program with a
 * listener; prints what it wrote on stderr. 0, or -1 after saying why. */
int au_propose(const struct au_model *m, const struct au_propose_opts *o);

#endif

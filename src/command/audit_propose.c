#include "audit_propose.h"

int au_propose(const struct au_model *m, const struct au_propose_opts *o)
{
	(void)m;
	(void)o;
	return -1;
}

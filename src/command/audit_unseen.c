#include "audit_unseen.h"

#include "../core/addr.h"
#include "../core/holders.h"
#include "../core/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool audited_pid(const struct au_model *m, int pid)
{
	for (size_t i = 0; i < m->nprogs; i++)
		for (size_t j = 0; j < m->progs[i].nprocs; j++)
			if (m->progs[i].procs[j].pid == pid)
				return true;
	return false;
}

/* The parent of pid, from /proc/PID/stat (after the last ')': the name may
 * hold anything); 0 when unknown. */
static int parent_of(int pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *close = strrchr(buf, ')');
	int ppid = 0;
	char state;
	if (!close || sscanf(close + 1, " %c %d", &state, &ppid) != 2)
		return 0;
	return ppid;
}

/* A socket is explained when its owner, or an ancestor of its owner (a
 * forked worker inherits its parent's listeners without a call of its own),
 * is an audited process. */
static bool explained(const struct au_model *m, int pid)
{
	for (int depth = 0; pid > 1 && depth < 64; depth++) {
		if (audited_pid(m, pid))
			return true;
		pid = parent_of(pid);
	}
	return false;
}

static void add(struct au_prog *p, const struct lr_holder *h)
{
	struct au_unseen *bigger = realloc(p->unseen, (p->nunseen + 1) * sizeof(*bigger));
	if (!bigger)
		return;
	p->unseen = bigger;
	struct au_unseen *u = &bigger[p->nunseen++];
	memset(u, 0, sizeof(*u));
	snprintf(u->proto, sizeof(u->proto), "%s", h->proto == LR_PROTO_TCP ? "tcp" : "udp");
	snprintf(u->state, sizeof(u->state), "%s", lr_holder_state_name(h));
	lr_format_addr(u->addr, sizeof(u->addr), &h->addr, -1);
	u->port = h->port;
	u->pid = h->pid;
	snprintf(u->program, sizeof(u->program), "%s", h->pid ? h->program : "");
}

void au_unseen_check(struct au_model *m)
{
	for (size_t i = 0; i < m->nprogs; i++) {
		struct au_prog *p = &m->progs[i];
		p->unseen_checked = true;
		for (size_t j = 0; j < p->nsocks; j++) {
			const struct au_sock *s = &p->socks[j];
			if (!au_is_listener(s))
				continue;
			uint8_t proto = strcmp(s->proto, "tcp") == 0 ? LR_PROTO_TCP : LR_PROTO_UDP;
			/* One look per protocol and port, however many addresses. */
			bool asked = false;
			for (size_t k = 0; k < j; k++)
				asked |= au_is_listener(&p->socks[k]) &&
					 strcmp(p->socks[k].proto, s->proto) == 0 &&
					 p->socks[k].eff_port == s->eff_port;
			if (asked)
				continue;
			struct lr_holders hs;
			if (lr_holders_find(proto, (uint16_t)s->eff_port, &hs) != 0)
				continue;
			for (size_t k = 0; k < hs.n; k++) {
				const struct lr_holder *h = &hs.h[k];
				bool live = proto == LR_PROTO_TCP ? h->state == LR_ST_LISTEN
								  : h->state == LR_ST_CLOSE;
				if (live && !(h->pid && explained(m, h->pid)))
					add(p, h);
			}
		}
	}
}

#include "audit_unseen.h"

#include "addr.h"
#include "holders.h"
#include "rules.h"

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

static void add_to(struct au_unseen **list, size_t *n, const struct lr_holder *h)
{
	struct au_unseen *bigger = realloc(*list, (*n + 1) * sizeof(*bigger));
	if (!bigger)
		return;
	*list = bigger;
	struct au_unseen *u = &bigger[(*n)++];
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
					add_to(&p->unseen, &p->nunseen, h);
			}
		}
	}
}

/* The local ports of the sockets in one /proc/net table in state (0A:
 * LISTEN, 07: a bound UDP socket), added to ports[] once each. */
static void ports_in(const char *path, const char *state, uint16_t *ports, size_t *n, size_t max)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[512];
	unsigned port;
	char local[64], st[8];
	while (fgets(line, sizeof(line), f)) {
		/* "  0: 0100007F:1F90 00000000:0000 0A ..." */
		if (sscanf(line, " %*[0-9]: %63[0-9A-Fa-f]:%x %*s %7s", local, &port, st) != 3 ||
		    strcmp(st, state) != 0 || port == 0 || port > 65535)
			continue;
		bool known = false;
		for (size_t i = 0; i < *n; i++)
			known |= ports[i] == port;
		if (!known && *n < max)
			ports[(*n)++] = (uint16_t)port;
	}
	fclose(f);
}

void au_unseen_check_host(struct au_model *m)
{
	static const struct {
		const char *path, *state;
		uint8_t proto;
	} tables[] = {
		{ "/proc/net/tcp", "0A", LR_PROTO_TCP },  { "/proc/net/tcp6", "0A", LR_PROTO_TCP },
		{ "/proc/net/udp", "07", LR_PROTO_UDP },  { "/proc/net/udp6", "07", LR_PROTO_UDP },
	};
	m->host_checked = true;
	for (size_t t = 0; t < 4; t += 2) {
		uint16_t ports[4096];
		size_t n = 0;
		ports_in(tables[t].path, tables[t].state, ports, &n, 4096);
		ports_in(tables[t + 1].path, tables[t + 1].state, ports, &n, 4096);
		for (size_t i = 0; i < n; i++) {
			struct lr_holders hs;
			if (lr_holders_find(tables[t].proto, ports[i], &hs) != 0)
				continue;
			for (size_t k = 0; k < hs.n; k++) {
				const struct lr_holder *h = &hs.h[k];
				bool live = tables[t].proto == LR_PROTO_TCP ? h->state == LR_ST_LISTEN
									    : h->state == LR_ST_CLOSE;
				if (live && !(h->pid && explained(m, h->pid)))
					add_to(&m->host_unseen, &m->nhost_unseen, h);
			}
		}
	}
}

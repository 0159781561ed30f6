#include "audit_model.h"

#include "audit_json.h"

#include "rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void au_model_init(struct au_model *m)
{
	memset(m, 0, sizeof(*m));
}

void au_model_free(struct au_model *m)
{
	for (size_t i = 0; i < m->nprogs; i++) {
		struct au_prog *p = &m->progs[i];
		free(p->procs);
		free(p->socks);
		free(p->conns);
		free(p->sends);
		free(p->actions);
		free(p->fails);
		free(p->unseen);
	}
	free(m->progs);
	free(m->host_unseen);
	memset(m, 0, sizeof(*m));
}

/* Grows *arr by one zeroed element; NULL when memory ran out (the line is
 * then dropped from the report, which says nothing false about it). */
static void *grow(void **arr, size_t *n, size_t size)
{
	void *bigger = realloc(*arr, (*n + 1) * size);
	if (!bigger)
		return NULL;
	*arr = bigger;
	void *e = (char *)bigger + *n * size;
	memset(e, 0, size);
	(*n)++;
	return e;
}

/* Every string kept comes from a log anyone may have written: control
 * characters (C0, DEL, and C1 — a terminal's escape sequences among them)
 * and bytes that are not UTF-8 become '?', so the text report prints
 * nothing but text. A sequence cut by the size limit is cut whole. */
static void copy(char *dst, size_t n, const char *src)
{
	const unsigned char *s = (const unsigned char *)(src ? src : "");
	size_t j = 0;
	while (*s && j + 1 < n) {
		size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
			   : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
		for (size_t i = 1; i < len; i++)
			if ((s[i] & 0xc0) != 0x80)
				len = 0;
		bool control = s[0] < 0x20 || s[0] == 0x7f || (s[0] == 0xc2 && len == 2 && s[1] < 0xa0) ||
			       (len == 2 && s[0] < 0xc2);
		if (!len || control) {
			dst[j++] = '?';
			s += len ? len : 1;
			continue;
		}
		if (j + len >= n)
			break;
		memcpy(dst + j, s, len);
		j += len;
		s += len;
	}
	dst[j] = '\0';
}

struct au_prog *au_model_find(struct au_model *m, const char *name)
{
	for (size_t i = 0; i < m->nprogs; i++)
		if (strcmp(m->progs[i].name, name) == 0)
			return &m->progs[i];
	return NULL;
}

static unsigned options(const struct aj *ev, const char *key)
{
	const struct aj *a = aj_get(ev, key);
	unsigned bits = 0;
	for (const struct aj *e = a && a->type == AJ_ARR ? a->child : NULL; e; e = e->next) {
		if (e->type != AJ_STR)
			continue;
		if (strcmp(e->str, "SO_REUSEADDR") == 0)
			bits |= LR_OPT_REUSEADDR;
		else if (strcmp(e->str, "SO_REUSEPORT") == 0)
			bits |= LR_OPT_REUSEPORT;
	}
	return bits;
}

static void see_process(struct au_prog *p, int pid, const char *ts)
{
	struct au_proc *x = NULL;
	for (size_t i = 0; i < p->nprocs; i++)
		if (p->procs[i].pid == pid)
			x = &p->procs[i];
	if (!x) {
		if (!(x = grow((void **)&p->procs, &p->nprocs, sizeof(*x))))
			return;
		x->pid = pid;
	}
	if (!ts)
		return;
	/* ISO 8601 in UTC, one format: the strings order as the times do. */
	if (!x->first[0] || strcmp(ts, x->first) < 0)
		copy(x->first, sizeof(x->first), ts);
	if (strcmp(ts, x->last) > 0)
		copy(x->last, sizeof(x->last), ts);
}

/* The socket a bind, listen or action is about: what the program asked for. */
static struct au_sock *sock_for(struct au_prog *p, const char *proto, const char *addr, int port)
{
	for (size_t i = 0; i < p->nsocks; i++) {
		struct au_sock *s = &p->socks[i];
		if (strcmp(s->proto, proto) == 0 && strcmp(s->addr, addr) == 0 && s->port == port)
			return s;
	}
	struct au_sock *s = grow((void **)&p->socks, &p->nsocks, sizeof(*s));
	if (s) {
		copy(s->proto, sizeof(s->proto), proto);
		copy(s->addr, sizeof(s->addr), addr);
		s->port = port;
		s->eff_port = port;
		copy(s->eff_addr, sizeof(s->eff_addr), addr);
	}
	return s;
}

/* A listen names the port the kernel chose; the bind before it asked for
 * port 0. The bind's entry takes the listen, and the port it got. */
static struct au_sock *ephemeral(struct au_prog *p, const char *proto, const char *addr, int port)
{
	for (size_t i = 0; i < p->nsocks; i++) {
		struct au_sock *s = &p->socks[i];
		if (strcmp(s->proto, proto) == 0 && strcmp(s->addr, addr) == 0 && s->port == port &&
		    s->binds)
			return NULL;
	}
	for (size_t i = 0; i < p->nsocks; i++) {
		struct au_sock *s = &p->socks[i];
		if (strcmp(s->proto, proto) == 0 && strcmp(s->eff_addr, addr) == 0 && s->port == 0 &&
		    s->binds > s->failed && (s->eff_port == 0 || s->eff_port == port)) {
			s->eff_port = port;
			return s;
		}
	}
	return NULL;
}

/* The entry of a destination in a list of them (connects, or sends). */
static struct au_conn *dest_in(struct au_conn **list, size_t *n, const char *proto,
			       const char *addr, int port)
{
	for (size_t i = 0; i < *n; i++) {
		struct au_conn *c = &(*list)[i];
		if (strcmp(c->proto, proto) == 0 && strcmp(c->addr, addr) == 0 && c->port == port)
			return c;
	}
	struct au_conn *c = grow((void **)list, n, sizeof(*c));
	if (c) {
		copy(c->proto, sizeof(c->proto), proto);
		copy(c->addr, sizeof(c->addr), addr);
		c->port = port;
	}
	return c;
}

static struct au_conn *conn_for(struct au_prog *p, const char *proto, const char *addr, int port)
{
	return dest_in(&p->conns, &p->nconns, proto, addr, port);
}

static struct au_conn *send_for(struct au_prog *p, const char *proto, const char *addr, int port)
{
	return dest_in(&p->sends, &p->nsends, proto, addr, port);
}

static void add_word(char *list, size_t n, const char *word)
{
	size_t wl = strlen(word);
	for (const char *s = list; (s = strstr(s, word)); s += wl)
		if ((s == list || s[-1] == ',') && (s[wl] == ',' || !s[wl]))
			return;
	size_t used = strlen(list);
	if (used + wl + 2 > n)
		return;
	snprintf(list + used, n - used, "%s%s", used ? "," : "", word);
}

/* "pid 12 (nginx) LISTEN" for the first holder, "+N" when there are more. */
static void holder_text(const struct aj *ev, char *out, size_t n)
{
	out[0] = '\0';
	const struct aj *h = aj_get(ev, "holders");
	if (!h || h->type != AJ_ARR || !h->child || h->child->type != AJ_OBJ)
		return;
	const struct aj *x = h->child;
	long pid = aj_int(x, "pid", 0);
	const char *prog = aj_str(x, "program"), *state = aj_str(x, "state");
	size_t more = 0;
	for (const struct aj *e = x->next; e; e = e->next)
		more++;
	char extra[32] = "";
	if (more)
		snprintf(extra, sizeof(extra), " and %zu more", more);
	if (pid > 0)
		snprintf(out, n, "pid %ld (%s) %s%s", pid, prog ? prog : "?", state ? state : "", extra);
	else
		snprintf(out, n, "%s%s", state ? state : "unknown", extra);
}

static void add_fail(struct au_prog *p, const struct aj *ev, bool denied)
{
	const char *op = aj_str(ev, "op"), *proto = aj_str(ev, "proto"), *addr = aj_str(ev, "addr");
	const char *err = denied ? aj_str(ev, "message") : aj_str(ev, "errno");
	int port = (int)aj_int(ev, "port", 0), rule = (int)aj_int(ev, "rule", 0);
	char holder[96];
	holder_text(ev, holder, sizeof(holder));
	const char *reason = aj_str(ev, "reason");
	for (size_t i = 0; i < p->nfails; i++) {
		struct au_fail *f = &p->fails[i];
		if (strcmp(f->op, op ? op : "") == 0 && strcmp(f->proto, proto ? proto : "") == 0 &&
		    strcmp(f->addr, addr ? addr : "") == 0 && f->port == port &&
		    strcmp(f->err, err ? err : "") == 0 && strcmp(f->holder, holder) == 0 &&
		    f->denied == denied) {
			f->count++;
			return;
		}
	}
	struct au_fail *f = grow((void **)&p->fails, &p->nfails, sizeof(*f));
	if (!f)
		return;
	copy(f->op, sizeof(f->op), op);
	copy(f->proto, sizeof(f->proto), proto);
	copy(f->addr, sizeof(f->addr), addr);
	copy(f->err, sizeof(f->err), err);
	copy(f->holder, sizeof(f->holder), holder);
	copy(f->reason, sizeof(f->reason), reason);
	f->port = port;
	f->count = 1;
	f->denied = denied;
	f->rule = rule;
}

static void add_action(struct au_prog *p, const struct aj *ev, const char *action)
{
	const char *op = aj_str(ev, "op"), *proto = aj_str(ev, "proto"), *addr = aj_str(ev, "addr");
	int port = (int)aj_int(ev, "port", 0), rule = (int)aj_int(ev, "rule", 0);
	for (size_t i = 0; i < p->nactions; i++) {
		struct au_action *a = &p->actions[i];
		if (a->rule == rule && strcmp(a->action, action) == 0 &&
		    strcmp(a->op, op ? op : "") == 0 && strcmp(a->proto, proto ? proto : "") == 0 &&
		    strcmp(a->addr, addr ? addr : "") == 0 && a->port == port) {
			a->count++;
			return;
		}
	}
	struct au_action *a = grow((void **)&p->actions, &p->nactions, sizeof(*a));
	if (!a)
		return;
	a->rule = rule;
	copy(a->action, sizeof(a->action), action);
	copy(a->op, sizeof(a->op), op);
	copy(a->proto, sizeof(a->proto), proto);
	copy(a->addr, sizeof(a->addr), addr);
	copy(a->message, sizeof(a->message), aj_str(ev, "message"));
	a->port = port;
	a->count = 1;
}

/* A successful listen's backlog, when its line carries one. */
static void see_backlog(struct au_sock *s, const struct aj *ev)
{
	const struct aj *b = aj_get(ev, "backlog");
	if (!b || b->type != AJ_NUM || aj_int(ev, "result", -1) != 0)
		return;
	int n = (int)aj_int(ev, "backlog", 0);
	if (!s->has_backlog || n > s->backlog)
		s->backlog = n;
	if (!s->has_backlog || n < s->backlog_min)
		s->backlog_min = n;
	s->has_backlog = true;
}

static bool is_ok_connect(const struct aj *ev)
{
	if (aj_int(ev, "result", -1) == 0)
		return true;
	/* A non-blocking connect under way: not a failure the log can see. */
	const char *e = aj_str(ev, "errno");
	return e && strcmp(e, "EINPROGRESS") == 0;
}

bool au_model_event(struct au_model *m, const struct aj *ev, const char *path)
{
	const char *event = aj_str(ev, "event"), *name = aj_str(ev, "program");
	long pid = aj_int(ev, "pid", -1);
	if (!event || pid < 0 || !aj_str(ev, "ts"))
		return false;
	if (!name || !name[0])
		name = "?";
	struct au_prog *p = au_model_find(m, name);
	if (!p) {
		if (!(p = grow((void **)&m->progs, &m->nprogs, sizeof(*p))))
			return true;
		copy(p->name, sizeof(p->name), name);
	}
	if (path && path[0] && !p->path[0])
		copy(p->path, sizeof(p->path), path);
	p->lines++;
	see_process(p, (int)pid, aj_str(ev, "ts"));

	const char *op = aj_str(ev, "op"), *proto = aj_str(ev, "proto"), *addr = aj_str(ev, "addr");
	int port = (int)aj_int(ev, "port", 0);
	bool sockish = op && proto && addr;

	if (strcmp(event, "verdict") == 0) {
		const char *msg = aj_str(ev, "message");
		bool known = false;
		for (size_t i = 0; msg && i < p->nverdicts; i++)
			known |= strcmp(p->verdicts[i], msg) == 0;
		if (msg && !known && p->nverdicts < 2)
			copy(p->verdicts[p->nverdicts++], sizeof(p->verdicts[0]), msg);
	} else if (strcmp(event, "summary") == 0) {
		p->suppressed += (unsigned long)aj_int(aj_get(ev, "counts"), "suppressed_lines", 0);
		p->dropped += (unsigned long)aj_int(ev, "dropped", 0);
	} else if (strcmp(event, "error") == 0) {
		if (!p->errors++)
			copy(p->error, sizeof(p->error), aj_str(ev, "message"));
	} else if (strcmp(event, "call") == 0 && sockish) {
		if (strcmp(op, "bind") == 0 || strcmp(op, "listen") == 0) {
			struct au_sock *s = strcmp(op, "listen") == 0 ? ephemeral(p, proto, addr, port) : NULL;
			if (s) {
				s->listens += aj_int(ev, "result", -1) == 0;
				see_backlog(s, ev);
				return true;
			}
			s = sock_for(p, proto, addr, port);
			if (!s)
				return true;
			if (!s->first_pid)
				s->first_pid = (int)pid;
			copy(s->family, sizeof(s->family), aj_str(ev, "family"));
			const char *ea = aj_str(ev, "effective_addr");
			if (ea) {
				copy(s->eff_addr, sizeof(s->eff_addr), ea);
				s->eff_port = (int)aj_int(ev, "effective_port", port);
			}
			s->set_by_program |= options(ev, "set_by_program");
			s->injected |= options(ev, "injected");
			bool ok = aj_int(ev, "result", -1) == 0;
			if (strcmp(op, "bind") == 0) {
				s->binds++;
				if (!ok) {
					s->failed++;
					add_fail(p, ev, false);
				}
			} else if (ok) {
				s->listens++;
				see_backlog(s, ev);
			}
		} else if (strcmp(op, "connect") == 0 || strcmp(op, "send") == 0) {
			/* A send line is a socket's first datagram to that
			 * destination: counted as a connect is. */
			struct au_conn *c = op[0] == 'c' ? conn_for(p, proto, addr, port)
							 : send_for(p, proto, addr, port);
			if (!c)
				return true;
			c->count++;
			if (is_ok_connect(ev)) {
				c->ok++;
			} else {
				c->failed++;
				const char *e = aj_str(ev, "errno");
				if (e)
					add_word(c->errnos, sizeof(c->errnos), e);
			}
		}
	} else if (strcmp(event, "conflict") == 0 && sockish) {
		if (strcmp(op, "bind") == 0) {
			struct au_sock *s = sock_for(p, proto, addr, port);
			if (s) {
				if (!s->first_pid)
					s->first_pid = (int)pid;
				copy(s->family, sizeof(s->family), aj_str(ev, "family"));
				s->binds++;
				s->failed++;
				s->set_by_program |= options(ev, "set_by_program");
				s->injected |= options(ev, "injected");
			}
		} else if (strcmp(op, "connect") == 0 || strcmp(op, "send") == 0) {
			struct au_conn *c = op[0] == 'c' ? conn_for(p, proto, addr, port)
							 : send_for(p, proto, addr, port);
			if (c) {
				c->count++;
				c->failed++;
				const char *e = aj_str(ev, "errno");
				if (e)
					add_word(c->errnos, sizeof(c->errnos), e);
			}
		}
		add_fail(p, ev, false);
	} else if (strcmp(event, "action") == 0) {
		const char *action = aj_str(ev, "action");
		if (!action)
			return true;
		add_action(p, ev, action);
		/* A dry run's deny ("would deny") refused nothing: the call
		 * was made, and its own line tells how it fared. */
		const struct aj *dry = aj_get(ev, "dry_run");
		bool dry_run = dry && dry->type == AJ_BOOL && dry->b;
		if (strcmp(action, "deny") == 0 && sockish && !dry_run)
			add_fail(p, ev, true);
		/* A denied connect (or datagram) never reaches the kernel, so
		 * no call line follows: its destination is listed from the
		 * deny. */
		if (sockish && strcmp(action, "deny") == 0 && !dry_run &&
		    (strcmp(op, "connect") == 0 || strcmp(op, "send") == 0)) {
			struct au_conn *c = op[0] == 'c' ? conn_for(p, proto, addr, port)
							 : send_for(p, proto, addr, port);
			if (c)
				c->count++, c->denied++;
		}
		if (sockish && strcmp(op, "bind") == 0 &&
		    (strcmp(action, "keep") == 0 || strcmp(action, "adopt") == 0)) {
			struct au_sock *s = sock_for(p, proto, addr, port);
			if (s)
				*(action[0] == 'k' ? &s->kept : &s->adopted) += 1;
		}
		if (sockish && strcmp(op, "connect") == 0 && strcmp(action, "source") == 0) {
			struct au_conn *c = conn_for(p, proto, addr, port);
			if (c)
				c->sourced++;
		}
		/* The supervisor's first datagram, sent by the program itself:
		 * it went to the kernel, how it fared is not known. */
		if (sockish && strcmp(op, "send") == 0 && strcmp(action, "passed") == 0) {
			struct au_conn *c = send_for(p, proto, addr, port);
			if (c)
				c->count++, c->ok++;
		}
	}
	return true;
}

void au_model_line(struct au_model *m, const char *line, size_t len)
{
	m->lines++;
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
		i++;
	if (i == len) {
		m->blank++;
		m->lines--;
		return;
	}
	struct aj *ev = aj_parse(line, len);
	bool good;
	if (aj_str(ev, "LIBREUSE_JSON")) {
		/* An entry of `journalctl -o json`: the line it carries. */
		struct aj *inner = aj_parse(aj_str(ev, "LIBREUSE_JSON"), strlen(aj_str(ev, "LIBREUSE_JSON")));
		good = inner && inner->type == AJ_OBJ && au_model_event(m, inner, aj_str(ev, "_EXE"));
		aj_free(inner);
	} else {
		good = ev && ev->type == AJ_OBJ && au_model_event(m, ev, NULL);
	}
	if (!good)
		m->bad++;
	aj_free(ev);
}

bool au_is_listener(const struct au_sock *s)
{
	/* A port the kernel chose is another one at the next start: nothing
	 * to keep or share. */
	if (s->port == 0 || s->eff_port == 0)
		return false;
	if (s->kept || s->adopted)
		return true;
	if (s->binds == s->failed)
		return false;
	return strcmp(s->proto, "tcp") == 0 ? s->listens > 0 : true;
}

void au_verdict(const struct au_prog *p, struct au_verdict *v)
{
	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < p->nsocks; i++) {
		const struct au_sock *s = &p->socks[i];
		if (!au_is_listener(s))
			continue;
		unsigned opts = s->set_by_program | s->injected;
		v->listeners++;
		if (strcmp(s->proto, "tcp") == 0) {
			v->tcp_listeners++;
			if (!(opts & LR_OPT_REUSEADDR))
				v->no_reuseaddr++;
		}
		if (!(opts & LR_OPT_REUSEPORT))
			v->no_reuseport++;
		if (!s->kept && !s->adopted)
			v->not_kept++;
	}
	for (size_t i = 0; i < p->nfails; i++)
		*(p->fails[i].denied ? &v->denied : &v->conflicts) += p->fails[i].count;
	v->restart_at_once = v->no_reuseaddr == 0;
	v->can_share = v->listeners > 0 && v->no_reuseport == 0;
	v->loses_connections = v->not_kept > 0;
}

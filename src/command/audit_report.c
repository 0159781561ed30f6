#include "audit_report.h"

#include "rules.h"

#include <string.h>

#define WIDTH 80

void au_hostport(char *buf, size_t n, const char *addr, int port)
{
	if (strchr(addr, ':'))
		snprintf(buf, n, "[%s]:%d", addr, port);
	else
		snprintf(buf, n, "%s:%d", addr[0] ? addr : "?", port);
}

static const char *opts_text(unsigned bits)
{
	switch (bits & (LR_OPT_REUSEADDR | LR_OPT_REUSEPORT)) {
	case LR_OPT_REUSEADDR: return "SO_REUSEADDR";
	case LR_OPT_REUSEPORT: return "SO_REUSEPORT";
	case LR_OPT_REUSEADDR | LR_OPT_REUSEPORT: return "SO_REUSEADDR,SO_REUSEPORT";
	default: return "none";
	}
}

/* "1 of its 1 listener lacks", "1 of its 2 listeners lacks", "2 of its 2
 * listeners lack": the noun follows the total, the verb the count. */
static const char *plural(unsigned n)
{
	return n == 1 ? "" : "s";
}

static const char *verb_s(unsigned n)
{
	return n == 1 ? "s" : "";
}

size_t au_verdict_words(const struct au_prog *p, char out[3][256])
{
	struct au_verdict v;
	au_verdict(p, &v);
	if (!v.listeners) {
		snprintf(out[0], 256, "it listens on no fixed port: a restart has nothing to lose%s",
			 v.conflicts ? ", but see its failures above" : "");
		return 1;
	}
	if (v.restart_at_once)
		snprintf(out[0], 256, "it can restart at once: every TCP listener has SO_REUSEADDR, "
				      "so TIME_WAIT does not hold its ports");
	else
		snprintf(out[0], 256, "it cannot restart at once: %u of its %u TCP listener%s lack%s "
				      "SO_REUSEADDR, so its next start fails while TIME_WAIT lingers "
				      "(up to 60 s)", v.no_reuseaddr, v.tcp_listeners, plural(v.tcp_listeners),
			 verb_s(v.no_reuseaddr));
	if (v.can_share)
		snprintf(out[1], 256, "two instances can share its ports: every listener has SO_REUSEPORT");
	else
		snprintf(out[1], 256, "two instances cannot share its ports: %u of its %u listener%s "
				      "lack%s SO_REUSEPORT", v.no_reuseport, v.listeners, plural(v.listeners),
			 verb_s(v.no_reuseport));
	if (v.loses_connections)
		snprintf(out[2], 256, "it loses connections on restart: nothing holds %u of its %u "
				      "listener%s while it is down, so clients are refused in between",
			 v.not_kept, v.listeners, plural(v.listeners));
	else
		snprintf(out[2], 256, "it loses no connection on restart: every listener is kept "
				      "or adopted");
	return 3;
}

struct style {
	FILE *out;
	bool colour;
};

static void on(const struct style *st, const char *code)
{
	if (st->colour)
		fprintf(st->out, "\033[%sm", code);
}

static void off(const struct style *st)
{
	if (st->colour)
		fputs("\033[0m", st->out);
}

/* Words of text, wrapped at WIDTH, each line after the first indented. */
static void wrapped(FILE *out, const char *first, int indent, const char *text)
{
	int col = fprintf(out, "%s", first);
	const char *s = text;
	bool need_space = col > 0 && first[col - 1] != ' ';
	while (*s) {
		while (*s == ' ')
			s++;
		size_t w = strcspn(s, " ");
		if (!w)
			break;
		if (col + 1 + (int)w > WIDTH && col > indent) {
			col = fprintf(out, "\n%*s", indent, "") - 1;
		} else if (need_space) {
			fputc(' ', out);
			col++;
		}
		need_space = true;
		fwrite(s, 1, w, out);
		col += (int)w;
		s += w;
	}
	fputc('\n', out);
}

/* Only failed binds are under failures, not under "listens and binds". */
static bool in_listens(const struct au_sock *s)
{
	return s->binds > s->failed || s->kept || s->adopted;
}

/* "    tcp v4   127.0.0.1:80 -> 127.0.0.2:80": the socket, asked and used;
 * returns its width. */
static int sock_label(const struct au_sock *s, char *line, size_t n)
{
	char hp[AU_ADDR + 16], eff[AU_ADDR + 16], used[AU_ADDR + 24] = "";
	au_hostport(hp, sizeof(hp), s->addr, s->port);
	au_hostport(eff, sizeof(eff), s->eff_addr, s->eff_port);
	if (strcmp(eff, hp) != 0)
		snprintf(used, sizeof(used), " -> %s", eff);
	int w = snprintf(line, n, "    %-3s %-4s %s%s", s->proto,
			 strcmp(s->family, "ipv6") == 0 ? "v6" : "v4", hp, used);
	return w < (int)n ? w : (int)n - 1;
}

static bool listened(const struct au_sock *s)
{
	return strcmp(s->proto, "tcp") == 0 && s->listens;
}

/* "backlog 64", "backlog 16..64" when its listens asked for several, ""
 * for a socket no listen line gave one. */
static const char *backlog_text(const struct au_sock *s, char *buf, size_t n)
{
	if (!listened(s) || !s->has_backlog)
		snprintf(buf, n, "%s", "");
	else if (s->backlog_min != s->backlog)
		snprintf(buf, n, "backlog %d..%d", s->backlog_min, s->backlog);
	else
		snprintf(buf, n, "backlog %d", s->backlog);
	return buf;
}

/* One line of "connects" or "sends": the destination, how often, how
 * many went, failed or were denied; for a connect (source), who chose its
 * source port, unless it was only ever denied (never reached, no port was
 * chosen). */
static void text_conn(FILE *out, const struct au_conn *c, bool source)
{
	char hp[AU_ADDR + 16], line[AU_ADDR + 32];
	au_hostport(hp, sizeof(hp), c->addr, c->port);
	snprintf(line, sizeof(line), "    %-3s %s", c->proto, hp);
	fprintf(out, "%-36s %ux, %u ok", line, c->count, c->ok);
	if (c->failed)
		fprintf(out, ", %u failed (%s)", c->failed, c->errnos);
	if (c->denied)
		fprintf(out, ", %u denied", c->denied);
	if (source && c->denied < c->count)
		fprintf(out, "; source port: %s", c->sourced ? "set by a rule" : "the kernel's");
	fputc('\n', out);
}

/* One line of "listens and binds": the socket (line, padded to col), how
 * often it was listened on or bound, the backlog its listens asked for
 * (padded to bw; no column at all when no socket has one), the options it
 * set and those injected. */
static void text_socket(FILE *out, const struct au_sock *s, const char *line, int col, int bw)
{
	char backlog[48];
	fprintf(out, "%-*s %-6s %ux", col, line, listened(s) ? "listen" : "bound",
		s->binds - s->failed);
	if (bw)
		fprintf(out, "  %-*s", bw, backlog_text(s, backlog, sizeof(backlog)));
	fprintf(out, "  sets: %s", opts_text(s->set_by_program));
	if (s->injected)
		fprintf(out, ", injected: %s", opts_text(s->injected));
	if (s->kept || s->adopted)
		fprintf(out, ", %s", s->adopted ? "adopted" : "kept");
	fputc('\n', out);
}

static void text_program(const struct style *st, const struct au_prog *p)
{
	FILE *out = st->out;
	char hp[AU_ADDR + 16], line[512];
	on(st, "1");
	fprintf(out, "%s", p->name);
	off(st);
	if (p->path[0])
		fprintf(out, " (%s)", p->path);
	fprintf(out, ": %zu process%s, %lu line%s\n", p->nprocs, p->nprocs == 1 ? "" : "es",
		p->lines, p->lines == 1 ? "" : "s");
	for (size_t i = 0; i < p->nprocs; i++) {
		const struct au_proc *x = &p->procs[i];
		/* The log's own "2026-12-06T20:18:22.848Z": the date once, then
		 * the times; anything else as it came. */
		bool iso = strlen(x->first) > 11 && x->first[10] == 'T' && strlen(x->last) > 11 &&
			   x->last[10] == 'T';
		if (iso)
			fprintf(out, "  pid %-8d %.10s %s .. %s\n", x->pid, x->first, x->first + 11,
				x->last + 11);
		else
			fprintf(out, "  pid %-8d %s .. %s\n", x->pid, x->first, x->last);
	}

	fputs("  listens and binds:\n", out);
	/* The address column as wide as this program's widest, so that a
	 * listener's line (count, backlog, options) fits 80 columns. */
	int col = 30, bw = 0;
	for (size_t i = 0; i < p->nsocks; i++) {
		if (!in_listens(&p->socks[i]))
			continue;
		int w = sock_label(&p->socks[i], line, sizeof(line));
		col = w > col ? w : col;
		w = (int)strlen(backlog_text(&p->socks[i], line, sizeof(line)));
		bw = w > bw ? w : bw;
	}
	size_t shown = 0;
	for (size_t i = 0; i < p->nsocks; i++) {
		if (!in_listens(&p->socks[i]))
			continue;
		sock_label(&p->socks[i], line, sizeof(line));
		text_socket(out, &p->socks[i], line, col, bw);
		shown++;
	}
	if (!shown)
		fputs("    none\n", out);

	fputs("  connects:\n", out);
	for (size_t i = 0; i < p->nconns; i++)
		text_conn(out, &p->conns[i], true);
	if (!p->nconns)
		fputs("    none\n", out);

	/* Shown only when there are some: most programs send no unconnected
	 * datagram, and a line of "none" for each would be noise. */
	if (p->nsends)
		fputs("  sends (unconnected UDP; each socket's first datagram to a destination):\n", out);
	for (size_t i = 0; i < p->nsends; i++)
		text_conn(out, &p->sends[i], false);

	fputs("  what rules did:\n", out);
	for (size_t i = 0; i < p->nactions; i++) {
		const struct au_action *a = &p->actions[i];
		au_hostport(hp, sizeof(hp), a->addr, a->port);
		snprintf(line, sizeof(line), "    rule %d: %s on %s %s %s%s%s (%ux)", a->rule, a->action,
			 a->op, a->proto, hp, a->message[0] ? ": " : "", a->message, a->count);
		wrapped(out, line, 6, "");
	}
	if (!p->nactions)
		fputs("    nothing (no rule matched)\n", out);

	fputs("  failures:\n", out);
	size_t nfail = 0;
	for (size_t i = 0; i < p->nfails; i++) {
		const struct au_fail *f = &p->fails[i];
		au_hostport(hp, sizeof(hp), f->addr, f->port);
		on(st, "31");
		snprintf(line, sizeof(line), "    %s %s %s %s%s %ux", f->op, f->proto, hp,
			 f->denied ? "denied with " : "", f->err[0] ? f->err : "?", f->count);
		fputs(line, out);
		off(st);
		if (f->holder[0])
			fprintf(out, ", held by %s", f->holder);
		fputc('\n', out);
		if (f->reason[0])
			wrapped(out, "      why:", 6, f->reason);
		else if (f->denied)
			fprintf(out, "      why: rule %d denies it\n", f->rule);
		nfail++;
	}
	if (!nfail)
		fputs("    none\n", out);
	if (p->unseen_checked) {
		fputs("  not seen by libreuse (the kernel's sockets now, on its ports):\n", out);
		for (size_t i = 0; i < p->nunseen; i++) {
			const struct au_unseen *u = &p->unseen[i];
			au_hostport(hp, sizeof(hp), u->addr, u->port);
			on(st, "33");
			fprintf(out, "    %-3s %-30s %-9s", u->proto, hp, u->state);
			off(st);
			if (u->pid)
				fprintf(out, " pid %d (%s)\n", u->pid, u->program);
			else
				fputs(" owner not visible to this user\n", out);
		}
		if (!p->nunseen)
			fputs("    none\n", out);
	}
	if (p->errors)
		wrapped(out, "  libreuse's own errors:", 4, p->error);
	if (p->suppressed || p->dropped)
		fprintf(out, "  the trail is incomplete: %lu line(s) held back by the rate limit, "
			     "%lu dropped\n", p->suppressed, p->dropped);

	char words[3][256];
	size_t n = au_verdict_words(p, words);
	fputs("  verdict:\n", out);
	for (size_t i = 0; i < n; i++) {
		bool good = strncmp(words[i], "it can ", 7) == 0 ||
			    strncmp(words[i], "two instances can ", 18) == 0 ||
			    strncmp(words[i], "it loses no", 11) == 0 ||
			    strncmp(words[i], "it listens on no", 16) == 0;
		on(st, good ? "32" : "33");
		wrapped(out, "    -", 6, words[i]);
		off(st);
	}
}

void au_report_text(FILE *out, const struct au_model *m, bool colour)
{
	struct style st = { out, colour };
	for (size_t i = 0; i < m->nprogs; i++) {
		if (i)
			fputc('\n', out);
		text_program(&st, &m->progs[i]);
	}
	if (!m->nprogs)
		fputs("no libreuse event in the trail\n", out);
	if (m->host_checked) {
		char hp[AU_ADDR + 16];
		on(&st, "1");
		fputs("\nnot seen by libreuse on this host", out);
		off(&st);
		fputs(" (listeners no audited process owns):\n", out);
		for (size_t i = 0; i < m->nhost_unseen; i++) {
			const struct au_unseen *u = &m->host_unseen[i];
			au_hostport(hp, sizeof(hp), u->addr, u->port);
			fprintf(out, "    %-3s %-30s %-9s", u->proto, hp, u->state);
			if (u->pid)
				fprintf(out, " pid %d (%s)\n", u->pid, u->program);
			else
				fputs(" owner not visible to this user\n", out);
		}
		if (!m->nhost_unseen)
			fputs("    none\n", out);
	}
	fprintf(out, "\n%lu line%s read, %lu not a libreuse JSON line (skipped)\n", m->lines,
		m->lines == 1 ? "" : "s", m->bad);
}

/* ---- JSON ---- */

/* The length of the valid UTF-8 sequence at c, 0 when it is not one. */
static size_t utf8_len(const unsigned char *c)
{
	size_t n = c[0] < 0x80 ? 1 : (c[0] & 0xe0) == 0xc0 ? 2 : (c[0] & 0xf0) == 0xe0 ? 3
		 : (c[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (n == 2 && c[0] < 0xc2)
		return 0; /* overlong */
	for (size_t i = 1; i < n; i++)
		if ((c[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A JSON string; bytes a garbled log left that are not UTF-8 become '?',
 * so the document stays valid JSON whatever it quotes. */
static void jstr(FILE *out, const char *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (const unsigned char *c = (const unsigned char *)s; *c;) {
		size_t n = utf8_len(c);
		if (!n) {
			fputc('?', out);
			c++;
		} else if (*c == '"' || *c == '\\') {
			fprintf(out, "\\%c", *c++);
		} else if (*c < 0x20) {
			fprintf(out, "\\u%04x", *c++);
		} else {
			fwrite(c, 1, n, out);
			c += n;
		}
	}
	fputc('"', out);
}

static void jopts(FILE *out, unsigned bits)
{
	fputc('[', out);
	if (bits & LR_OPT_REUSEADDR)
		fputs("\"SO_REUSEADDR\"", out);
	if (bits & LR_OPT_REUSEPORT)
		fputs(bits & LR_OPT_REUSEADDR ? ",\"SO_REUSEPORT\"" : "\"SO_REUSEPORT\"", out);
	fputc(']', out);
}

static const char *nz(const char *s)
{
	return s && s[0] ? s : NULL;
}

static void junseen(FILE *out, const struct au_unseen *list, size_t n)
{
	fputc('[', out);
	for (size_t i = 0; i < n; i++) {
		const struct au_unseen *u = &list[i];
		fprintf(out, "%s{\"proto\":", i ? "," : "");
		jstr(out, u->proto);
		fputs(",\"addr\":", out);
		jstr(out, u->addr);
		fprintf(out, ",\"port\":%d,\"state\":", u->port);
		jstr(out, u->state);
		fputs(",\"pid\":", out);
		if (u->pid)
			fprintf(out, "%d", u->pid);
		else
			fputs("null", out);
		fputs(",\"program\":", out);
		jstr(out, nz(u->program));
		fputc('}', out);
	}
	fputc(']', out);
}

static void json_program(FILE *out, const struct au_prog *p)
{
	fputs("{\"name\":", out);
	jstr(out, p->name);
	fputs(",\"path\":", out);
	jstr(out, nz(p->path));
	fprintf(out, ",\"lines\":%lu,\"processes\":[", p->lines);
	for (size_t i = 0; i < p->nprocs; i++) {
		fprintf(out, "%s{\"pid\":%d,\"first_seen\":", i ? "," : "", p->procs[i].pid);
		jstr(out, p->procs[i].first);
		fputs(",\"last_seen\":", out);
		jstr(out, p->procs[i].last);
		fputc('}', out);
	}
	fputs("],\"sockets\":[", out);
	for (size_t i = 0; i < p->nsocks; i++) {
		const struct au_sock *s = &p->socks[i];
		fprintf(out, "%s{\"proto\":", i ? "," : "");
		jstr(out, s->proto);
		fputs(",\"family\":", out);
		jstr(out, nz(s->family));
		fputs(",\"addr\":", out);
		jstr(out, s->addr);
		fprintf(out, ",\"port\":%d,\"effective_addr\":", s->port);
		jstr(out, s->eff_addr);
		fprintf(out, ",\"effective_port\":%d,\"binds\":%u,\"failed_binds\":%u,\"listens\":%u,"
			     "\"listener\":%s,\"set_by_program\":",
			s->eff_port, s->binds, s->failed, s->listens, au_is_listener(s) ? "true" : "false");
		jopts(out, s->set_by_program);
		fputs(",\"injected\":", out);
		jopts(out, s->injected);
		fputs(",\"backlog\":", out);
		if (s->has_backlog)
			fprintf(out, "%d,\"backlog_min\":%d", s->backlog, s->backlog_min);
		else
			fputs("null,\"backlog_min\":null", out);
		fprintf(out, ",\"kept\":%u,\"adopted\":%u}", s->kept, s->adopted);
	}
	fputs("],\"connects\":[", out);
	for (size_t i = 0; i < p->nconns; i++) {
		const struct au_conn *c = &p->conns[i];
		fprintf(out, "%s{\"proto\":", i ? "," : "");
		jstr(out, c->proto);
		fputs(",\"addr\":", out);
		jstr(out, c->addr);
		fprintf(out, ",\"port\":%d,\"count\":%u,\"ok\":%u,\"failed\":%u,\"denied\":%u,"
			     "\"errnos\":[", c->port, c->count, c->ok, c->failed, c->denied);
		/* errnos is a comma-separated list of names: no quoting needed */
		for (const char *e = c->errnos; *e;) {
			size_t w = strcspn(e, ",");
			fprintf(out, "%s\"%.*s\"", e == c->errnos ? "" : ",", (int)w, e);
			e += w + (e[w] == ',');
		}
		fprintf(out, "],\"source\":\"%s\"}", c->sourced ? "rule" : "kernel");
	}
	fputs("],\"sends\":[", out);
	for (size_t i = 0; i < p->nsends; i++) {
		const struct au_conn *c = &p->sends[i];
		fprintf(out, "%s{\"proto\":", i ? "," : "");
		jstr(out, c->proto);
		fputs(",\"addr\":", out);
		jstr(out, c->addr);
		fprintf(out, ",\"port\":%d,\"count\":%u,\"ok\":%u,\"failed\":%u,\"denied\":%u}",
			c->port, c->count, c->ok, c->failed, c->denied);
	}
	fputs("],\"actions\":[", out);
	for (size_t i = 0; i < p->nactions; i++) {
		const struct au_action *a = &p->actions[i];
		fprintf(out, "%s{\"rule\":%d,\"action\":", i ? "," : "", a->rule);
		jstr(out, a->action);
		fputs(",\"op\":", out);
		jstr(out, nz(a->op));
		fputs(",\"proto\":", out);
		jstr(out, nz(a->proto));
		fputs(",\"addr\":", out);
		jstr(out, nz(a->addr));
		fprintf(out, ",\"port\":%d,\"count\":%u,\"message\":", a->port, a->count);
		jstr(out, nz(a->message));
		fputc('}', out);
	}
	fputs("],\"failures\":[", out);
	for (size_t i = 0; i < p->nfails; i++) {
		const struct au_fail *f = &p->fails[i];
		fprintf(out, "%s{\"op\":", i ? "," : "");
		jstr(out, nz(f->op));
		fputs(",\"proto\":", out);
		jstr(out, nz(f->proto));
		fputs(",\"addr\":", out);
		jstr(out, nz(f->addr));
		fprintf(out, ",\"port\":%d,\"errno\":", f->port);
		jstr(out, nz(f->err));
		fprintf(out, ",\"count\":%u,\"denied\":%s,\"holder\":", f->count, f->denied ? "true" : "false");
		jstr(out, nz(f->holder));
		fputs(",\"reason\":", out);
		jstr(out, nz(f->reason));
		fputc('}', out);
	}
	fputs("],\"not_seen\":", out);
	if (!p->unseen_checked) {
		fputs("null", out);
	} else {
		junseen(out, p->unseen, p->nunseen);
	}
	fputs(",\"log_verdicts\":[", out);
	for (size_t i = 0; i < p->nverdicts; i++) {
		fputs(i ? "," : "", out);
		jstr(out, p->verdicts[i]);
	}
	struct au_verdict v;
	au_verdict(p, &v);
	fprintf(out, "],\"verdict\":{\"listeners\":%u,\"restart_at_once\":%s,\"can_share\":%s,"
		     "\"loses_connections\":%s,\"conflicts\":%u,\"denied\":%u,\"words\":[",
		v.listeners, v.restart_at_once ? "true" : "false", v.can_share ? "true" : "false",
		v.loses_connections ? "true" : "false", v.conflicts, v.denied);
	char words[3][256];
	size_t n = au_verdict_words(p, words);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? "," : "", out);
		jstr(out, words[i]);
	}
	fprintf(out, "]},\"errors\":%u,\"suppressed_lines\":%lu,\"dropped_lines\":%lu}", p->errors,
		p->suppressed, p->dropped);
}

void au_report_json(FILE *out, const struct au_model *m)
{
	fprintf(out, "{\"libreuse_audit\":1,\"lines\":%lu,\"bad_lines\":%lu,\"programs\":[", m->lines,
		m->bad);
	for (size_t i = 0; i < m->nprogs; i++) {
		fputs(i ? "," : "", out);
		json_program(out, &m->progs[i]);
	}
	fputs("],\"not_seen_host\":", out);
	if (m->host_checked)
		junseen(out, m->host_unseen, m->nhost_unseen);
	else
		fputs("null", out);
	fputs("}\n", out);
}

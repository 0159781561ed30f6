#include "audit_propose.h"

#include "audit_report.h"
#include "cli.h"

#include "rules.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef LR_LIBDIR
#define LR_LIBDIR "/usr/local/lib"
#endif

/* How long a proposed retry waits for a held port: long enough for an old
 * instance to let go, short enough that a port held for good fails soon. */
#define RETRY_MS 2000

struct out {
	FILE *f;
	char path[PATH_MAX];
};

static bool open_out(struct out *o, const char *dir, const char *name, const char *suffix)
{
	snprintf(o->path, sizeof(o->path), "%s/%s%s", dir, name, suffix);
	o->f = fopen(o->path, "w");
	if (!o->f)
		lr_cli_error("%s: %s", o->path, strerror(errno));
	return o->f != NULL;
}

static bool close_out(struct out *o)
{
	bool ok = !ferror(o->f);
	ok &= fclose(o->f) == 0;
	if (!ok)
		lr_cli_error("%s: could not be written", o->path);
	else
		fprintf(stderr, "libreuse audit: wrote %s\n", o->path);
	return ok;
}

/* A unit and file name from a program name: what systemd accepts as a unit
 * prefix, nothing else. */
static void unit_name(char *out, size_t n, const char *prog)
{
	size_t j = 0;
	for (size_t i = 0; prog[i] && j + 1 < n; i++) {
		char c = prog[i];
		bool fine = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			    c == '-' || c == '_' || c == '.';
		out[j++] = fine ? c : '_';
	}
	out[j] = '\0';
	if (!j || out[0] == '.')
		snprintf(out, n, "program");
}

/* The pids of the program's processes that bound this socket, for the
 * evidence; "pid 12" or "pids 12, 13". */
static void procs_text(const struct au_prog *p, char *out, size_t n)
{
	size_t used = (size_t)snprintf(out, n, "%s ", p->nprocs == 1 ? "pid" : "pids");
	for (size_t i = 0; i < p->nprocs && used < n; i++)
		used += (size_t)snprintf(out + used, n - used, "%s%d", i ? ", " : "", p->procs[i].pid);
}

static bool has_retry_evidence(const struct au_prog *p, const struct au_sock *s,
			       const struct au_fail **why)
{
	for (size_t i = 0; i < p->nfails; i++) {
		const struct au_fail *f = &p->fails[i];
		if (!f->denied && strcmp(f->op, "bind") == 0 && strcmp(f->err, "EADDRINUSE") == 0 &&
		    strcmp(f->proto, s->proto) == 0 && strcmp(f->addr, s->addr) == 0 &&
		    f->port == s->port) {
			*why = f;
			return true;
		}
	}
	return false;
}

/* What the rule for one socket does, and the evidence for each part. */
struct plan {
	bool reuseaddr, keep, retry;
	const struct au_fail *held;
};

static bool plan_for(const struct au_prog *p, const struct au_sock *s, struct plan *pl)
{
	memset(pl, 0, sizeof(*pl));
	if (au_is_listener(s)) {
		unsigned opts = s->set_by_program | s->injected;
		pl->reuseaddr = strcmp(s->proto, "tcp") == 0 && !(opts & LR_OPT_REUSEADDR);
		pl->keep = !s->kept && !s->adopted;
	}
	if (s->port)
		pl->retry = has_retry_evidence(p, s, &pl->held);
	return pl->reuseaddr || pl->keep || pl->retry;
}

static void write_rules(FILE *f, const struct au_prog *p, const char *unit)
{
	char procs[256], hp[AU_ADDR + 16];
	procs_text(p, procs, sizeof(procs));
	fprintf(f, "# Rules for %s, proposed by `libreuse audit` from %lu line%s of its trail\n"
		   "# (%s; first seen %s).\n"
		   "# Each rule cites the calls it rests on; the trail supports nothing else.\n"
		   "# Check with: libreuse check %s.conf\n"
		   "rules = (",
		p->name, p->lines, p->lines == 1 ? "" : "s", procs,
		p->nprocs ? p->procs[0].first : "?", unit);
	bool first = true;
	for (size_t i = 0; i < p->nsocks; i++) {
		const struct au_sock *s = &p->socks[i];
		struct plan pl;
		if (!plan_for(p, s, &pl))
			continue;
		au_hostport(hp, sizeof(hp), s->addr, s->port);
		fprintf(f, "%s\n", first ? "" : ",");
		first = false;
		unsigned ok_binds = s->binds - s->failed;
		if (ok_binds)
			fprintf(f, "\t# %s %s: bound %ux%s%s", s->proto, hp, ok_binds,
				s->listens ? ", listened on " : "", s->listens ? "" : "");
		if (ok_binds && s->listens)
			fprintf(f, "%ux", s->listens);
		if (ok_binds)
			fprintf(f, "; it sets %s\n",
				s->set_by_program & LR_OPT_REUSEADDR ? "SO_REUSEADDR" : "no reuse option");
		if (pl.reuseaddr)
			fprintf(f, "\t# reuseaddr: it never set SO_REUSEADDR, so a restart fails while\n"
				   "\t#   TIME_WAIT of its last connections lingers\n");
		if (pl.keep)
			fprintf(f, "\t# keep: a listener on a fixed port; kept (or taken from %s.socket)\n"
				   "\t#   it outlives each instance, so no connection is refused or reset\n",
				unit);
		if (pl.retry)
			fprintf(f, "\t# retry: its bind met EADDRINUSE %ux, held by %s;\n"
				   "\t#   for up to %d ms a port its holder lets go is taken instead\n",
				pl.held->count, pl.held->holder[0] ? pl.held->holder : "an unknown holder",
				RETRY_MS);
		fprintf(f, "\t{ match = { program = \"%s\"; op = \"bind\"; proto = \"%s\";", p->name,
			s->proto);
		if (s->family[0])
			fprintf(f, " family = \"%s\";", s->family);
		fprintf(f, "\n\t    address = \"%s\"; port = %d; };\n\t ", s->addr, s->port);
		if (pl.reuseaddr)
			fputs(" reuseaddr = true;", f);
		if (pl.keep)
			fputs(" keep = true;", f);
		if (pl.retry)
			fprintf(f, " retry = %d;", RETRY_MS);
		fputs(" }", f);
	}
	fputs("\n);\n", f);
}

/* Quotes one argument for a systemd command line: in double quotes, with
 * backslash, quote and the specifier and variable signs escaped. */
static void unit_arg(FILE *f, const char *arg)
{
	fputc('"', f);
	for (const char *c = arg; *c; c++) {
		if (*c == '"' || *c == '\\')
			fputc('\\', f);
		if (*c == '%')
			fputc('%', f);
		if (*c == '$')
			fputc('$', f);
		fputc(*c, f);
	}
	fputc('"', f);
}

static bool self_path(char *out, size_t n)
{
	ssize_t len = readlink("/proc/self/exe", out, n - 1);
	if (len <= 0)
		return false;
	out[len] = '\0';
	return true;
}

/* The library the drop-in preloads: next to this command (a build tree),
 * else the installed one, as `libreuse run` looks for it. */
static void library_path(char *out, size_t n)
{
	char self[PATH_MAX];
	if (self_path(self, sizeof(self))) {
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			int w = snprintf(out, n, "%s/libreuse.so", self);
			if (w > 0 && (size_t)w < n && access(out, R_OK) == 0)
				return;
		}
	}
	snprintf(out, n, "%s/libreuse.so", LR_LIBDIR);
}

static size_t listeners_of(const struct au_prog *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nsocks; i++)
		n += au_is_listener(&p->socks[i]);
	return n;
}

static void write_socket(FILE *f, const struct au_prog *p, const char *unit)
{
	char hp[AU_ADDR + 16];
	fprintf(f, "# The listeners of %s.service, held by systemd across its restarts:\n"
		   "# connections wait in their queues while the program is down. Proposed by\n"
		   "# `libreuse audit`; the program binds these itself, and libreuse hands it\n"
		   "# these sockets instead (keep = true in %s.conf).\n"
		   "[Unit]\n"
		   "Description=Listeners of %s, held across restarts (proposed by libreuse audit)\n"
		   "\n[Socket]\n",
		unit, unit, p->name);
	for (size_t i = 0; i < p->nsocks; i++) {
		const struct au_sock *s = &p->socks[i];
		if (!au_is_listener(s))
			continue;
		au_hostport(hp, sizeof(hp), s->eff_addr, s->eff_port);
		bool tcp = strcmp(s->proto, "tcp") == 0;
		/* The backlog the program asked for is said, not proposed as
		 * Backlog=: while the program is down, systemd's queue (its
		 * default, SOMAXCONN) is what holds the clients, and the
		 * program's own listen() sets its own once it is back. */
		if (tcp && s->has_backlog && s->backlog_min != s->backlog)
			fprintf(f, "# %s %s: bound %ux, listened on %ux (backlog %d..%d)\n", s->proto,
				hp, s->binds - s->failed, s->listens, s->backlog_min, s->backlog);
		else if (tcp && s->has_backlog)
			fprintf(f, "# %s %s: bound %ux, listened on %ux (backlog %d)\n", s->proto, hp,
				s->binds - s->failed, s->listens, s->backlog);
		else if (tcp)
			fprintf(f, "# %s %s: bound %ux, listened on %ux\n", s->proto, hp,
				s->binds - s->failed, s->listens);
		else
			fprintf(f, "# %s %s: bound %ux\n", s->proto, hp, s->binds - s->failed);
		fprintf(f, "%s=%s\n", tcp ? "ListenStream" : "ListenDatagram", hp);
	}
	fputs("\n[Install]\nWantedBy=sockets.target\n", f);
}

static void write_service(FILE *f, const struct au_prog *p, const char *unit, const char *conf,
			  char **cmd)
{
	char self[PATH_MAX] = "/usr/bin/libreuse";
	self_path(self, sizeof(self));
	fprintf(f, "# %s run under libreuse with the rules in %s.conf, proposed by\n"
		   "# `libreuse audit` from the command it audited. Its listeners come from\n"
		   "# %s.socket, which systemd holds across `systemctl restart`.\n"
		   "#\n"
		   "# StartLimitIntervalSec=0: systemd's default start limit counts every\n"
		   "# restart; the sixth within 10 s would fail the service and close the\n"
		   "# socket unit's listeners too.\n"
		   "[Unit]\n"
		   "Description=%s under libreuse (proposed by libreuse audit)\n"
		   "Requires=%s.socket\n"
		   "After=%s.socket\n"
		   "StartLimitIntervalSec=0\n"
		   "\n[Service]\n"
		   "ExecStart=",
		p->name, unit, unit, p->name, unit, unit);
	unit_arg(f, self);
	fputs(" run -c ", f);
	unit_arg(f, conf);
	fputs(" --", f);
	/* systemd wants the program's path: the one exec found at the audit. */
	for (char **a = cmd; *a; a++) {
		fputc(' ', f);
		unit_arg(f, a == cmd && p->path[0] ? p->path : *a);
	}
	fputs("\n\n[Install]\nWantedBy=multi-user.target\n", f);
}

static void write_dropin(FILE *f, const struct au_prog *p, const char *unit, const char *conf)
{
	char lib[PATH_MAX];
	library_path(lib, sizeof(lib));
	fprintf(f, "# A drop-in for the unit that runs %s (install it as\n"
		   "# /etc/systemd/system/UNIT.service.d/libreuse.conf): it preloads libreuse\n"
		   "# with the rules in %s.conf, and takes its listeners from %s.socket.\n"
		   "# Proposed by `libreuse audit` from a trail that did not hold the command\n"
		   "# line: the unit's own ExecStart stays.\n"
		   "[Unit]\n"
		   "Requires=%s.socket\n"
		   "After=%s.socket\n"
		   "StartLimitIntervalSec=0\n"
		   "\n[Service]\n"
		   "Environment=",
		p->name, unit, unit, unit, unit);
	char env[2 * PATH_MAX];
	snprintf(env, sizeof(env), "LD_PRELOAD=%s", lib);
	unit_arg(f, env);
	fputs("\nEnvironment=", f);
	snprintf(env, sizeof(env), "LIBREUSE_CONFIG=%.*s", PATH_MAX, conf);
	unit_arg(f, env);
	fputc('\n', f);
}

/* Without systemd: the keeper holds the listeners across restarts (SIGHUP). */
static void write_runner(FILE *f, const struct au_prog *p, const char *conf, char **cmd)
{
	char self[PATH_MAX] = "libreuse";
	self_path(self, sizeof(self));
	fprintf(f, "#!/bin/sh\n"
		   "# %s without systemd: libreuse's keeper holds its listeners, so a\n"
		   "# restart (kill -HUP this process) refuses and resets no connection.\n"
		   "# Proposed by `libreuse audit`.\nexec '%s' run --keep -c '%s' --",
		p->name, self, conf);
	for (char **a = cmd; *a; a++) {
		fputs(" '", f);
		for (const char *c = *a; *c; c++) {
			if (*c == '\'')
				fputs("'\\''", f);
			else
				fputc(*c, f);
		}
		fputc('\'', f);
	}
	fputc('\n', f);
}

int au_propose(const struct au_model *m, const struct au_propose_opts *o)
{
	char dir[PATH_MAX] = "";
	bool ok = true;
	size_t wrote = 0;
	for (size_t i = 0; i < m->nprogs; i++) {
		const struct au_prog *p = &m->progs[i];
		bool any = false;
		for (size_t j = 0; j < p->nsocks; j++) {
			struct plan pl;
			any |= plan_for(p, &p->socks[j], &pl);
		}
		if (!any) {
			fprintf(stderr, "libreuse audit: %s: nothing to propose (no listener on a fixed "
					"port lacks what a lossless restart needs, no bind met a held port)\n",
				p->name);
			continue;
		}
		/* The directory only once there is something to put in it. */
		if (!dir[0] && ((mkdir(o->dir, 0755) != 0 && errno != EEXIST) || !realpath(o->dir, dir))) {
			lr_cli_error("--propose %s: %s", o->dir, strerror(errno));
			return -1;
		}
		char unit[AU_NAME], conf[PATH_MAX + AU_NAME + 8];
		unit_name(unit, sizeof(unit), p->name);
		snprintf(conf, sizeof(conf), "%s/%s.conf", dir, unit);
		struct out out;
		if (!open_out(&out, dir, unit, ".conf"))
			return -1;
		write_rules(out.f, p, unit);
		ok &= close_out(&out);
		if (listeners_of(p)) {
			if (!open_out(&out, dir, unit, ".socket"))
				return -1;
			write_socket(out.f, p, unit);
			ok &= close_out(&out);
			/* A whole unit only for the command the audit ran itself: a
			 * trail does not hold command lines. */
			bool whole = o->cmd && m->nprogs == 1;
			if (whole) {
				if (!open_out(&out, dir, unit, ".service"))
					return -1;
				write_service(out.f, p, unit, conf, o->cmd);
				ok &= close_out(&out);
				if (!open_out(&out, dir, unit, ".run"))
					return -1;
				write_runner(out.f, p, conf, o->cmd);
				fchmod(fileno(out.f), 0755);
				ok &= close_out(&out);
			} else {
				char sub[PATH_MAX + AU_NAME + 16];
				snprintf(sub, sizeof(sub), "%s/%s.service.d", dir, unit);
				if (mkdir(sub, 0755) != 0 && errno != EEXIST) {
					lr_cli_error("%s: %s", sub, strerror(errno));
					return -1;
				}
				if (!open_out(&out, sub, "libreuse", ".conf"))
					return -1;
				write_dropin(out.f, p, unit, conf);
				ok &= close_out(&out);
			}
		}
		wrote++;
	}
	if (!wrote)
		fprintf(stderr, "libreuse audit: nothing proposed\n");
	return ok ? 0 : -1;
}

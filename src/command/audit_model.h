/* What `libreuse audit` learns from a trail of JSON log lines: per program,
 * its processes, the sockets it bound and listened on, where it connected,
 * what the rules did, and what failed. Built line by line, from any number
 * of files, processes and runs; the report and the proposal read it. */
#ifndef LIBREUSE_AUDIT_MODEL_H
#define LIBREUSE_AUDIT_MODEL_H

#include <stdbool.h>
#include <stddef.h>

struct aj;

#define AU_TS 32    /* "2026-12-06T20:18:22.848Z" */
#define AU_ADDR 64  /* an address as the log writes it */
#define AU_NAME 64

struct au_proc {
	int pid;
	char first[AU_TS], last[AU_TS];
};

/* A bind the program made (or tried), one per protocol, address and port. */
struct au_sock {
	char proto[4], family[5];
	char addr[AU_ADDR], eff_addr[AU_ADDR];
	int port, eff_port;
	unsigned binds, listens, failed;
	unsigned set_by_program, injected; /* LR_OPT_* bits, over every bind */
	unsigned kept, adopted;            /* keep / adopt actions on it */
	int first_pid;
	/* The backlogs its successful listens asked for, the largest and the
	 * smallest (equal when every listen asked the same); has_backlog is
	 * false when no listen line carried one (a trail from before the
	 * field, or a socket never listened on). */
	int backlog, backlog_min;
	bool has_backlog;
};

/* Connects, or sends, grouped by destination. */
struct au_conn {
	char proto[4];
	char addr[AU_ADDR];
	int port;
	unsigned count, ok, failed;
	unsigned denied;  /* refused by a deny rule: never reached the kernel */
	unsigned sourced; /* a rule bound its source first */
	char errnos[64];  /* distinct errnos of failed attempts, comma-separated */
};

/* What the rules did, one entry per rule, action, op and port. */
struct au_action {
	int rule;
	char action[16], op[16], proto[4];
	char addr[AU_ADDR];
	int port;
	unsigned count;
	char message[128];
};

/* A failed call, grouped by call, address, errno and holder. */
struct au_fail {
	char op[16], proto[4];
	char addr[AU_ADDR];
	int port;
	char err[24];
	char holder[96]; /* "pid 12 (nginx) LISTEN", "TIME_WAIT", "" unknown */
	char reason[384];
	unsigned count;
	bool denied; /* refused by a deny rule, not by the kernel */
	int rule;
};

/* A socket the kernel shows now on a port of the program's, that no line of
 * the trail explains (see audit_unseen.c). */
struct au_unseen {
	char proto[4], state[12];
	char addr[AU_ADDR];
	int port, pid;
	char program[16];
};

struct au_prog {
	char name[AU_NAME];
	char path[256]; /* when known (the command audited, the journal's _EXE) */
	struct au_proc *procs;
	size_t nprocs;
	struct au_sock *socks;
	size_t nsocks;
	struct au_conn *conns;
	size_t nconns;
	/* Unconnected UDP datagrams (op "send"), grouped by destination: the
	 * log says each socket's first to a destination, not every one. */
	struct au_conn *sends;
	size_t nsends;
	struct au_action *actions;
	size_t nactions;
	struct au_fail *fails;
	size_t nfails;
	char verdicts[2][384]; /* the log's own verdicts, distinct, the first two */
	size_t nverdicts;
	unsigned long lines, suppressed, dropped;
	struct au_unseen *unseen;
	size_t nunseen;
	bool unseen_checked; /* the kernel was asked */
	unsigned errors; /* libreuse's own trouble (event "error") */
	char error[256]; /* the first of them */
};

struct au_model {
	struct au_prog *progs;
	size_t nprogs;
	/* With the host in scope (--journal): every listener of the host that
	 * no audited process owns. */
	struct au_unseen *host_unseen;
	size_t nhost_unseen;
	bool host_checked;
	unsigned long lines, bad; /* lines read; of them not a libreuse JSON line */
	unsigned long blank;
	unsigned sources;
};

void au_model_init(struct au_model *m);
void au_model_free(struct au_model *m);
/* Takes one line (without its newline): a libreuse JSON line, or an entry of
 * `journalctl -o json` carrying one in LIBREUSE_JSON (the program's path
 * then from _EXE); counted as bad when it is neither. */
void au_model_line(struct au_model *m, const char *line, size_t len);
/* One parsed event, with the program's path when the source knows it
 * (journal fields); false when it is not a libreuse event. */
bool au_model_event(struct au_model *m, const struct aj *ev, const char *path);
/* The program named so, or NULL. */
struct au_prog *au_model_find(struct au_model *m, const char *name);

/* Plain-words verdict parts, shared by the text and JSON reports and the
 * proposal: each is computed from the program's listening sockets. */
struct au_verdict {
	unsigned listeners;       /* TCP sockets listened on, UDP sockets bound, fixed ports */
	unsigned tcp_listeners;
	unsigned no_reuseaddr;    /* TCP listeners without SO_REUSEADDR (set or injected) */
	unsigned no_reuseport;    /* listeners without SO_REUSEPORT */
	unsigned not_kept;        /* listeners no keep or adoption covered */
	unsigned conflicts, denied;
	bool restart_at_once, can_share, loses_connections;
};
void au_verdict(const struct au_prog *p, struct au_verdict *v);
/* A socket counts as a listener: TCP listened on, or UDP bound, fixed port. */
bool au_is_listener(const struct au_sock *s);

#endif

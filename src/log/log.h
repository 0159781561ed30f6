/* Log events, their text and JSON lines, and the sinks they go to. Formatting
 * runs inside intercepted calls: stack buffers only, one write(2) per line. */
#ifndef LIBREUSE_LOG_H
#define LIBREUSE_LOG_H

#include "addr.h"
#include "holders.h"
#include "rules.h"
#include "tally.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum lr_event_kind {
	LR_EV_ERROR,    /* libreuse's own trouble: rule file, log file */
	LR_EV_CONFLICT, /* a bind/connect failed with EADDRINUSE, EADDRNOTAVAIL or EACCES */
	LR_EV_ACTION,   /* an injection, rewrite, deny, source bind or retry */
	LR_EV_CALL,     /* any intercepted call, at level "all" */
	LR_EV_VERDICT,  /* once per process at level "all": what the program never does */
	LR_EV_SUMMARY,  /* at exit, level "actions" and above: counts per kind */
};

/* The exit summary's figures. */
struct lr_summary {
	unsigned long counts[LR_TALLY_KINDS];
	unsigned long dropped; /* lines the sink could not take */
	/* Below level "actions" only failures are counted: the summary then
	 * holds conflicts and suppressed lines alone. */
	bool failures_only;
};

struct lr_event {
	/* Pointers first, then the rest by size: the event is zeroed on every
	 * call a rule matches, so its padding is paid for. */
	const char *program;
	const char *op;      /* "bind", "connect", "listen", "setsockopt" */
	const char *action;  /* for LR_EV_ACTION: "inject", "rewrite", ... */
	const char *message; /* free text: an error, or what an action did */
	/* A conflict's holders (NULL when not looked up) and why it was refused. */
	const struct lr_holders *holders;
	const char *reason;
	const struct lr_summary *summary; /* LR_EV_SUMMARY */
	enum lr_event_kind kind;
	pid_t pid; /* the process the line is about; 0: this one */
	int port;
	int eff_port;
	int result; /* the call's return value */
	int err;    /* its errno when result < 0 */
	int rule;   /* 1-based rule number, 0 for none */
	int backlog; /* listen's, as the program asked it (has_backlog) */
	unsigned set_by_program; /* LR_OPT_* bits */
	unsigned injected;       /* LR_OPT_* bits */
	uint32_t suppressed;     /* lines like this one held back before it */
	struct lr_addr addr;     /* what the program asked for */
	struct lr_addr eff_addr; /* set when libreuse used another address */
	uint8_t proto;           /* LR_PROTO_TCP / LR_PROTO_UDP / 0 */
	uint8_t said_at;         /* enum lr_level the line is said at (0: by its kind): its priority */
	bool has_addr;
	bool has_effective;
	bool has_backlog; /* a listen line: backlog is said */
	bool dry_run;
};

/* Formats one line, newline included, into buf; returns its length. */
size_t lr_format_text(char *buf, size_t n, pid_t pid, const struct lr_event *ev);
size_t lr_format_json(char *buf, size_t n, pid_t pid, const struct timespec *ts,
		      const struct lr_event *ev);

/* An fd of libreuse's own inside the program, and the identity of the file
 * it was opened on. Programs close every fd at start (close_range,
 * closefrom) and reuse the numbers: a line is written only while the number
 * still holds that file, and once it does not, the fd is taken again from
 * where it came (the program's stderr, if fd 2 still is it; the log file's
 * path), never from the number the program now owns. */
struct lr_fdref {
	atomic_int fd;
	atomic_ullong dev, ino;
	atomic_flag retaking; /* held by the one thread taking it again */
};

/* Where lines go. One small interface: every sink is written with whole
 * lines, and counts what it had to drop instead of blocking or failing. */
struct lr_sink {
	enum lr_target kind;
	enum lr_format format;
	int facility;
	bool mute;            /* writes nothing at all (a quiet stand-in) */
	struct lr_fdref *ref; /* stderr: the process's one copy; a file: &file */
	struct lr_fdref file;
	const char *path;     /* the log file's, to open it again */
	atomic_ulong dropped;
};

/* The process's stderr as it was at start-up, copied to a high fd with
 * O_CLOEXEC. Call early (the constructor) and again lazily; only the first
 * call does anything. */
void lr_log_capture_stderr(void);

/* Opens the sink a log configuration asks for. On failure it falls back to
 * stderr and writes why into err (the caller reports it once). */
void lr_sink_open(struct lr_sink *s, const struct lr_log_conf *conf, char *err, size_t errlen);
void lr_sink_close(struct lr_sink *s);
void lr_sink_stderr(struct lr_sink *s);

/* Formats ev in the sink's format and writes it; errno is preserved. */
void lr_log_event(struct lr_sink *s, const struct lr_event *ev);
/* A plain "libreuse[PID]: message" line, for errors outside any call. */
void lr_log_message(struct lr_sink *s, const char *message);
/* The same, the message made of up to three parts (NULL parts skipped). */
void lr_log_parts(struct lr_sink *s, const char *a, const char *b, const char *c);

#endif

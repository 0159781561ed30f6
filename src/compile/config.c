#include "config.h"
#include "addrparse.h"
#include "sys.h"

/* Memory asked for, as a multiple of the rule text, before libconfig runs. */
#define LR_CONFIG_HEADROOM 8

#include "errname.h"
#include "libconfig_dl.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* libconfig itself allows 10 levels; stopping earlier keeps its own error
 * path (and any recursion) out of reach. */
#define LR_INCLUDE_DEPTH 8

struct ctx {
	const char *name; /* file (or variable) the text came from */
	char *err;
	size_t errlen;
	struct lr_ruleset *rs;
	const struct lr_libconfig *lc;
};

static enum lr_config_result errorf(struct ctx *c, const char *file, int line,
				    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum lr_config_result errorf(struct ctx *c, const char *file, int line,
				    const char *fmt, ...)
{
	int n = line > 0 ? snprintf(c->err, c->errlen, "%s:%d: ", file, line)
			 : snprintf(c->err, c->errlen, "%s: ", file);
	if (n >= 0 && (size_t)n < c->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return LR_CONFIG_ERROR;
}

/* An error about a setting: its own file and line, as libconfig recorded them. */
#define SERR(c, s, ...) \
	errorf((c), (s)->file ? (s)->file : (c)->name, (int)(s)->line, __VA_ARGS__)

/* Reads a whole regular file. FIFOs, devices and directories are refused
 * before any read, so nothing here can block or run without end. */
static enum lr_config_result read_once(struct ctx *c, int given, const char *path, char **out,
				       bool *torn);

/* A file rewritten in place while it is read is read again, so what is
 * returned is one version of it, never a mix. */
static enum lr_config_result read_file(struct ctx *c, int given, const char *path, char **out)
{
	for (int tries = 0; tries < 5; tries++) {
		bool torn = false;
		enum lr_config_result r = read_once(c, given, path, out, &torn);
		if (!torn)
			return r;
	}
	return errorf(c, path, 0, "changed while being read, again and again");
}

/* given: the file already open (by the one whose right to read it counts:
 * the library, for its helper), read from its start; < 0: open path. */
static enum lr_config_result read_once(struct ctx *c, int given, const char *path, char **out,
				       bool *torn)
{
	int fd = given >= 0 ? fcntl(given, F_DUPFD_CLOEXEC, 0)
			    : open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd >= 0 && given >= 0 && lseek(fd, 0, SEEK_SET) < 0 && errno != ESPIPE) {
		lr_sys.close(fd);
		return errorf(c, path, 0, "cannot read: %s", strerror(errno));
	}
	if (fd < 0) {
		if (errno == ENOENT)
			return LR_CONFIG_MISSING;
		return errorf(c, path, 0, "cannot open: %s", strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)) {
		/* /dev/null: the usual way to say "an empty file". */
		lr_sys.close(fd);
		*out = calloc(1, 1);
		if (!*out || lr_ruleset_add_source(c->rs, path, &st) != 0) {
			free(*out);
			*out = NULL;
			return errorf(c, path, 0, "out of memory");
		}
		return LR_CONFIG_OK;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		lr_sys.close(fd);
		return errorf(c, path, 0, "not a regular file");
	}
	if ((unsigned long long)st.st_size > LR_CONFIG_MAX_BYTES) {
		lr_sys.close(fd);
		return errorf(c, path, 0, "larger than %u bytes", LR_CONFIG_MAX_BYTES);
	}
	size_t cap = (size_t)st.st_size + 1, len = 0;
	char *buf = malloc(cap + 1);
	if (!buf) {
		lr_sys.close(fd);
		return errorf(c, path, 0, "out of memory");
	}
	for (;;) {
		if (len == cap) {
			/* The file grew while we read it. */
			lr_sys.close(fd);
			free(buf);
			*torn = true;
			return LR_CONFIG_ERROR;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			lr_sys.close(fd);
			free(buf);
			return errorf(c, path, 0, "cannot read: %s", strerror(e));
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	struct stat now;
	if (fstat(fd, &now) == 0 && (now.st_size != st.st_size ||
				     now.st_mtim.tv_sec != st.st_mtim.tv_sec ||
				     now.st_mtim.tv_nsec != st.st_mtim.tv_nsec)) {
		lr_sys.close(fd);
		free(buf);
		*torn = true;
		return LR_CONFIG_ERROR;
	}
	lr_sys.close(fd);
	buf[len] = '\0';
	const char *nul = memchr(buf, '\0', len);
	if (nul) {
		int line = 1;
		for (const char *p = buf; p < nul; p++)
			line += *p == '\n';
		free(buf);
		return errorf(c, path, line, "NUL byte: not a text file");
	}
	/* Recorded as it was before the read: a write since makes it differ. */
	if (lr_ruleset_add_source(c->rs, path, &st) != 0) {
		free(buf);
		return errorf(c, path, 0, "out of memory");
	}
	*out = buf;
	return LR_CONFIG_OK;
}

/* libconfig 1.5 exit()s on an @include of a directory and blocks on a FIFO:
 * every @include target is checked here first, recursively. Only what
 * libconfig's scanner treats as an include is looked at: a line that starts,
 * after blanks, with @include and a quoted path. */
static enum lr_config_result check_includes(struct ctx *c, const char *text,
					    const char *name, const char *dir, int depth)
{
	int line = 1;
	for (const char *p = text; *p; line++) {
		const char *eol = strchr(p, '\n');
		const char *q = p;
		while (*q == ' ' || *q == '\t')
			q++;
		if (strncmp(q, "@include", 8) == 0) {
			q += 8;
			while (*q == ' ' || *q == '\t')
				q++;
			const char *close = *q == '"' ? strchr(q + 1, '"') : NULL;
			if (!close || (eol && close > eol))
				return errorf(c, name, line, "@include needs a quoted path");
			size_t n = (size_t)(close - q - 1);
			if (n == 0 || memchr(q + 1, '\\', n))
				return errorf(c, name, line, "@include path is empty or has a backslash");
			if (depth >= LR_INCLUDE_DEPTH)
				return errorf(c, name, line, "@include nested deeper than %d",
					      LR_INCLUDE_DEPTH);
			char path[4096];
			int len;
			if (q[1] == '/')
				len = snprintf(path, sizeof(path), "%.*s", (int)n, q + 1);
			else if (dir)
				len = snprintf(path, sizeof(path), "%s/%.*s", dir, (int)n, q + 1);
			else
				return errorf(c, name, line, "relative @include without a file to be relative to");
			if (len < 0 || (size_t)len >= sizeof(path))
				return errorf(c, name, line, "@include path too long");
			char *sub = NULL;
			struct ctx subc = *c;
			enum lr_config_result r = read_file(&subc, -1, path, &sub);
			if (r == LR_CONFIG_MISSING)
				return errorf(c, name, line, "@include \"%s\": no such file", path);
			if (r != LR_CONFIG_OK) {
				/* Keep the included file's own message, but say where it was included. */
				char inner[512];
				snprintf(inner, sizeof(inner), "%s", c->err);
				return errorf(c, name, line, "in @include: %s", inner);
			}
			r = check_includes(c, sub, path, dir, depth + 1);
			free(sub);
			if (r != LR_CONFIG_OK)
				return r;
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	return LR_CONFIG_OK;
}

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_GROUP:
		return "a group { }";
	case CONFIG_TYPE_LIST:
		return "a list ( )";
	case CONFIG_TYPE_ARRAY:
		return "an array [ ]";
	default:
		return "something else";
	}
}

static enum lr_config_result want(struct ctx *c, const config_setting_t *s, int type)
{
	int t = config_setting_type(s);
	if (t == type || (type == CONFIG_TYPE_INT && t == CONFIG_TYPE_INT64))
		return LR_CONFIG_OK;
	return SERR(c, s, "'%s' must be %s, not %s", config_setting_name(s), type_name(type),
		    type_name(t));
}

static enum lr_config_result get_bool(struct ctx *c, const config_setting_t *s, bool *out)
{
	if (want(c, s, CONFIG_TYPE_BOOL) != LR_CONFIG_OK)
		return LR_CONFIG_ERROR;
	*out = c->lc->get_bool(s) != 0;
	return LR_CONFIG_OK;
}

static enum lr_config_result get_str(struct ctx *c, const config_setting_t *s, const char **out)
{
	if (want(c, s, CONFIG_TYPE_STRING) != LR_CONFIG_OK)
		return LR_CONFIG_ERROR;
	*out = c->lc->get_string(s);
	/* NULL: libconfig's copy of the string failed to allocate. */
	return *out ? LR_CONFIG_OK : SERR(c, s, "out of memory");
}

/* Picks a value from a closed list of names; returns its index or -1. */
static int one_of(struct ctx *c, const config_setting_t *s, const char *const *names)
{
	const char *v;
	if (get_str(c, s, &v) != LR_CONFIG_OK)
		return -1;
	for (int i = 0; names[i]; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	char list[256] = "";
	for (int i = 0; names[i]; i++) {
		strncat(list, i ? ", \"" : "\"", sizeof(list) - strlen(list) - 1);
		strncat(list, names[i], sizeof(list) - strlen(list) - 1);
		strncat(list, "\"", sizeof(list) - strlen(list) - 1);
	}
	SERR(c, s, "'%s' is \"%s\"; expected one of %s", config_setting_name(s), v, list);
	return -1;
}

static const char *const level_names[] = { "off", "errors", "conflicts", "actions", "all", NULL };

static const struct {
	const char *name;
	int value;
} facilities[] = {
	{ "user", 1 << 3 },	{ "daemon", 3 << 3 },	{ "auth", 4 << 3 },
	{ "authpriv", 10 << 3 }, { "local0", 16 << 3 }, { "local1", 17 << 3 },
	{ "local2", 18 << 3 },	{ "local3", 19 << 3 },	{ "local4", 20 << 3 },
	{ "local5", 21 << 3 },	{ "local6", 22 << 3 },	{ "local7", 23 << 3 },
};

static enum lr_config_result unknown_key(struct ctx *c, const config_setting_t *s,
					 const char *where, const char *known)
{
	return SERR(c, s, "unknown key '%s' in %s (known: %s)", config_setting_name(s), where,
		    known);
}

static enum lr_config_result parse_log(struct ctx *c, const config_setting_t *g)
{
	static const char *const formats[] = { "text", "json", NULL };
	if (want(c, g, CONFIG_TYPE_GROUP) != LR_CONFIG_OK)
		return LR_CONFIG_ERROR;
	/* Keys an earlier source (LIBREUSE_RULES) gave are validated here but
	 * not overridden: the settings given closest to the command win. */
	struct lr_log_conf given = c->rs->log;
	struct lr_log_conf *log = &given;
	unsigned set = 0;
	for (int i = 0; i < c->lc->length(g); i++) {
		const config_setting_t *s = c->lc->get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		if (!k) /* libconfig lost it to a failed allocation */
			return SERR(c, s, "out of memory");
		int v;
		if (strcmp(k, "level") == 0) {
			if ((v = one_of(c, s, level_names)) < 0)
				return LR_CONFIG_ERROR;
			log->level = (enum lr_level)v;
			set |= LR_LOGKEY_LEVEL;
		} else if (strcmp(k, "format") == 0) {
			if ((v = one_of(c, s, formats)) < 0)
				return LR_CONFIG_ERROR;
			log->format = (enum lr_format)v;
			set |= LR_LOGKEY_FORMAT;
		} else if (strcmp(k, "target") == 0) {
			const char *t;
			if (get_str(c, s, &t) != LR_CONFIG_OK)
				return LR_CONFIG_ERROR;
			set |= LR_LOGKEY_TARGET;
			if (strcmp(t, "stderr") == 0) {
				log->target = LR_TARGET_STDERR;
			} else if (strcmp(t, "syslog") == 0) {
				log->target = LR_TARGET_SYSLOG;
			} else if (strcmp(t, "journal") == 0) {
				log->target = LR_TARGET_JOURNAL;
			} else if (t[0] == '/') {
				log->target = LR_TARGET_FILE;
				if (!(log->path = lr_ruleset_strdup(c->rs, t)))
					return SERR(c, s, "out of memory");
			} else {
				return SERR(c, s,
					    "log target \"%s\" must be \"stderr\", \"syslog\", \"journal\" or an absolute path",
					    t);
			}
		} else if (strcmp(k, "facility") == 0) {
			const char *f;
			size_t j;
			if (get_str(c, s, &f) != LR_CONFIG_OK)
				return LR_CONFIG_ERROR;
			for (j = 0; j < sizeof(facilities) / sizeof(facilities[0]); j++)
				if (strcmp(f, facilities[j].name) == 0)
					break;
			if (j == sizeof(facilities) / sizeof(facilities[0]))
				return SERR(c, s, "unknown syslog facility \"%s\" (user, daemon, auth, authpriv, local0-local7)", f);
			log->facility = facilities[j].value;
			set |= LR_LOGKEY_FACILITY;
		} else {
			return unknown_key(c, s, "log", "level, target, format, facility");
		}
	}
	struct lr_log_conf *kept = &c->rs->log;
	unsigned fresh = set & ~c->rs->log_set;
	if (fresh & LR_LOGKEY_LEVEL)
		kept->level = given.level;
	if (fresh & LR_LOGKEY_FORMAT)
		kept->format = given.format;
	if (fresh & LR_LOGKEY_TARGET)
		kept->target = given.target, kept->path = given.path;
	if (fresh & LR_LOGKEY_FACILITY)
		kept->facility = given.facility;
	c->rs->log_set |= set;
	return LR_CONFIG_OK;
}

static enum lr_config_result parse_port(struct ctx *c, const config_setting_t *s,
					struct lr_rule *r)
{
	int t = config_setting_type(s);
	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		long long v = c->lc->get_int64(s);
		if (v < 0 || v > 65535)
			return SERR(c, s, "port %lld out of range 0-65535", v);
		r->port_lo = r->port_hi = (uint16_t)v;
		return LR_CONFIG_OK;
	}
	if (t == CONFIG_TYPE_STRING) {
		const char *v = c->lc->get_string(s);
		if (!v)
			return SERR(c, s, "out of memory");
		if (lr_parse_port_range(v, &r->port_lo, &r->port_hi) != 0)
			return SERR(c, s, "port \"%s\" is not a port 0-65535 or a range \"LO-HI\" with LO <= HI", v);
		return LR_CONFIG_OK;
	}
	return SERR(c, s, "'port' must be an integer or a string \"LO-HI\", not %s", type_name(t));
}

static enum lr_config_result parse_match(struct ctx *c, const config_setting_t *g,
					 struct lr_rule *r)
{
	static const char *const protos[] = { "tcp", "udp", "any", NULL };
	static const char *const families[] = { "ipv4", "ipv6", "any", NULL };
	static const char *const ops[] = { "bind", "connect", "any", "send", NULL };
	static const uint8_t proto_bits[] = { LR_PROTO_TCP, LR_PROTO_UDP, LR_PROTO_ANY };
	static const uint8_t family_bits[] = { LR_FAM_V4, LR_FAM_V6, LR_FAM_ANY };
	static const uint8_t op_bits[] = { LR_OP_BIND, LR_OP_CONNECT, LR_OP_ANY, LR_OP_SEND };
	if (want(c, g, CONFIG_TYPE_GROUP) != LR_CONFIG_OK)
		return LR_CONFIG_ERROR;
	for (int i = 0; i < c->lc->length(g); i++) {
		const config_setting_t *s = c->lc->get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		if (!k) /* libconfig lost it to a failed allocation */
			return SERR(c, s, "out of memory");
		int v;
		if (strcmp(k, "program") == 0) {
			const char *p;
			if (get_str(c, s, &p) != LR_CONFIG_OK)
				return LR_CONFIG_ERROR;
			if (p[0] == '\0')
				return SERR(c, s, "'program' is empty");
			if (!(r->program = lr_ruleset_strdup(c->rs, p)))
				return SERR(c, s, "out of memory");
		} else if (strcmp(k, "proto") == 0) {
			if ((v = one_of(c, s, protos)) < 0)
				return LR_CONFIG_ERROR;
			r->proto = proto_bits[v];
		} else if (strcmp(k, "family") == 0) {
			if ((v = one_of(c, s, families)) < 0)
				return LR_CONFIG_ERROR;
			r->family = family_bits[v];
		} else if (strcmp(k, "op") == 0) {
			if ((v = one_of(c, s, ops)) < 0)
				return LR_CONFIG_ERROR;
			r->op = op_bits[v];
		} else if (strcmp(k, "address") == 0) {
			const char *a;
			if (get_str(c, s, &a) != LR_CONFIG_OK)
				return LR_CONFIG_ERROR;
			if (lr_parse_cidr(a, &r->addr) != 0)
				return SERR(c, s, "address \"%s\" is not an IPv4 or IPv6 address or CIDR block (a.b.c.d/0-32, x::y/0-128)", a);
			r->has_addr = true;
		} else if (strcmp(k, "port") == 0) {
			if (parse_port(c, s, r) != LR_CONFIG_OK)
				return LR_CONFIG_ERROR;
		} else {
			return unknown_key(c, s, "match", "program, proto, family, address, port, op");
		}
	}
	return LR_CONFIG_OK;
}

static enum lr_config_result parse_endpoint(struct ctx *c, const config_setting_t *s,
					    struct lr_endpoint *e)
{
	const char *v;
	if (get_str(c, s, &v) != LR_CONFIG_OK)
		return LR_CONFIG_ERROR;
	if (lr_parse_endpoint(v, e) != 0)
		return SERR(c, s, "'%s' \"%s\" is not ADDR, :PORT, ADDR:PORT, [V6] or [V6]:PORT",
			    config_setting_name(s), v);
	return LR_CONFIG_OK;
}

/* keep = true; or keep = "NAME"; (systemd's FileDescriptorName: at most 255
 * characters, no colon, which separates names in LISTEN_FDNAMES). */
static enum lr_config_result parse_keep(struct ctx *c, const config_setting_t *s,
					struct lr_action *a)
{
	if (config_setting_type(s) == CONFIG_TYPE_BOOL)
		return get_bool(c, s, &a->keep);
	const char *name;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return SERR(c, s, "'keep' must be true, false or a systemd socket name \"NAME\", not %s",
			    type_name(config_setting_type(s)));
	if (get_str(c, s, &name) != LR_CONFIG_OK)
		return LR_CONFIG_ERROR;
	if (!name[0] || strlen(name) > 255 || strchr(name, ':'))
		return SERR(c, s, "keep \"%s\" is not a systemd socket name (1-255 characters, no ':')", name);
	a->keep = true;
	const char *h = lr_ruleset_strdup(c->rs, name);
	if (!h)
		return SERR(c, s, "out of memory");
	a->keep_name = (uint32_t)(uintptr_t)h;
	return LR_CONFIG_OK;
}

/* Combinations that cannot mean what their writer hoped, refused up front. */
static enum lr_config_result check_rule(struct ctx *c, const config_setting_t *g,
					const struct lr_rule *r)
{
	const struct lr_action *a = &r->action;
	if (a->deny && (a->reuseaddr || a->reuseport || a->has_rewrite || a->has_source || a->retry_ms ||
			a->keep))
		return SERR(c, g, "rule %d: 'deny' cannot be combined with other actions", r->index + 1);
	if (a->has_source && !(r->op & (LR_OP_CONNECT | LR_OP_SEND)))
		return SERR(c, g, "rule %d: 'source' applies to connects and sends: add op = \"connect\" or op = \"send\" to match", r->index + 1);
	if (a->keep && !(r->op & LR_OP_BIND))
		return SERR(c, g, "rule %d: 'keep' applies to binds (the listener a program binds), not to connects or sends", r->index + 1);
	/* A send rule acts before the kernel's implicit bind; the datagram's
	 * destination is the program's own (in its buffer, or in each of a
	 * sendmmsg's messages), never changed. */
	if (r->op == LR_OP_SEND && a->has_rewrite)
		return SERR(c, g, "rule %d: 'rewrite' does not apply to op = \"send\" (a datagram's destination is the program's; use 'source' to set where it comes from)", r->index + 1);
	if (r->op == LR_OP_SEND && r->proto == LR_PROTO_TCP)
		return SERR(c, g, "rule %d: op = \"send\" matches the first datagram of an unbound UDP socket: proto = \"tcp\" can never match", r->index + 1);
	if (a->force && !a->reuseaddr && !a->reuseport)
		return SERR(c, g, "rule %d: 'force' needs reuseaddr or reuseport to keep", r->index + 1);
	if (a->retry_ms && !(r->op & LR_OP_BIND) && !a->has_source)
		return SERR(c, g, "rule %d: 'retry' applies to binds (or the 'source' bind of a connect or send)", r->index + 1);
	if (a->has_rewrite && a->rewrite.has_addr && r->family == LR_FAM_V4 &&
	    a->rewrite.addr.family == AF_INET6 && !lr_addr_is_v4mapped(&a->rewrite.addr))
		return SERR(c, g, "rule %d: an IPv6 'rewrite' cannot apply to IPv4 sockets (family = \"ipv4\")", r->index + 1);
	if (a->has_source && a->source.has_addr && r->family == LR_FAM_V4 &&
	    a->source.addr.family == AF_INET6 && !lr_addr_is_v4mapped(&a->source.addr))
		return SERR(c, g, "rule %d: an IPv6 'source' cannot apply to IPv4 sockets (family = \"ipv4\")", r->index + 1);
	return LR_CONFIG_OK;
}

static enum lr_config_result parse_rule(struct ctx *c, const config_setting_t *g)
{
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return SERR(c, g, "each rule must be a group { match = {...}; action = ...; }, not %s",
			    type_name(config_setting_type(g)));
	struct lr_rule *r = lr_ruleset_add(c->rs);
	if (!r)
		return SERR(c, g, "out of memory");
	r->line = (int)g->line;
	for (int i = 0; i < c->lc->length(g); i++) {
		const config_setting_t *s = c->lc->get_elem(g, (unsigned)i);
		const char *k = config_setting_name(s);
		if (!k) /* libconfig lost it to a failed allocation */
			return SERR(c, s, "out of memory");
		enum lr_config_result res = LR_CONFIG_OK;
		if (strcmp(k, "match") == 0) {
			res = parse_match(c, s, r);
		} else if (strcmp(k, "reuseaddr") == 0) {
			res = get_bool(c, s, &r->action.reuseaddr);
		} else if (strcmp(k, "reuseport") == 0) {
			res = get_bool(c, s, &r->action.reuseport);
		} else if (strcmp(k, "force") == 0) {
			res = get_bool(c, s, &r->action.force);
		} else if (strcmp(k, "dry_run") == 0) {
			res = get_bool(c, s, &r->action.dry_run);
		} else if (strcmp(k, "rewrite") == 0) {
			res = parse_endpoint(c, s, &r->action.rewrite);
			r->action.has_rewrite = true;
		} else if (strcmp(k, "source") == 0) {
			res = parse_endpoint(c, s, &r->action.source);
			r->action.has_source = true;
		} else if (strcmp(k, "keep") == 0) {
			res = parse_keep(c, s, &r->action);
		} else if (strcmp(k, "deny") == 0) {
			const char *e;
			res = get_str(c, s, &e);
			if (res == LR_CONFIG_OK && !(r->action.deny = lr_errno_from_name(e)))
				res = SERR(c, s, "deny \"%s\" is not an errno name such as \"EACCES\" or \"EADDRINUSE\"", e);
		} else if (strcmp(k, "retry") == 0) {
			res = want(c, s, CONFIG_TYPE_INT);
			if (res == LR_CONFIG_OK) {
				long long ms = c->lc->get_int64(s);
				if (ms < 0 || ms > 3600000)
					res = SERR(c, s, "retry %lld ms out of range 0-3600000", ms);
				r->action.retry_ms = (uint32_t)ms;
			}
		} else if (strcmp(k, "log") == 0) {
			int v = one_of(c, s, level_names);
			if (v < 0)
				res = LR_CONFIG_ERROR;
			r->action.log_level = (int8_t)v;
		} else {
			res = unknown_key(c, s, "rule",
					  "match, reuseaddr, reuseport, rewrite, source, keep, deny, force, retry, log, dry_run");
		}
		if (res != LR_CONFIG_OK)
			return res;
	}
	return check_rule(c, g, r);
}

static enum lr_config_result parse_root(struct ctx *c, const config_setting_t *root)
{
	for (int i = 0; i < c->lc->length(root); i++) {
		const config_setting_t *s = c->lc->get_elem(root, (unsigned)i);
		const char *k = config_setting_name(s);
		if (!k) /* libconfig lost it to a failed allocation */
			return SERR(c, s, "out of memory");
		if (strcmp(k, "log") == 0) {
			if (parse_log(c, s) != LR_CONFIG_OK)
				return LR_CONFIG_ERROR;
		} else if (strcmp(k, "dry_run") == 0) {
			if (get_bool(c, s, &c->rs->dry_run) != LR_CONFIG_OK)
				return LR_CONFIG_ERROR;
		} else if (strcmp(k, "keep") == 0) {
			bool keep;
			if (get_bool(c, s, &keep) != LR_CONFIG_OK)
				return LR_CONFIG_ERROR;
			c->rs->keep_all = c->rs->keep_all || keep;
		} else if (strcmp(k, "io_uring") == 0) {
			static const char *const uring[] = { "allow", "refuse", NULL };
			int v = one_of(c, s, uring);
			if (v < 0)
				return LR_CONFIG_ERROR;
			/* Like keep: any source that refuses, refuses. */
			c->rs->io_uring_refuse = c->rs->io_uring_refuse || v == 1;
		} else if (strcmp(k, "rules") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_LIST)
				return SERR(c, s, "'rules' must be a list: rules = ( { ... }, { ... } );");
			int n = c->lc->length(s);
			/* Room for them all at once: growing by doubling copies a
			 * 10,000-rule set several times over. */
			if (lr_ruleset_reserve(c->rs, (size_t)n) != 0)
				return SERR(c, s, "out of memory");
			for (int j = 0; j < n; j++)
				if (parse_rule(c, c->lc->get_elem(s, (unsigned)j)) != LR_CONFIG_OK)
					return LR_CONFIG_ERROR;
		} else {
			return unknown_key(c, s, "the rule file", "log, rules, dry_run, keep, io_uring");
		}
	}
	return LR_CONFIG_OK;
}

enum lr_config_result lr_config_load_text(const char *text, const char *name,
					  const char *include_dir, struct lr_ruleset *rs,
					  char *err, size_t errlen)
{
	struct ctx c = { .name = name, .err = err, .errlen = errlen, .rs = rs };
	if (errlen)
		err[0] = '\0';
	if (check_includes(&c, text, name, include_dir, 0) != LR_CONFIG_OK)
		return LR_CONFIG_ERROR;

	/* libconfig 1.5 does not check its own allocations: one failing inside
	 * it crashes, or its scanner exit()s. We cannot make it safe, but we
	 * can refuse to start it when memory is already short: the text's
	 * parse tree and scanner buffers take a few times its size. */
	void *headroom = malloc(strlen(text) * LR_CONFIG_HEADROOM + 65536);
	if (!headroom)
		return errorf(&c, name, 0, "out of memory (not parsing: libconfig cannot survive it)");
	free(headroom);

	/* libconfig switches the thread to the C locale and back to the global
	 * one, losing a per-thread locale the host had set: put it back. */
	char why[256];
	c.lc = lr_libconfig(why, sizeof(why));
	if (!c.lc)
		return errorf(&c, name, 0, "%s", why);
	locale_t saved = uselocale((locale_t)0);
	config_t cf;
	c.lc->init(&cf);
	if (include_dir)
		c.lc->set_include_dir(&cf, include_dir);
	enum lr_config_result res;
	if (c.lc->read_string(&cf, text) != CONFIG_TRUE) {
		const char *file = config_error_file(&cf) ? config_error_file(&cf) : name;
		res = errorf(&c, file, config_error_line(&cf), "%s",
			     config_error_text(&cf) ? config_error_text(&cf) : "parse error");
	} else {
		res = parse_root(&c, config_root_setting(&cf));
	}
	c.lc->destroy(&cf);
	uselocale(saved);
	return res;
}

enum lr_config_result lr_config_load_file(const char *path, struct lr_ruleset *rs,
					  char *err, size_t errlen)
{
	return lr_config_load_fd(-1, path, rs, err, errlen);
}

enum lr_config_result lr_config_load_fd(int fd, const char *path, struct lr_ruleset *rs,
					char *err, size_t errlen)
{
	struct ctx c = { .name = path, .err = err, .errlen = errlen, .rs = rs };
	char *text = NULL;
	enum lr_config_result res = read_file(&c, fd, path, &text);
	if (res != LR_CONFIG_OK)
		return res;
	/* Relative @include resolves against the rule file's directory, not the
	 * host's working directory. */
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (slash && (size_t)(slash - path) < sizeof(dir)) {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		if (dir[0] == '\0')
			strcpy(dir, "/");
	} else {
		strcpy(dir, ".");
	}
	res = lr_config_load_text(text, path, dir, rs, err, errlen);
	free(text);
	return res;
}

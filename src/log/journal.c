#include "journal.h"

#include "errname.h"
#include "fmt.h"
#include "sys.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Fields of one entry: a name, and a value sent as "NAME=value\n", or, when
 * the value holds a newline, as "NAME\n", its 64-bit little-endian length,
 * the bytes and "\n" (the protocol's binary form). */
struct entry {
	struct iovec iov[64];
	int n;
	unsigned char lens[16][8]; /* the binary form's lengths */
	int nlens;
};

static void add(struct entry *e, const void *p, size_t len)
{
	if (e->n < (int)(sizeof(e->iov) / sizeof(e->iov[0])))
		e->iov[e->n++] = (struct iovec){ (void *)p, len };
}

/* name is "NAME=" (a literal, the '=' included) */
static void field(struct entry *e, const char *name, const char *value, size_t len)
{
	if (!value)
		return;
	size_t nl = strlen(name);
	if (!memchr(value, '\n', len)) {
		add(e, name, nl);
		add(e, value, len);
		add(e, "\n", 1);
		return;
	}
	if (e->nlens == (int)(sizeof(e->lens) / sizeof(e->lens[0])))
		return;
	unsigned char *l = e->lens[e->nlens++];
	for (int i = 0; i < 8; i++)
		l[i] = (unsigned char)((uint64_t)len >> (8 * i));
	add(e, name, nl - 1); /* without the '=' */
	add(e, "\n", 1);
	add(e, l, 8);
	add(e, value, len);
	add(e, "\n", 1);
}

static void field_str(struct entry *e, const char *name, const char *value)
{
	if (value && value[0])
		field(e, name, value, strlen(value));
}

static const char *kind_name(enum lr_event_kind k)
{
	static const char *const names[] = { "error", "conflict", "action", "call", "verdict",
					      "summary" };
	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

bool lr_journal_send(const struct lr_event *ev, pid_t pid, int priority)
{
	/* The text line is MESSAGE, the JSON line LIBREUSE_JSON: the two
	 * formats the other sinks write, so nothing is said twice in two
	 * ways. */
	char text[2048], json[4096], pri[4], port[8], rule[12];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	size_t tl = lr_format_text(text, sizeof(text), pid, ev);
	size_t jl = lr_format_json(json, sizeof(json), pid, &ts, ev);
	if (jl >= sizeof(json) - 4 && (ev->holders || ev->reason)) {
		struct lr_event shorter = *ev;
		shorter.holders = NULL;
		shorter.reason = "(holders left out: the line was too long)";
		jl = lr_format_json(json, sizeof(json), pid, &ts, &shorter);
	}
	while (tl && text[tl - 1] == '\n')
		tl--;
	while (jl && json[jl - 1] == '\n')
		jl--;

	struct entry e;
	e.n = 0;
	e.nlens = 0;
	field(&e, "MESSAGE=", text, tl);
	struct lr_buf b = LR_BUF(pri);
	lr_buf_u64(&b, (uint64_t)(priority & 7));
	field(&e, "PRIORITY=", pri, b.len);
	field_str(&e, "SYSLOG_IDENTIFIER=", "libreuse");
	field_str(&e, "LIBREUSE_EVENT=", kind_name(ev->kind));
	field_str(&e, "LIBREUSE_PROGRAM=", ev->program);
	if (ev->kind != LR_EV_SUMMARY && ev->kind != LR_EV_VERDICT && ev->op) {
		field_str(&e, "LIBREUSE_OP=", ev->op);
		field_str(&e, "LIBREUSE_PROTO=", ev->proto == LR_PROTO_TCP   ? "tcp"
						 : ev->proto == LR_PROTO_UDP ? "udp"
									     : NULL);
		if (ev->has_addr) {
			b = LR_BUF(port);
			lr_buf_u64(&b, (uint64_t)(ev->has_effective ? ev->eff_port : ev->port));
			field(&e, "LIBREUSE_PORT=", port, b.len);
		}
		if (ev->result < 0)
			field_str(&e, "LIBREUSE_ERRNO=", lr_errno_name(ev->err));
		field_str(&e, "LIBREUSE_ACTION=", ev->action);
		if (ev->rule) {
			b = LR_BUF(rule);
			lr_buf_u64(&b, (uint64_t)ev->rule);
			field(&e, "LIBREUSE_RULE=", rule, b.len);
		}
	}
	field(&e, "LIBREUSE_JSON=", json, jl);

	struct sockaddr_un to = { .sun_family = AF_UNIX, .sun_path = LR_JOURNAL_PATH };
	struct msghdr msg = { .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = e.iov,
			      .msg_iovlen = (size_t)e.n };
	size_t total = 0;
	for (int i = 0; i < e.n; i++)
		total += e.iov[i].iov_len;
	int fd = lr_sys.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool ok = lr_sys.sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)total;
	lr_sys.close(fd);
	return ok;
}

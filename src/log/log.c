#include "log.h"

#include "journal.h"

#include "errname.h"
#include "fileid.h"
#include "fmt.h"
#include "once.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/resource.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Where syslog daemons listen (glibc's _PATH_LOG). */
#define LR_SYSLOG_PATH "/dev/log"

/* The copy of the original stderr of the process libreuse runs in (the
 * host's, or the supervisor's own), shared by every stderr sink: one an
 * address space, as fd 2 is. Set under stderr_once, then only by lr_fdref's
 * retaking (see retake). */
static struct lr_fdref stderr_ref = { .fd = -1, .retaking = ATOMIC_FLAG_INIT };
static lr_once_t stderr_once = LR_ONCE_INIT;

/* The copy is made at load in every process under the library, so with
 * system calls made through syscall(), which the library calls anyway:
 * each other libc function first called from the library costs the
 * process a symbol lookup (about 800 instructions). */
static unsigned long long soft_nofile(void)
{
	struct {
		unsigned long long cur, max;
	} rl;
	return syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl) == 0 ? rl.cur : 0;
}

/* fd's device and inode, through statx (fileid.h says why). */
static bool file_id(int fd, unsigned long long *dev, unsigned long long *ino)
{
	struct stat st;
	if (lr_stat_at(fd, "", AT_EMPTY_PATH, &st) != 0)
		return false;
	*dev = (unsigned long long)st.st_dev;
	*ino = (unsigned long long)st.st_ino;
	return true;
}

/* Our fds go high, where a program's own numbering (its first socket at
 * fd 3, systemd's fds from 3 on) does not meet them; but not past the
 * kernel's first fd table (64 slots): growing it in a process that already
 * has a second thread (an earlier constructor's, qemu-user's) waits for an
 * RCU grace period, 10-16 ms measured, at every start. */
static int dup_high(int fd)
{
	int low = soft_nofile() > 64 ? 63 : 3;
	int high = lr_sys_fcntl(fd, F_DUPFD_CLOEXEC, low);
	return high >= 0 ? high : lr_sys_fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

static void capture_stderr(void)
{
	unsigned long long dev, ino;
	if (!file_id(STDERR_FILENO, &dev, &ino))
		return;
	int fd = dup_high(STDERR_FILENO);
	if (fd < 0)
		return;
	atomic_store(&stderr_ref.dev, dev);
	atomic_store(&stderr_ref.ino, ino);
	atomic_store(&stderr_ref.fd, fd);
}

void lr_log_capture_stderr(void)
{
	lr_once(&stderr_once, capture_stderr);
}

static bool same_file(const struct lr_fdref *r, const struct stat *st)
{
	return (unsigned long long)st->st_dev == atomic_load(&r->dev) &&
	       (unsigned long long)st->st_ino == atomic_load(&r->ino);
}

/* What a log file may be: a regular file, a character device (/dev/null, a
 * terminal) or a FIFO; never a directory or a block device. */
static bool loggable(const struct stat *st)
{
	return S_ISREG(st->st_mode) || S_ISCHR(st->st_mode) || S_ISFIFO(st->st_mode);
}

/* Opens the log file at a high fd; -1 (errno set) unless loggable. Never
 * blocks: O_NONBLOCK, so a FIFO without a reader or a stalled terminal
 * costs a dropped line (sink_write polls first), not a stalled call. A
 * FIFO is held open for reading too: opening it cannot fail for want of a
 * reader (ENXIO), and a reader that goes away cannot raise SIGPIPE in the
 * host; what no reader takes fills the pipe, then is dropped and counted. */
static int open_log(const char *path, struct stat *st)
{
	/* O_NOFOLLOW: a symlink planted at the path is refused, not followed. */
	const int common = O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | common, 0600);
	bool fifo = (fd < 0 && errno == ENXIO) || (fd >= 0 && fstat(fd, st) == 0 && S_ISFIFO(st->st_mode));
	if (fifo) {
		/* The write-only copy is closed only once the other is open: a
		 * reader that saw every writer gone would take it as the end. */
		int rw = open(path, O_RDWR | common);
		if (fd >= 0)
			lr_sys.close(fd);
		fd = rw;
	}
	if (fd < 0)
		return -1;
	int high = dup_high(fd);
	lr_sys.close(fd);
	if (high >= 0 && (fstat(high, st) != 0 || !loggable(st) || (fifo && !S_ISFIFO(st->st_mode)))) {
		lr_sys.close(high);
		errno = EINVAL;
		return -1;
	}
	return high;
}

/* The sink's fd lost to the program: taken again, or -1 (the line is
 * dropped). The old number is the program's now: it is left alone. */
static int retake(struct lr_sink *s, struct stat *st)
{
	struct lr_fdref *r = s->ref;
	if (atomic_flag_test_and_set(&r->retaking))
		return -1;
	int fd = atomic_load(&r->fd);
	if (fd < 0 || fstat(fd, st) != 0 || !same_file(r, st)) {
		fd = -1;
		if (s->kind == LR_TARGET_FILE && s->path) {
			fd = open_log(s->path, st);
			if (fd >= 0) {
				atomic_store(&r->dev, (unsigned long long)st->st_dev);
				atomic_store(&r->ino, (unsigned long long)st->st_ino);
			}
		} else if (s->kind == LR_TARGET_STDERR && fstat(STDERR_FILENO, st) == 0 &&
			   same_file(r, st)) {
			/* fd 2 is still the stderr we started with. */
			fd = dup_high(STDERR_FILENO);
		}
		if (fd >= 0)
			atomic_store(&r->fd, fd);
	}
	atomic_flag_clear(&r->retaking);
	return fd;
}

/* The sink's fd if it still holds the sink's file, else taken again. */
static int sink_fd(struct lr_sink *s, struct stat *st)
{
	int fd = atomic_load_explicit(&s->ref->fd, memory_order_relaxed);
	if (fd >= 0 && fstat(fd, st) == 0 && same_file(s->ref, st))
		return fd;
	return retake(s, st);
}

static const char *proto_name(uint8_t proto)
{
	return proto == LR_PROTO_TCP ? "tcp" : proto == LR_PROTO_UDP ? "udp" : "ip";
}

static void put_endpoint(struct lr_buf *b, const struct lr_addr *a, int port)
{
	char tmp[64];
	lr_format_addr(tmp, sizeof(tmp), a, port);
	lr_buf_str(b, tmp);
}

static void put_options_text(struct lr_buf *b, unsigned by_program, unsigned injected)
{
	static const struct {
		unsigned bit;
		const char *name;
	} opts[] = { { LR_OPT_REUSEADDR, "SO_REUSEADDR" }, { LR_OPT_REUSEPORT, "SO_REUSEPORT" } };
	bool any = false;
	lr_buf_str(b, "; reuse: ");
	for (size_t i = 0; i < 2; i++) {
		const char *who = (by_program & opts[i].bit) ? "program"
				  : (injected & opts[i].bit) ? "libreuse"
							     : NULL;
		if (!who)
			continue;
		if (any)
			lr_buf_str(b, ", ");
		lr_buf_str(b, opts[i].name);
		lr_buf_str(b, " by ");
		lr_buf_str(b, who);
		any = true;
	}
	if (!any)
		lr_buf_str(b, "none");
}

static void put_holders_text(struct lr_buf *b, const struct lr_holders *h)
{
	lr_buf_str(b, "; held by: ");
	if (!h->n)
		lr_buf_str(b, "no socket this process can see");
	for (size_t i = 0; i < h->n; i++) {
		const struct lr_holder *x = &h->h[i];
		if (i)
			lr_buf_str(b, ", ");
		if (x->pid) {
			lr_holder_put_process(b, x);
			lr_buf_char(b, ' ');
		}
		lr_buf_str(b, lr_holder_state_name(x));
		lr_buf_char(b, ' ');
		put_endpoint(b, &x->addr, x->port);
		if (x->has_uid) {
			lr_buf_str(b, " uid ");
			lr_buf_u64(b, x->uid);
		}
	}
	if (h->total > h->n) {
		lr_buf_str(b, " and ");
		lr_buf_u64(b, h->total - h->n);
		lr_buf_str(b, " more");
	}
}

/* What a summary reports: every count, or only the failures. */
static bool summary_has(const struct lr_summary *s, int k)
{
	return !s->failures_only || k == LR_TALLY_CONFLICT || k == LR_TALLY_SUPPRESSED;
}

static void put_summary_text(struct lr_buf *b, const struct lr_summary *s)
{
	bool first = true;
	for (int k = 0; k < LR_TALLY_KINDS; k++) {
		if (!summary_has(s, k))
			continue;
		if (!first)
			lr_buf_str(b, ", ");
		first = false;
		lr_buf_u64(b, s->counts[k]);
		lr_buf_char(b, ' ');
		for (const char *p = lr_tally_name((enum lr_tally_kind)k); *p; p++)
			lr_buf_char(b, *p == '_' ? ' ' : *p);
	}
	lr_buf_str(b, "; ");
	lr_buf_u64(b, s->dropped);
	lr_buf_str(b, " lines dropped");
}

size_t lr_format_text(char *buf, size_t n, pid_t pid, const struct lr_event *ev)
{
	struct lr_buf b = { .p = buf, .len = 0, .cap = n - 1 }; /* room for '\n' */
	buf[0] = '\0';
	lr_buf_str(&b, "libreuse[");
	lr_buf_i64(&b, pid);
	lr_buf_str(&b, "]: ");
	if (ev->kind == LR_EV_ERROR) {
		lr_buf_str(&b, ev->message ? ev->message : "error");
	} else if (ev->kind == LR_EV_VERDICT || ev->kind == LR_EV_SUMMARY) {
		lr_buf_str(&b, ev->program ? ev->program : "?");
		lr_buf_str(&b, ev->kind == LR_EV_VERDICT ? ": verdict: " : ": summary: ");
		if (ev->summary)
			put_summary_text(&b, ev->summary);
		else if (ev->message)
			lr_buf_str(&b, ev->message);
	} else {
		lr_buf_str(&b, ev->program ? ev->program : "?");
		lr_buf_str(&b, ": ");
		lr_buf_str(&b, ev->op);
		if (ev->proto || ev->has_addr) { /* a call on no socket (io_uring_setup) has neither */
			lr_buf_char(&b, ' ');
			lr_buf_str(&b, proto_name(ev->proto));
		}
		if (ev->has_addr) {
			lr_buf_char(&b, ' ');
			put_endpoint(&b, &ev->addr, ev->port);
		}
		if (ev->has_effective) {
			lr_buf_str(&b, ev->kind == LR_EV_ACTION ? " -> " : " (used ");
			put_endpoint(&b, &ev->eff_addr, ev->eff_port);
			if (ev->kind != LR_EV_ACTION)
				lr_buf_char(&b, ')');
		}
		if (ev->kind == LR_EV_ACTION) {
			lr_buf_str(&b, ": ");
			if (ev->dry_run)
				lr_buf_str(&b, "would ");
			lr_buf_str(&b, ev->action ? ev->action : "act");
			if (ev->message) {
				lr_buf_char(&b, ' ');
				lr_buf_str(&b, ev->message);
			}
		} else if (ev->result < 0 && !ev->err) {
			/* A call the program made itself (under the supervisor)
			 * whose errno nothing left on the socket tells. */
			lr_buf_str(&b, " failed (its errno went to the program alone)");
		} else if (ev->result < 0) {
			lr_buf_str(&b, " failed: ");
			lr_buf_str(&b, lr_errno_name(ev->err));
			lr_buf_str(&b, " (");
			lr_buf_str(&b, lr_errno_text(ev->err));
			lr_buf_char(&b, ')');
		} else {
			lr_buf_str(&b, " ok");
		}
		if (ev->kind != LR_EV_ACTION)
			put_options_text(&b, ev->set_by_program, ev->injected);
		if (ev->has_backlog) {
			lr_buf_str(&b, "; backlog ");
			lr_buf_i64(&b, ev->backlog);
		}
		if (ev->rule) {
			lr_buf_str(&b, "; rule ");
			lr_buf_u64(&b, (uint64_t)ev->rule);
		}
		if (ev->message && ev->kind != LR_EV_ACTION) {
			lr_buf_str(&b, "; ");
			lr_buf_str(&b, ev->message);
		}
		if (ev->holders)
			put_holders_text(&b, ev->holders);
		if (ev->reason && ev->reason[0]) {
			lr_buf_str(&b, "; why: ");
			lr_buf_str(&b, ev->reason);
		}
		if (ev->suppressed) {
			lr_buf_str(&b, "; ");
			lr_buf_u64(&b, ev->suppressed);
			lr_buf_str(&b, " similar lines suppressed before this one");
		}
	}
	buf[b.len++] = '\n';
	buf[b.len] = '\0';
	return b.len;
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm):
 * gmtime_r is not async-signal-safe. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void put_2(struct lr_buf *b, unsigned v)
{
	lr_buf_char(b, (char)('0' + v / 10 % 10));
	lr_buf_char(b, (char)('0' + v % 10));
}

static void put_timestamp(struct lr_buf *b, const struct timespec *ts)
{
	int64_t secs = ts->tv_sec, days = secs / 86400, rem = secs % 86400;
	if (rem < 0)
		rem += 86400, days--;
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	lr_buf_i64(b, y);
	lr_buf_char(b, '-');
	put_2(b, m);
	lr_buf_char(b, '-');
	put_2(b, d);
	lr_buf_char(b, 'T');
	put_2(b, (unsigned)(rem / 3600));
	lr_buf_char(b, ':');
	put_2(b, (unsigned)(rem / 60 % 60));
	lr_buf_char(b, ':');
	put_2(b, (unsigned)(rem % 60));
	lr_buf_char(b, '.');
	unsigned ms = (unsigned)(ts->tv_nsec / 1000000);
	lr_buf_char(b, (char)('0' + ms / 100));
	put_2(b, ms % 100);
	lr_buf_char(b, 'Z');
}

static void json_key(struct lr_buf *b, const char *key)
{
	lr_buf_str(b, ",\"");
	lr_buf_str(b, key);
	lr_buf_str(b, "\":");
}

static void json_string(struct lr_buf *b, const char *key, const char *value)
{
	json_key(b, key);
	if (!value) {
		lr_buf_str(b, "null");
		return;
	}
	lr_buf_char(b, '"');
	lr_buf_json_str(b, value);
	lr_buf_char(b, '"');
}

static void json_options(struct lr_buf *b, const char *key, unsigned bits)
{
	json_key(b, key);
	lr_buf_char(b, '[');
	if (bits & LR_OPT_REUSEADDR)
		lr_buf_str(b, "\"SO_REUSEADDR\"");
	if (bits & LR_OPT_REUSEPORT)
		lr_buf_str(b, (bits & LR_OPT_REUSEADDR) ? ",\"SO_REUSEPORT\"" : "\"SO_REUSEPORT\"");
	lr_buf_char(b, ']');
}

static const char *kind_name(enum lr_event_kind k)
{
	static const char *const names[] = { "error", "conflict", "action", "call", "verdict",
					      "summary" };
	return names[k];
}

static void json_holders(struct lr_buf *b, const struct lr_holders *h)
{
	char tmp[64];
	json_key(b, "holders");
	lr_buf_char(b, '[');
	for (size_t i = 0; h && i < h->n; i++) {
		const struct lr_holder *x = &h->h[i];
		lr_buf_str(b, i ? ",{\"pid\":" : "{\"pid\":");
		if (x->pid)
			lr_buf_u64(b, (uint64_t)x->pid);
		else
			lr_buf_str(b, "null");
		json_string(b, "program", x->pid && x->program[0] ? x->program : NULL);
		json_string(b, "state", lr_holder_state_name(x));
		json_key(b, "uid");
		if (x->has_uid)
			lr_buf_u64(b, x->uid);
		else
			lr_buf_str(b, "null");
		lr_format_addr(tmp, sizeof(tmp), &x->addr, x->port);
		json_string(b, "addr", tmp);
		lr_buf_char(b, '}');
	}
	lr_buf_char(b, ']');
}

static void json_summary(struct lr_buf *b, const struct lr_summary *s)
{
	json_key(b, "counts");
	lr_buf_char(b, '{');
	bool first = true;
	for (int k = 0; k < LR_TALLY_KINDS; k++) {
		if (!summary_has(s, k))
			continue;
		lr_buf_str(b, first ? "\"" : ",\"");
		first = false;
		lr_buf_str(b, lr_tally_name((enum lr_tally_kind)k));
		lr_buf_str(b, "\":");
		lr_buf_u64(b, s->counts[k]);
	}
	lr_buf_char(b, '}');
	json_key(b, "dropped");
	lr_buf_u64(b, s->dropped);
}

size_t lr_format_json(char *buf, size_t n, pid_t pid, const struct timespec *ts,
		      const struct lr_event *ev)
{
	/* Keep room to close the object even when a field was truncated. */
	struct lr_buf b = { .p = buf, .len = 0, .cap = n - 3 };
	char tmp[64];
	buf[0] = '\0';
	lr_buf_str(&b, "{\"ts\":\"");
	put_timestamp(&b, ts);
	lr_buf_char(&b, '"');
	json_key(&b, "pid");
	lr_buf_i64(&b, pid);
	json_string(&b, "event", kind_name(ev->kind));
	json_string(&b, "program", ev->program);
	if (ev->kind == LR_EV_SUMMARY && ev->summary)
		json_summary(&b, ev->summary);
	if (ev->kind != LR_EV_ERROR && ev->kind != LR_EV_SUMMARY && ev->kind != LR_EV_VERDICT) {
		json_string(&b, "op", ev->op);
		json_string(&b, "proto", ev->proto ? proto_name(ev->proto) : NULL);
		if (ev->has_addr) {
			json_string(&b, "family", ev->addr.family == AF_INET ? "ipv4" : "ipv6");
			lr_format_addr(tmp, sizeof(tmp), &ev->addr, -1);
			json_string(&b, "addr", tmp);
			json_key(&b, "port");
			lr_buf_i64(&b, ev->port);
			const struct lr_addr *ea = ev->has_effective ? &ev->eff_addr : &ev->addr;
			lr_format_addr(tmp, sizeof(tmp), ea, -1);
			json_string(&b, "effective_addr", tmp);
			json_key(&b, "effective_port");
			lr_buf_i64(&b, ev->has_effective ? ev->eff_port : ev->port);
		}
		if (ev->has_backlog) {
			json_key(&b, "backlog");
			lr_buf_i64(&b, ev->backlog);
		}
		json_key(&b, "result");
		lr_buf_i64(&b, ev->result);
		json_string(&b, "errno", ev->result < 0 && ev->err ? lr_errno_name(ev->err) : NULL);
		json_key(&b, "rule");
		if (ev->rule)
			lr_buf_i64(&b, ev->rule);
		else
			lr_buf_str(&b, "null");
		json_key(&b, "dry_run");
		lr_buf_str(&b, ev->dry_run ? "true" : "false");
		json_options(&b, "set_by_program", ev->set_by_program);
		json_options(&b, "injected", ev->injected);
		json_string(&b, "action", ev->action);
		json_holders(&b, ev->holders);
		json_string(&b, "reason", ev->reason && ev->reason[0] ? ev->reason : NULL);
		json_key(&b, "suppressed");
		lr_buf_u64(&b, ev->suppressed);
	}
	json_string(&b, "message", ev->message);
	b.cap = n;
	lr_buf_str(&b, "}\n");
	return b.len;
}

void lr_sink_stderr(struct lr_sink *s)
{
	memset(s, 0, sizeof(*s));
	s->kind = LR_TARGET_STDERR;
	s->ref = &stderr_ref;
	s->file.fd = -1;
}

void lr_sink_open(struct lr_sink *s, const struct lr_log_conf *conf, char *err, size_t errlen)
{
	lr_log_capture_stderr();
	lr_sink_stderr(s);
	s->format = conf->format;
	s->facility = conf->facility;
	if (errlen)
		err[0] = '\0';
	if (conf->target == LR_TARGET_SYSLOG || conf->target == LR_TARGET_JOURNAL) {
		s->kind = conf->target;
		return;
	}
	if (conf->target != LR_TARGET_FILE || !conf->path)
		return;
	struct stat st;
	int fd = open_log(conf->path, &st);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open log file %s: %s; logging to stderr", conf->path,
			 errno == ELOOP ? "it is a symbolic link" : strerror(errno));
		return;
	}
	s->kind = LR_TARGET_FILE;
	s->path = conf->path;
	atomic_store(&s->file.dev, (unsigned long long)st.st_dev);
	atomic_store(&s->file.ino, (unsigned long long)st.st_ino);
	atomic_store(&s->file.fd, fd);
	s->ref = &s->file;
}

void lr_sink_close(struct lr_sink *s)
{
	/* Only a file's own fd, and only while it is still that file: the
	 * program may hold the number by now. */
	struct stat st;
	int fd = atomic_load(&s->file.fd);
	if (s->kind == LR_TARGET_FILE && fd >= 0 && fstat(fd, &st) == 0 && same_file(&s->file, &st))
		lr_sys.close(fd);
	atomic_store(&s->file.fd, -1);
	s->ref = &stderr_ref;
	s->kind = LR_TARGET_STDERR;
}

/* The syslog wire format, as syslog(3) speaks it, on a socket of our own
 * per line: no openlog() (the host's ident, facility and syslog socket stay
 * its own), no lock, and MSG_DONTWAIT, so a stalled daemon costs a dropped
 * line, never a blocked call. */
static bool syslog_write(int priority, const char *line, size_t len)
{
	char pri[8];
	struct lr_buf b = LR_BUF(pri);
	lr_buf_char(&b, '<');
	lr_buf_u64(&b, (uint64_t)priority);
	lr_buf_char(&b, '>');
	struct iovec iov[2] = { { pri, b.len }, { (void *)line, len } };
	struct sockaddr_un to = { .sun_family = AF_UNIX, .sun_path = LR_SYSLOG_PATH };
	struct msghdr msg = { .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = iov,
			      .msg_iovlen = 2 };
	int fd = lr_sys.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool ok = lr_sys.sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)(b.len + len);
	lr_sys.close(fd);
	return ok;
}

static void sink_write(struct lr_sink *s, int priority, const char *line, size_t len)
{
	bool ok;
	if (s->mute)
		return;
	if (s->kind == LR_TARGET_SYSLOG) {
		ok = syslog_write(s->facility | priority,
				  line, len && line[len - 1] == '\n' ? len - 1 : len);
	} else {
		struct stat st;
		/* A host that closed and reused the fd is never written to; a
		 * pipe or terminal that cannot take the line now drops it. One
		 * write per line: appends from many processes never interleave
		 * within a line; a short or failed write is counted, not retried. */
		int fd = sink_fd(s, &st);
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ok = fd >= 0 &&
		     (S_ISREG(st.st_mode) || (poll(&p, 1, 0) == 1 && (p.revents & POLLOUT))) &&
		     write(fd, line, len) == (ssize_t)len;
	}
	if (!ok)
		atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
}

/* A syslog or journal reader filters by priority: libreuse's own trouble
 * and what a line of level "errors" says (a rule skipped, a keep missed) is
 * an error, a refused call a warning, what libreuse did a notice, and the
 * audit trail of level "all" (calls, verdicts) and summaries info. */
static int priority_of(const struct lr_event *ev)
{
	switch (ev->said_at) {
	case LR_LOG_ERRORS: return LOG_ERR;
	case LR_LOG_CONFLICTS: return LOG_WARNING;
	case LR_LOG_ACTIONS: return LOG_NOTICE;
	case LR_LOG_ALL: return LOG_INFO;
	default: break;
	}
	switch (ev->kind) {
	case LR_EV_ERROR: return LOG_ERR;
	case LR_EV_CONFLICT: return LOG_WARNING;
	case LR_EV_ACTION: return LOG_NOTICE;
	default: return LOG_INFO;
	}
}

void lr_log_event(struct lr_sink *s, const struct lr_event *ev)
{
	int saved = errno;
	/* PIPE_BUF: a line to a pipe is written whole or not at all. */
	char line[4096];
	size_t len;
	pid_t pid = ev->pid ? ev->pid : getpid();
	if (s->kind == LR_TARGET_JOURNAL) {
		/* Both formats, as fields of one entry (journal.c). */
		if (!s->mute && !lr_journal_send(ev, pid, priority_of(ev)))
			atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
		errno = saved;
		return;
	}
	if (s->format == LR_FORMAT_JSON) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		len = lr_format_json(line, sizeof(line), pid, &ts, ev);
		if (len >= sizeof(line) - 4 && (ev->holders || ev->reason)) {
			/* Too long to be sure it closed every string (a very long
			 * program name): the same event without its holders. */
			struct lr_event shorter = *ev;
			shorter.holders = NULL;
			shorter.reason = "(holders left out: the line was too long)";
			len = lr_format_json(line, sizeof(line), pid, &ts, &shorter);
		}
	} else {
		len = lr_format_text(line, sizeof(line), pid, ev);
	}
	sink_write(s, priority_of(ev), line, len);
	errno = saved;
}

void lr_log_parts(struct lr_sink *s, const char *a, const char *b, const char *c)
{
	char msg[1536];
	struct lr_buf buf = LR_BUF(msg);
	lr_buf_str(&buf, a);
	if (b)
		lr_buf_str(&buf, b);
	if (c)
		lr_buf_str(&buf, c);
	lr_log_message(s, msg);
}

void lr_log_message(struct lr_sink *s, const char *message)
{
	struct lr_event ev = { .kind = LR_EV_ERROR, .message = message };
	lr_log_event(s, &ev);
}

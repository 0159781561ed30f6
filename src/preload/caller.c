#include "caller.h"

#include "fdstate.h"
#include "keep.h"
#include "real.h"
#include "state.h"

#include <stdatomic.h>

static void mark(const struct lr_caller *who, int fd, uint16_t clear, uint16_t set)
{
	(void)who;
	lr_fd_update(fd, clear, set);
}

static int adopt(const struct lr_caller *who, int fd, const struct lr_keep_sock *want,
		 const char *name, struct lr_keep_outcome *out)
{
	(void)who;
	return lr_keep_adopt(fd, want, name, out);
}

static int offer(const struct lr_caller *who, int fd, struct lr_keep_outcome *out)
{
	(void)who;
	return lr_keep_offer(fd, out);
}

/* The lines said once in this process (LR_SAID_*), from any thread. A fork
 * child inherits them: it is not told again what its parent was. */
static atomic_uint said;

static bool first(const struct lr_caller *who, unsigned line)
{
	(void)who;
	return !(atomic_fetch_or(&said, line) & line);
}

/* The real functions, through their pointers: each is looked up at its
 * first call (real.c), not when the rules are loaded. */
static int real_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	return lr_real.bind(fd, addr, len);
}

static int real_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	return lr_real.connect(fd, addr, len);
}

static int real_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	return lr_real.setsockopt(fd, level, name, val, len);
}

static const struct lr_socket_ops ops = { .bind = real_bind, .connect = real_connect,
					  .setsockopt = real_setsockopt, .mark = mark,
					  .adopt = adopt, .offer = offer, .first = first };

struct lr_caller lr_shim = { .ops = &ops, .pid = 0, .euid = (uid_t)-1 };

void lr_caller_init(const char *program)
{
	lr_shim.program = program;
}

/* At exit (exit(3) or a return from main; not _exit or a fatal signal). */
__attribute__((destructor)) static void summary_at_exit(void)
{
	struct lr_guard g;
	struct lr_loaded *l = lr_state_peek(&g);
	if (!l)
		return;
	lr_act_summary(l, &lr_shim);
	lr_state_leave(&g);
}

#include "keeping.h"

#include "errname.h"
#include "sdfds.h"
#include "sys.h"

#include <errno.h>
#include <string.h>

/* Written once by lr_keeping_init, before the first keep (see there);
 * read-only afterwards, by every thread. */
static struct lr_keeper_addr keeper;

void lr_keeping_init(lr_getenv_fn *env)
{
	lr_keeper_from_env(&keeper, env);
	lr_sd_capture(env);
}

const struct lr_keeper_addr *lr_keeping_keeper(void)
{
	return &keeper;
}

/* Neither a keeper nor systemd's sockets: keep can do nothing in this
 * process, and the core says so once (out->no_keeper), in words that
 * name both. */
static bool nobody(void)
{
	return !keeper.len && !lr_sd_count();
}

static int put(const struct lr_keep_front *f, void *ctx, int fd, int k,
	       const struct lr_keep_sock *want, struct lr_keep_outcome *out)
{
	if (f->put(ctx, fd, k, want, out))
		return 1;
	if (!out->why[0])
		lr_keep_say(out->why, sizeof(out->why),
			    "not taken: the kept socket could not be put in place of the program's (",
			    lr_errno_name(errno), -1, ")");
	out->from[0] = '\0';
	return 0;
}

/* systemd's socket for want (or the one named), put in place. */
static int from_systemd(const struct lr_keep_front *f, void *ctx, int fd,
			const struct lr_keep_sock *want, const char *name, struct lr_keep_outcome *out)
{
	int k = lr_sd_find(want, name, out);
	if (k < 0)
		return 0;
	int done = put(f, ctx, fd, k, want, out);
	lr_sys.close(k);
	return done;
}

static int from_keeper(const struct lr_keep_front *f, void *ctx, int fd,
		       const struct lr_keep_sock *want, struct lr_keep_outcome *out)
{
	int k, conn, board = -1;
	bool wants = f->wants_board && f->wants_board(ctx);
	if (!lr_keeper_adopt(&keeper, want, &k, &conn, wants ? &board : NULL, out))
		return 0;
	int done = put(f, ctx, fd, k, want, out);
	if (done && f->joined)
		f->joined(ctx, fd, false, board);
	lr_keep_close(conn, k, board);
	return done;
}

int lr_keeping_adopt(const struct lr_keep_front *f, void *ctx, int fd,
		     const struct lr_keep_sock *want, const char *name, struct lr_keep_outcome *out)
{
	int saved = errno;
	memset(out, 0, sizeof(*out));
	/* systemd started the program (or the supervisor): its sockets are
	 * held by libreuse, whatever the program did with its own copies, and
	 * come first; a named one comes from systemd or from nobody. */
	bool systemd = lr_sd_count() || name;
	const char *cannot = (systemd || keeper.len) && f->cannot ? f->cannot() : NULL;
	int done = 0;
	if (cannot)
		lr_keep_say(out->why, sizeof(out->why), cannot, NULL, -1, NULL);
	else
		done = (systemd && from_systemd(f, ctx, fd, want, name, out)) ||
		       (!name && keeper.len && from_keeper(f, ctx, fd, want, out));
	out->no_keeper = !done && nobody();
	errno = saved;
	return done;
}

int lr_keeping_offer(const struct lr_keep_front *f, void *ctx, int fd, struct lr_keep_outcome *out)
{
	int saved = errno;
	memset(out, 0, sizeof(*out));
	int kept = 0;
	if (keeper.len) {
		int board = -1;
		bool wants = f->wants_board && f->wants_board(ctx);
		kept = lr_keeper_offer(&keeper, fd, wants ? &board : NULL, out);
		if (kept && f->joined)
			f->joined(ctx, fd, true, board);
		if (board >= 0)
			lr_sys.close(board);
	} else if (lr_sd_count()) {
		/* systemd's sockets stand in only for the addresses it passed:
		 * this one, bound afresh, has no one to keep it. */
		lr_keep_say(out->why, sizeof(out->why),
			    "not possible: no keeper (libreuse run --keep), and systemd passed no "
			    "socket for this address: it is not kept",
			    NULL, -1, NULL);
	}
	out->no_keeper = !kept && nobody();
	errno = saved;
	return kept;
}

#include "conns.h"

#include <unistd.h>

void lr_conns_init(struct lr_conns *t)
{
	for (int i = 0; i < LR_CONNS_MAX; i++)
		t->c[i] = (struct lr_conn){ .fd = -1, .peer = { .pidfd = -1 } };
}

void lr_conns_drop(struct lr_conn *c)
{
	if (c->fd < 0)
		return;
	close(c->fd);
	lr_peer_close(&c->peer);
	c->fd = -1;
}

/* The slot to give up when all are taken. */
static struct lr_conn *victim(struct lr_conns *t)
{
	struct lr_conn *oldest = NULL, *oldest_other = NULL;
	for (int i = 0; i < LR_CONNS_MAX; i++) {
		struct lr_conn *c = &t->c[i];
		if (!oldest || c->since_ms < oldest->since_ms)
			oldest = c;
		if (!c->instance && (!oldest_other || c->since_ms < oldest_other->since_ms))
			oldest_other = c;
	}
	return oldest_other ? oldest_other : oldest;
}

struct lr_conn *lr_conns_add(struct lr_conns *t, int conn, const struct lr_peer *peer, bool instance,
			     long long now_ms, pid_t *evicted)
{
	struct lr_conn *slot = NULL;
	*evicted = 0;
	for (int i = 0; i < LR_CONNS_MAX && !slot; i++)
		if (t->c[i].fd < 0)
			slot = &t->c[i];
	if (!slot) {
		slot = victim(t);
		*evicted = slot->peer.pid;
		lr_conns_drop(slot);
	}
	*slot = (struct lr_conn){ .fd = conn,
				  .peer = *peer,
				  .instance = instance,
				  .since_ms = now_ms,
				  .deadline_ms = now_ms + LR_CONN_TIMEOUT_MS };
	return slot;
}

long long lr_conns_next_deadline(const struct lr_conns *t)
{
	long long next = 0;
	for (int i = 0; i < LR_CONNS_MAX; i++)
		if (t->c[i].fd >= 0 && (!next || t->c[i].deadline_ms < next))
			next = t->c[i].deadline_ms;
	return next;
}

void lr_conns_free(struct lr_conns *t)
{
	for (int i = 0; i < LR_CONNS_MAX; i++)
		lr_conns_drop(&t->c[i]);
}

#include "outsiders.h"

#include <stdio.h>

static struct lr_outsider_count *count_of(struct lr_outsiders *o, uid_t uid)
{
	for (int i = 0; i < LR_OUTSIDER_UIDS; i++) {
		struct lr_outsider_count *c = &o->u[i];
		if (c->used && c->uid == uid)
			return c;
		if (!c->used) {
			*c = (struct lr_outsider_count){ .uid = uid, .used = true, .last_said_s = -1 };
			return c;
		}
	}
	return &o->others;
}

static const char *who(const struct lr_outsiders *o, const struct lr_outsider_count *c, char *buf,
		       size_t n)
{
	if (c == &o->others)
		snprintf(buf, n, "other uids");
	else
		snprintf(buf, n, "uid %u", (unsigned)c->uid);
	return buf;
}

void lr_outsiders_seen(struct lr_outsiders *o, pid_t pid, uid_t uid, long long now_ms, lr_say_line *say)
{
	struct lr_outsider_count *c = count_of(o, uid);
	long long s = now_ms / 1000;
	c->total++;
	if (c->last_said_s == s || c == &o->others) {
		if (!c->unsaid++ && !o->next_summary_ms)
			o->next_summary_ms = now_ms + LR_OUTSIDER_SUMMARY_MS;
		return;
	}
	c->last_said_s = s;
	char line[256];
	snprintf(line, sizeof(line),
		 "refused a connection from pid %d (uid %u): not one of its instances; closed unread "
		 "(at most one such line per uid and second)",
		 (int)pid, (unsigned)uid);
	say(line);
}

static void say_unsaid(struct lr_outsiders *o, struct lr_outsider_count *c, lr_say_line *say)
{
	if (!c->unsaid)
		return;
	char line[256], w[32];
	snprintf(line, sizeof(line), "refused %lld more connection(s) from %s, not said one by one",
		 c->unsaid, who(o, c, w, sizeof(w)));
	say(line);
	c->unsaid = 0;
}

void lr_outsiders_summary(struct lr_outsiders *o, long long now_ms, bool final, lr_say_line *say)
{
	if (!final && (!o->next_summary_ms || now_ms < o->next_summary_ms))
		return;
	for (int i = 0; i < LR_OUTSIDER_UIDS && o->u[i].used; i++)
		say_unsaid(o, &o->u[i], say);
	say_unsaid(o, &o->others, say);
	o->next_summary_ms = 0;
	if (!final)
		return;
	char line[256], w[32];
	for (int i = 0; i <= LR_OUTSIDER_UIDS; i++) {
		struct lr_outsider_count *c = i < LR_OUTSIDER_UIDS ? &o->u[i] : &o->others;
		if (!c->total)
			continue;
		snprintf(line, sizeof(line), "outsiders: %lld connection(s) from %s refused in all", c->total,
			 who(o, c, w, sizeof(w)));
		say(line);
	}
}

/* What the keeper says of the processes outside its tree that connect to
 * it: they are closed unread, and said at most once per uid and second, so
 * a flood of them costs the log as little as the keeper. What was not said
 * one by one is counted, and said every minute and at exit. */
#ifndef LIBREUSE_OUTSIDERS_H
#define LIBREUSE_OUTSIDERS_H

#include <stdbool.h>
#include <sys/types.h>

/* Uids told apart; any more share one count. */
#define LR_OUTSIDER_UIDS 16
#define LR_OUTSIDER_SUMMARY_MS 60000

struct lr_outsider_count {
	uid_t uid;
	bool used;
	long long total;  /* since the keeper started */
	long long unsaid; /* since the last line that counted them */
	long long last_said_s;
};

struct lr_outsiders {
	struct lr_outsider_count u[LR_OUTSIDER_UIDS];
	struct lr_outsider_count others; /* uids beyond the table */
	long long next_summary_ms; /* 0: nothing unsaid */
};

typedef void lr_say_line(const char *line);

/* An outsider closed: a line now, or only a count. */
void lr_outsiders_seen(struct lr_outsiders *o, pid_t pid, uid_t uid, long long now_ms, lr_say_line *say);

/* The counts not yet said, once a minute has passed since the first of
 * them (or at once with final, and then the totals too). */
void lr_outsiders_summary(struct lr_outsiders *o, long long now_ms, bool final, lr_say_line *say);

#endif

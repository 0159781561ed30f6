/* Bounded logging: a program that retries a failing bind in a loop gets a
 * few lines per (op, address, errno) per interval, then one line saying how
 * many were held back. Lock-free: a set busy in another thread lets the line
 * through rather than wait. */
#ifndef LIBREUSE_RATELIMIT_H
#define LIBREUSE_RATELIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* 16 sets of 4 keys: a key competes only with the keys of its set, and a
 * new key takes the set's idle or oldest entry — so a handful of keys in a
 * loop never evict each other into being let through every time. */
#define LR_RATE_SETS 16
#define LR_RATE_WAYS 4
#define LR_RATE_INTERVAL_S 10
/* Lines per key per interval: failures are the flood to stop; actions (an
 * injection per worker on one port) are legitimately many, so they get more
 * room before a retry loop is cut short. */
#define LR_RATE_BURST_FAILURE 5
#define LR_RATE_BURST_ACTION 50

struct lr_rate_entry {
	uint64_t key;   /* 0: unused */
	int64_t window; /* start of the current interval, in seconds */
	uint32_t sent;
	uint32_t suppressed; /* held back in this interval, not yet said */
};

struct lr_rate_set {
	atomic_flag busy; /* guards way[] */
	struct lr_rate_entry way[LR_RATE_WAYS];
};

struct lr_ratelimit {
	struct lr_rate_set set[LR_RATE_SETS];
};

/* Whether to write a line of key (non-zero) at time now_s. When it is
 * written after some were held back, *held says how many (else 0). */
bool lr_rate_admit(struct lr_ratelimit *rl, uint64_t key, int64_t now_s, uint32_t burst,
		   uint32_t *held);

/* FNV-1a over a key's parts, for callers building one. */
uint64_t lr_rate_hash(uint64_t h, const void *data, unsigned long n);
#define LR_RATE_HASH_INIT 14695981039346656037ull

#endif

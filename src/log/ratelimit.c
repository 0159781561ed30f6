#include "ratelimit.h"

uint64_t lr_rate_hash(uint64_t h, const void *data, unsigned long n)
{
	const unsigned char *p = data;
	for (unsigned long i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* The entry for key in its set: its own, else an unused one, else the one
 * whose interval began longest ago. */
static struct lr_rate_entry *entry_for(struct lr_rate_set *s, uint64_t key)
{
	struct lr_rate_entry *victim = &s->way[0];
	for (int i = 0; i < LR_RATE_WAYS; i++) {
		struct lr_rate_entry *e = &s->way[i];
		if (e->key == key)
			return e;
		if (victim->key && (!e->key || e->window < victim->window))
			victim = e;
	}
	return victim;
}

bool lr_rate_admit(struct lr_ratelimit *rl, uint64_t key, int64_t now_s, uint32_t burst,
		   uint32_t *held)
{
	*held = 0;
	struct lr_rate_set *s = &rl->set[key % LR_RATE_SETS];
	if (atomic_flag_test_and_set_explicit(&s->busy, memory_order_acquire))
		return true;
	struct lr_rate_entry *e = entry_for(s, key);
	if (e->key != key) {
		/* An evicted key's held-back lines are not said per key (the exit
		 * summary still counts them). */
		e->key = key;
		e->window = now_s;
		e->sent = 0;
		e->suppressed = 0;
	} else if (now_s - e->window >= LR_RATE_INTERVAL_S || now_s < e->window) {
		*held = e->suppressed;
		e->window = now_s;
		e->sent = 0;
		e->suppressed = 0;
	}
	bool admit = e->sent < burst;
	if (admit)
		e->sent++;
	else
		e->suppressed++;
	atomic_flag_clear_explicit(&s->busy, memory_order_release);
	return admit;
}

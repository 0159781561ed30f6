/* The log rate limit: a few lines per key per interval, the rest counted and
 * said when the key speaks again; keys sharing a set do not evict each
 * other into being let through. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ratelimit.h"

#include <string.h>

static struct lr_ratelimit rl;

static void reset(void)
{
	memset(&rl, 0, sizeof(rl));
}

static void burst_then_held_then_said(void **state)
{
	(void)state;
	reset();
	uint32_t held;
	int admitted = 0;
	for (int i = 0; i < 2000; i++)
		admitted += lr_rate_admit(&rl, 42, 100, 5, &held);
	assert_int_equal(admitted, 5);
	/* Same interval: still held back. */
	assert_false(lr_rate_admit(&rl, 42, 109, 5, &held));
	/* The next interval's first line says how many were held back. */
	assert_true(lr_rate_admit(&rl, 42, 110, 5, &held));
	assert_int_equal(held, 1996);
	assert_true(lr_rate_admit(&rl, 42, 110, 5, &held));
	assert_int_equal(held, 0);
}

static void keys_of_one_set_keep_their_counts(void **state)
{
	(void)state;
	reset();
	uint32_t held;
	/* Four keys that land in the same set, interleaved as a loop would. */
	uint64_t keys[4] = { 7, 7 + LR_RATE_SETS, 7 + 2 * LR_RATE_SETS, 7 + 3 * LR_RATE_SETS };
	int admitted[4] = { 0 };
	for (int i = 0; i < 1000; i++)
		for (int k = 0; k < 4; k++)
			admitted[k] += lr_rate_admit(&rl, keys[k], 5, 3, &held);
	for (int k = 0; k < 4; k++)
		assert_int_equal(admitted[k], 3);
	/* A fifth key takes the oldest entry; the others keep theirs. */
	assert_true(lr_rate_admit(&rl, 7 + 4 * LR_RATE_SETS, 6, 3, &held));
}

static void time_going_backwards_starts_afresh(void **state)
{
	(void)state;
	reset();
	uint32_t held;
	for (int i = 0; i < 10; i++)
		lr_rate_admit(&rl, 1, 1000, 2, &held);
	assert_true(lr_rate_admit(&rl, 1, 5, 2, &held));
	assert_int_equal(held, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(burst_then_held_then_said),
		cmocka_unit_test(keys_of_one_set_keep_their_counts),
		cmocka_unit_test(time_going_backwards_starts_afresh),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

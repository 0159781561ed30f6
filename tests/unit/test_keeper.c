/* The keeper's two bounded tables: requests in flight (the oldest peer that
 * is not an instance's goes first when full) and outsiders said once per uid
 * and second, with the rest counted into the minute's and the exit's lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "conns.h"
#include "outsiders.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int devnull(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void fill(struct lr_conns *t, bool instance_first)
{
	lr_conns_init(t);
	for (int i = 0; i < LR_CONNS_MAX; i++) {
		struct lr_peer p = { .pid = 1000 + i, .pidfd = -1 };
		pid_t evicted;
		/* Entry 0 is the oldest; entry 1 the oldest of the others. */
		bool instance = instance_first ? i == 0 : true;
		lr_conns_add(t, devnull(), &p, instance, 100 + i, &evicted);
		assert_int_equal(evicted, 0);
	}
}

static void full_table_evicts_oldest_non_instance(void **state)
{
	(void)state;
	struct lr_conns t;
	fill(&t, true);
	struct lr_peer p = { .pid = 5000, .pidfd = -1 };
	pid_t evicted;
	struct lr_conn *c = lr_conns_add(&t, devnull(), &p, true, 999, &evicted);
	assert_int_equal(evicted, 1001); /* not 1000: that one is an instance's */
	assert_int_equal(c->peer.pid, 5000);
	assert_int_equal(c->deadline_ms, 999 + LR_CONN_TIMEOUT_MS);
	lr_conns_free(&t);
}

static void all_instances_evicts_oldest(void **state)
{
	(void)state;
	struct lr_conns t;
	fill(&t, false);
	struct lr_peer p = { .pid = 5000, .pidfd = -1 };
	pid_t evicted;
	lr_conns_add(&t, devnull(), &p, false, 999, &evicted);
	assert_int_equal(evicted, 1000);
	lr_conns_free(&t);
}

static void deadline_is_earliest_held(void **state)
{
	(void)state;
	struct lr_conns t;
	lr_conns_init(&t);
	assert_int_equal(lr_conns_next_deadline(&t), 0);
	struct lr_peer p = { .pid = 7, .pidfd = -1 };
	pid_t evicted;
	lr_conns_add(&t, devnull(), &p, false, 500, &evicted);
	struct lr_conn *b = lr_conns_add(&t, devnull(), &p, false, 200, &evicted);
	assert_int_equal(lr_conns_next_deadline(&t), 200 + LR_CONN_TIMEOUT_MS);
	lr_conns_drop(b);
	assert_int_equal(lr_conns_next_deadline(&t), 500 + LR_CONN_TIMEOUT_MS);
	lr_conns_free(&t);
	assert_int_equal(lr_conns_next_deadline(&t), 0);
}

static char said[64][256];
static int nsaid;
static void capture(const char *line)
{
	if (nsaid < 64)
		snprintf(said[nsaid], sizeof(said[0]), "%s", line);
	nsaid++;
}

static void outsiders_once_per_uid_and_second(void **state)
{
	(void)state;
	struct lr_outsiders o;
	memset(&o, 0, sizeof(o));
	nsaid = 0;
	for (int i = 0; i < 1000; i++)
		lr_outsiders_seen(&o, 40 + i, 65534, 10000 + i % 1000, capture); /* all in second 10 */
	assert_int_equal(nsaid, 1);
	assert_non_null(strstr(said[0], "pid 40 (uid 65534)"));
	lr_outsiders_seen(&o, 41, 0, 10500, capture); /* another uid: its own line */
	assert_int_equal(nsaid, 2);
	lr_outsiders_seen(&o, 42, 65534, 11000, capture); /* the next second */
	assert_int_equal(nsaid, 3);
	/* Not yet a minute since the first unsaid one: nothing. */
	lr_outsiders_summary(&o, 10000 + LR_OUTSIDER_SUMMARY_MS - 1, false, capture);
	assert_int_equal(nsaid, 3);
	lr_outsiders_summary(&o, 10001 + LR_OUTSIDER_SUMMARY_MS, false, capture);
	assert_int_equal(nsaid, 4);
	assert_string_equal(said[3], "refused 999 more connection(s) from uid 65534, not said one by one");
	lr_outsiders_summary(&o, 80000, true, capture);
	assert_int_equal(nsaid, 6);
	assert_string_equal(said[4], "outsiders: 1001 connection(s) from uid 65534 refused in all");
	assert_string_equal(said[5], "outsiders: 1 connection(s) from uid 0 refused in all");
}

static void outsiders_beyond_table_share_one_count(void **state)
{
	(void)state;
	struct lr_outsiders o;
	memset(&o, 0, sizeof(o));
	nsaid = 0;
	for (int u = 0; u < LR_OUTSIDER_UIDS + 5; u++)
		lr_outsiders_seen(&o, 100, (uid_t)(1000 + u), 5000, capture);
	assert_int_equal(nsaid, LR_OUTSIDER_UIDS); /* the other 5: counted, not said */
	lr_outsiders_summary(&o, 5000, true, capture);
	assert_string_equal(said[LR_OUTSIDER_UIDS], "refused 5 more connection(s) from other uids, not said one by one");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_table_evicts_oldest_non_instance),
		cmocka_unit_test(all_instances_evicts_oldest),
		cmocka_unit_test(deadline_is_earliest_held),
		cmocka_unit_test(outsiders_once_per_uid_and_second),
		cmocka_unit_test(outsiders_beyond_table_share_one_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

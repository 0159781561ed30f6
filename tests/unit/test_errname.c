/* errname.c's own table against glibc's functions, which the library no
 * longer calls (musl has none of them) but whose words its lines keep. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "errname.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

static void errno_names_and_texts_are_glibcs(void **state)
{
	(void)state;
	int named = 0;
	for (int e = 1; e < 4096; e++) {
		const char *n = strerrorname_np(e);
		if (!n) {
			assert_string_equal(lr_errno_name(e), "E?");
			assert_string_equal(lr_errno_text(e), "Unknown error");
			continue;
		}
		named++;
		assert_string_equal(lr_errno_name(e), n);
		assert_string_equal(lr_errno_text(e), strerrordesc_np(e));
		assert_int_equal(lr_errno_from_name(n), e);
	}
	assert_true(named > 100);
	assert_string_equal(lr_errno_name(EADDRINUSE), "EADDRINUSE");
	assert_string_equal(lr_errno_name(0), "E?");
	assert_string_equal(lr_errno_name(-1), "E?");
	assert_int_equal(lr_errno_from_name("ENOSUCHTHING"), 0);
}

static void signal_names_are_glibcs(void **state)
{
	(void)state;
	for (int s = -1; s < NSIG + 2; s++) {
		const char *g = s > 0 && s < NSIG ? sigabbrev_np(s) : NULL;
		const char *ours = lr_signal_abbrev(s);
		if (!g)
			assert_null(ours);
		else
			assert_string_equal(ours, g);
	}
	assert_string_equal(lr_signal_abbrev(SIGTERM), "TERM");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(errno_names_and_texts_are_glibcs),
		cmocka_unit_test(signal_names_are_glibcs),
	};
	return cmocka_run_group_tests_name("errname", tests, NULL, NULL);
}

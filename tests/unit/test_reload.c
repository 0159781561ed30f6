/* The one reload loop (src/core/reload.c), as both front ends run it, with
 * a fake clock and a fake build and swap: when the rule file is looked at,
 * when rules are built and put in force, and what keeps the rules in force. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "reload.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEC LR_RELOAD_INTERVAL_NS

/* The fake front end: a clock that moves only when told, rules that are
 * numbers, and a record of what was swapped in and thrown away. */
static long long clock_ns;
static int builds, swaps, discards, swapped_first;
static int next_rules[8]; /* what each build gives: its address, or NULL */
static bool build_fails;
static void *in_force;
/* When set, the version the fake compiler says it read. */
static bool read_other;
static struct lr_file_id read_as;

static long long fake_now(void)
{
	return clock_ns;
}

static void *fake_build(void *ctx, const struct lr_file_id *id, struct lr_file_id *read)
{
	(void)ctx;
	(void)id;
	builds++;
	if (read_other)
		*read = read_as;
	return build_fails ? NULL : &next_rules[builds % 8];
}

static void fake_swap(void *ctx, void *fresh, bool first)
{
	(void)ctx;
	swaps++;
	swapped_first += first;
	in_force = fresh;
}

static void fake_discard(void *ctx, void *fresh)
{
	(void)ctx;
	(void)fresh;
	discards++;
}

static const struct lr_reload_ops ops = {
	.now_ns = fake_now, .build = fake_build, .swap = fake_swap, .discard = fake_discard
};

static char dir[512], path[600], logpath[600];
static struct lr_sink sink;
static struct lr_reload r;

static void write_file(const char *text)
{
	char tmp[700];
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	/* Renamed over, as editors and `libreuse` users do: a new inode. */
	assert_int_equal(rename(tmp, path), 0);
}

/* An mtime a whole interval old: an empty file that old is no write in
 * progress. */
static void age_file(void)
{
	struct timespec t[2] = { { .tv_sec = time(NULL) - 10 }, { .tv_sec = time(NULL) - 10 } };
	assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

static bool log_says(const char *what)
{
	char buf[4096];
	FILE *f = fopen(logpath, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, what) != NULL;
}

static int setup(void **state)
{
	(void)state;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/libreuse-unit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/rules.conf", dir);
	snprintf(logpath, sizeof(logpath), "%s/log", dir);
	char err[256];
	struct lr_log_conf conf = { .target = LR_TARGET_FILE, .path = logpath };
	lr_sink_open(&sink, &conf, err, sizeof(err));
	clock_ns = 5 * SEC;
	builds = swaps = discards = swapped_first = 0;
	build_fails = read_other = false;
	in_force = NULL;
	lr_reload_init(&r, path, &sink, &ops, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	lr_sink_close(&sink);
	unlink(path);
	unlink(logpath);
	return rmdir(dir);
}

/* The first look builds whatever there is, a missing file too, and puts
 * it in force; the next look is due an interval later, not before. */
static void first_load_always(void **state)
{
	(void)state;
	assert_true(lr_reload_claim(&r));
	lr_reload_run(&r);
	assert_int_equal(builds, 1);
	assert_int_equal(swaps, 1);
	assert_int_equal(swapped_first, 1);
	assert_ptr_equal(in_force, &next_rules[1]);
	assert_false(lr_reload_due(&r, clock_ns));
	assert_false(lr_reload_claim(&r));
	clock_ns += SEC - 1;
	assert_false(lr_reload_claim(&r));
	clock_ns += 1;
	assert_true(lr_reload_due(&r, clock_ns));
	/* One look an interval, whoever asks. */
	assert_true(lr_reload_claim(&r));
	assert_false(lr_reload_claim(&r));
	/* The missing file is still missing: nothing more built, nothing said. */
	lr_reload_run(&r);
	assert_int_equal(builds, 1);
	assert_false(log_says("removed"));
}

/* A file that did not change is not read again; one that did is built and
 * swapped in (not as the first). */
static void changed_file_swapped(void **state)
{
	(void)state;
	write_file("rules = ();\n");
	lr_reload_run(&r);
	assert_int_equal(builds, 1);
	clock_ns += SEC;
	assert_true(lr_reload_claim(&r));
	lr_reload_run(&r);
	assert_int_equal(builds, 1);
	write_file("rules = ( { match = { port = 1; }; reuseaddr = true; } );\n");
	clock_ns += SEC;
	assert_true(lr_reload_claim(&r));
	lr_reload_run(&r);
	assert_int_equal(builds, 2);
	assert_int_equal(swaps, 2);
	assert_int_equal(swapped_first, 1);
	assert_ptr_equal(in_force, &next_rules[2]);
}

/* Bad new rules keep those in force, and are not built again until the
 * file changes once more. */
static void bad_rules_keep_rules(void **state)
{
	(void)state;
	write_file("rules = ();\n");
	lr_reload_run(&r);
	void *first = in_force;
	write_file("rules = ( oops\n");
	build_fails = true;
	lr_reload_run(&r);
	assert_int_equal(builds, 2);
	assert_int_equal(swaps, 1);
	assert_ptr_equal(in_force, first);
	lr_reload_run(&r);
	assert_int_equal(builds, 2);
	build_fails = false;
	write_file("rules = ( );\n");
	lr_reload_run(&r);
	assert_int_equal(builds, 3);
	assert_int_equal(swaps, 2);
}

/* A removed file keeps the rules in force, said once; its return is read. */
static void removed_file_keeps_rules(void **state)
{
	(void)state;
	write_file("rules = ();\n");
	lr_reload_run(&r);
	assert_int_equal(unlink(path), 0);
	lr_reload_run(&r);
	lr_reload_run(&r);
	assert_int_equal(builds, 1);
	assert_int_equal(swaps, 1);
	assert_true(log_says("rules.conf: rule file removed; keeping the rules in force"));
	write_file("rules = ();\n");
	lr_reload_run(&r);
	assert_int_equal(builds, 2);
	assert_int_equal(swaps, 2);
}

/* An empty file just written may be `>` before the write: not read until
 * it has stayed empty an interval; then it is (emptying clears the rules). */
static void empty_file_waits(void **state)
{
	(void)state;
	write_file("rules = ();\n");
	lr_reload_run(&r);
	write_file("");
	lr_reload_run(&r);
	assert_int_equal(builds, 1);
	age_file();
	lr_reload_run(&r);
	assert_int_equal(builds, 2);
	assert_int_equal(swaps, 2);
}

/* The rules in force are of the version the compiler read: a newer file
 * is read at the next look; an empty one it read is a write in progress,
 * thrown away and read again. */
static void version_read_counts(void **state)
{
	(void)state;
	write_file("rules = ();\n");
	lr_reload_run(&r);
	write_file("rules = ( );\n");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	read_other = true;
	read_as = (struct lr_file_id){ .exists = true, .dev = st.st_dev, .ino = st.st_ino + 1,
				       .size = 7, .mtime = st.st_mtim };
	lr_reload_run(&r);
	assert_int_equal(builds, 2);
	assert_int_equal(swaps, 2);
	/* The file as it is now is not the one read: read again. */
	read_other = false;
	lr_reload_run(&r);
	assert_int_equal(builds, 3);
	assert_int_equal(swaps, 3);
	/* Read empty, just now: thrown away, and read again next time. */
	write_file("rules = (  );\n");
	read_other = true;
	read_as.size = 0;
	clock_gettime(CLOCK_REALTIME, &read_as.mtime);
	lr_reload_run(&r);
	assert_int_equal(builds, 4);
	assert_int_equal(swaps, 3);
	assert_int_equal(discards, 1);
	read_other = false;
	lr_reload_run(&r);
	assert_int_equal(builds, 5);
	assert_int_equal(swaps, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(first_load_always, setup, teardown),
		cmocka_unit_test_setup_teardown(changed_file_swapped, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_rules_keep_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(removed_file_keeps_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(empty_file_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(version_read_counts, setup, teardown),
	};
	return cmocka_run_group_tests_name("reload", tests, NULL, NULL);
}

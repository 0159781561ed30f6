/* Log lines: what a person reads, and JSON that any parser accepts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fmt.h"
#include "addrparse.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct lr_event conflict(void)
{
	struct lr_event ev = { .kind = LR_EV_CONFLICT, .program = "nginx", .op = "bind",
			       .proto = LR_PROTO_TCP, .has_addr = true, .port = 80,
			       .has_effective = true, .eff_port = 8080, .result = -1,
			       .err = EADDRINUSE, .rule = 2, .set_by_program = LR_OPT_REUSEADDR,
			       .injected = LR_OPT_REUSEPORT };
	assert_int_equal(lr_parse_addr("::", &ev.addr), 0);
	assert_int_equal(lr_parse_addr("127.0.0.1", &ev.eff_addr), 0);
	return ev;
}

static void conflict_line_text(void **state)
{
	(void)state;
	char buf[512];
	struct lr_event ev = conflict();
	size_t n = lr_format_text(buf, sizeof(buf), 42, &ev);
	assert_int_equal(n, strlen(buf));
	assert_string_equal(buf, "libreuse[42]: nginx: bind tcp [::]:80 (used 127.0.0.1:8080) failed: "
				 "EADDRINUSE (Address already in use); reuse: SO_REUSEADDR by program, "
				 "SO_REUSEPORT by libreuse; rule 2\n");
	ev.has_effective = false;
	ev.set_by_program = ev.injected = 0;
	ev.rule = 0;
	ev.err = EACCES;
	lr_format_text(buf, sizeof(buf), 7, &ev);
	assert_string_equal(buf, "libreuse[7]: nginx: bind tcp [::]:80 failed: EACCES (Permission denied); reuse: none\n");
}

static void lines_never_overflow(void **state)
{
	(void)state;
	char buf[40];
	struct lr_event ev = conflict();
	size_t n = lr_format_text(buf, sizeof(buf), 42, &ev);
	assert_int_equal(n, sizeof(buf) - 1);
	assert_int_equal(buf[n - 1], '\n');
	struct timespec ts = { 0, 0 };
	n = lr_format_json(buf, sizeof(buf), 42, &ts, &ev);
	assert_true(n < sizeof(buf));
	assert_string_equal(buf + n - 2, "}\n");
}

static void json_escapes_anything(void **state)
{
	(void)state;
	char buf[1024];
	struct lr_event ev = conflict();
	ev.program = "we\"ird\\na\nme\x01\xff\xc3\xa9";
	struct timespec ts = { 1790000000, 123456789 };
	lr_format_json(buf, sizeof(buf), 42, &ts, &ev);
	assert_non_null(strstr(buf, "\"ts\":\"2026-09-21T14:13:20.123Z\""));
	assert_non_null(strstr(buf, "\"program\":\"we\\\"ird\\\\na\\u000ame\\u0001\\u00ff\xc3\xa9\""));
	assert_non_null(strstr(buf, "\"errno\":\"EADDRINUSE\""));
	assert_non_null(strstr(buf, "\"effective_addr\":\"127.0.0.1\",\"effective_port\":8080"));
	assert_non_null(strstr(buf, "\"set_by_program\":[\"SO_REUSEADDR\"],\"injected\":[\"SO_REUSEPORT\"]"));
	assert_non_null(strstr(buf, "\"rule\":2"));
}

static void numbers(void **state)
{
	(void)state;
	char raw[64];
	struct lr_buf b = LR_BUF(raw);
	lr_buf_i64(&b, INT64_MIN);
	lr_buf_char(&b, ' ');
	lr_buf_u64(&b, 0);
	lr_buf_char(&b, ' ');
	lr_buf_hex(&b, 0xab, 4);
	assert_string_equal(raw, "-9223372036854775808 0 00ab");
}

static void holders_reason_and_summary(void **state)
{
	(void)state;
	char buf[2048];
	struct lr_event ev = conflict();
	struct lr_holders hs;
	memset(&hs, 0, sizeof(hs));
	hs.n = 2;
	hs.total = 3;
	hs.h[0].proto = LR_PROTO_TCP;
	hs.h[0].state = LR_ST_LISTEN;
	hs.h[0].port = 8080;
	hs.h[0].has_uid = true;
	hs.h[0].uid = 33;
	hs.h[0].pid = 900;
	strcpy(hs.h[0].program, "ng\"inx");
	assert_int_equal(lr_parse_addr("0.0.0.0", &hs.h[0].addr), 0);
	hs.h[1] = hs.h[0];
	hs.h[1].state = LR_ST_TIME_WAIT;
	hs.h[1].has_uid = false;
	hs.h[1].pid = 0;
	ev.holders = &hs;
	ev.reason = "because";
	ev.suppressed = 7;
	lr_format_text(buf, sizeof(buf), 42, &ev);
	assert_non_null(strstr(buf, "; held by: pid 900 (ng\"inx) LISTEN 0.0.0.0:8080 uid 33, "
				    "TIME_WAIT 0.0.0.0:8080 and 1 more; why: because; 7 similar "
				    "lines suppressed before this one\n"));
	struct timespec ts = { 0, 0 };
	lr_format_json(buf, sizeof(buf), 42, &ts, &ev);
	assert_non_null(strstr(buf, "\"holders\":[{\"pid\":900,\"program\":\"ng\\\"inx\","
				    "\"state\":\"LISTEN\",\"uid\":33,\"addr\":\"0.0.0.0:8080\"},"
				    "{\"pid\":null,\"program\":null,\"state\":\"TIME_WAIT\","
				    "\"uid\":null,\"addr\":\"0.0.0.0:8080\"}],\"reason\":\"because\","
				    "\"suppressed\":7"));
	struct lr_summary sum = { .counts = { 3, 0, 0, 0, 1, 1, 0, 2, 0, 9 }, .dropped = 4 };
	struct lr_event s = { .kind = LR_EV_SUMMARY, .program = "srv", .summary = &sum };
	lr_format_text(buf, sizeof(buf), 42, &s);
	assert_string_equal(buf, "libreuse[42]: srv: summary: 3 injections, 0 rewrites, 0 denies, "
				 "0 source binds, 1 retries, 1 kept sockets, 0 adoptions, 2 conflicts, 0 dry run actions, "
				 "9 suppressed lines; 4 lines dropped\n");
	lr_format_json(buf, sizeof(buf), 42, &ts, &s);
	assert_non_null(strstr(buf, "\"event\":\"summary\",\"program\":\"srv\",\"counts\":"
				    "{\"injections\":3,\"rewrites\":0,\"denies\":0,"
				    "\"source_binds\":0,\"retries\":1,\"kept_sockets\":1,"
				    "\"adoptions\":0,\"conflicts\":2,"
				    "\"dry_run_actions\":0,\"suppressed_lines\":9},\"dropped\":4"));
}

/* A listen line carries the backlog the program asked for, as it asked it
 * (negative too: the kernel then uses net.core.somaxconn); no other line
 * has the field, a listen's keep action included. */
static void listen_line_backlog(void **state)
{
	(void)state;
	char buf[1024];
	struct timespec ts = { 0, 0 };
	struct lr_event ev = { .kind = LR_EV_CALL, .program = "legacyd", .op = "listen",
			       .proto = LR_PROTO_TCP, .has_addr = true, .port = 8080,
			       .has_backlog = true, .backlog = 64 };
	assert_int_equal(lr_parse_addr("127.0.0.1", &ev.addr), 0);
	lr_format_text(buf, sizeof(buf), 42, &ev);
	assert_string_equal(buf, "libreuse[42]: legacyd: listen tcp 127.0.0.1:8080 ok; reuse: none; "
				 "backlog 64\n");
	lr_format_json(buf, sizeof(buf), 42, &ts, &ev);
	assert_non_null(strstr(buf, "\"effective_port\":8080,\"backlog\":64,\"result\":0,"));
	ev.backlog = -1;
	lr_format_json(buf, sizeof(buf), 42, &ts, &ev);
	assert_non_null(strstr(buf, "\"backlog\":-1,"));
	lr_format_text(buf, sizeof(buf), 42, &ev);
	assert_non_null(strstr(buf, "; backlog -1\n"));

	struct lr_event other = conflict();
	lr_format_json(buf, sizeof(buf), 42, &ts, &other);
	assert_null(strstr(buf, "backlog"));
	lr_format_text(buf, sizeof(buf), 42, &other);
	assert_null(strstr(buf, "backlog"));
	struct lr_event verdict = { .kind = LR_EV_VERDICT, .program = "legacyd", .op = "listen",
				    .message = "never sets SO_REUSEADDR", .has_backlog = true };
	lr_format_json(buf, sizeof(buf), 42, &ts, &verdict);
	assert_null(strstr(buf, "backlog"));
}

/* A log file may be /dev/null, or a FIFO with no reader: taken, never
 * blocking; what a FIFO nobody reads cannot take is dropped and counted. */
static void sinks_that_are_not_files(void **state)
{
	(void)state;
	char err[256];
	struct lr_sink s;
	struct lr_log_conf conf = { .target = LR_TARGET_FILE, .path = "/dev/null" };
	lr_sink_open(&s, &conf, err, sizeof(err));
	assert_string_equal(err, "");
	assert_int_equal(s.kind, LR_TARGET_FILE);
	struct lr_event ev = conflict();
	lr_log_event(&s, &ev);
	assert_int_equal(atomic_load(&s.dropped), 0);
	lr_sink_close(&s);

	const char *tmp = getenv("TMPDIR");
	char dir[512], fifo[600];
	snprintf(dir, sizeof(dir), "%s/libreuse-unit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	conf.path = fifo;
	lr_sink_open(&s, &conf, err, sizeof(err));
	assert_string_equal(err, "");
	assert_int_equal(s.kind, LR_TARGET_FILE);
	/* Far more than a pipe holds (64 KiB): returns, and counts the rest. */
	for (int i = 0; i < 2000; i++)
		lr_log_event(&s, &ev);
	assert_true(atomic_load(&s.dropped) > 0);
	assert_true(atomic_load(&s.dropped) < 2000);
	lr_sink_close(&s);
	unlink(fifo);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(holders_reason_and_summary),
		cmocka_unit_test(conflict_line_text),
		cmocka_unit_test(lines_never_overflow),
		cmocka_unit_test(json_escapes_anything),
		cmocka_unit_test(numbers),
		cmocka_unit_test(listen_line_backlog),
		cmocka_unit_test(sinks_that_are_not_files),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}

/* The rule file: the issue's example loads as written, and every class of
 * bad input gives one "FILE:LINE: message" and nothing else. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "compile.h"
#include "addrparse.h"
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/lr-test-config-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *write_file(const char *name, const char *text)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Loads text from a file; returns the result and leaves the error in err. */
static enum lr_config_result load(const char *text, struct lr_ruleset *rs, char *err, size_t n)
{
	const char *path = write_file("rules.conf", text);
	lr_ruleset_init(rs);
	return lr_config_load_file(path, rs, err, n);
}

static const char issue_example[] =
	"log = { level = \"conflicts\"; target = \"stderr\"; format = \"text\"; };\n"
	"rules = (\n"
	"  { match = { port = 8080; proto = \"tcp\"; };           reuseaddr = true; reuseport = true; },\n"
	"  { match = { address = \"0.0.0.0\"; port = 80; };        rewrite = \"127.0.0.1:8080\"; },\n"
	"  { match = { family = \"ipv6\"; port = \"8000-8099\"; };  rewrite = \"[::1]\"; },\n"
	"  { match = { op = \"connect\"; address = \"10.0.0.0/8\"; }; source = \"127.0.0.1:12345\"; reuseport = true; },\n"
	"  { match = { program = \"legacyd\"; port = \"1-1023\"; };  deny = \"EACCES\"; },\n"
	"  { match = { port = 5432; };                           retry = 60000; }\n"
	");\n";

static void issue_example_loads(void **state)
{
	(void)state;
	struct lr_ruleset rs;
	char err[512];
	assert_int_equal(load(issue_example, &rs, err, sizeof(err)), LR_CONFIG_OK);
	assert_int_equal(rs.nrules, 6);
	assert_int_equal(rs.log.level, LR_LOG_CONFLICTS);
	const struct lr_rule *r = rs.rules;
	assert_true(r[0].action.reuseaddr && r[0].action.reuseport);
	assert_int_equal(r[0].proto, LR_PROTO_TCP);
	assert_int_equal(r[0].port_lo, 8080);
	assert_int_equal(r[0].line, 3);
	assert_true(r[1].action.has_rewrite && r[1].action.rewrite.has_addr && r[1].action.rewrite.has_port);
	assert_int_equal(r[1].action.rewrite.port, 8080);
	assert_int_equal(r[2].family, LR_FAM_V6);
	assert_int_equal(r[2].port_lo, 8000);
	assert_int_equal(r[2].port_hi, 8099);
	assert_false(r[2].action.rewrite.has_port);
	assert_int_equal(r[3].op, LR_OP_CONNECT);
	assert_true(r[3].action.has_source && r[3].has_addr);
	assert_int_equal(r[3].action.source.port, 12345);
	assert_int_equal(r[4].action.deny, EACCES);
	assert_int_equal(r[4].port_hi, 1023);
	assert_int_equal(r[5].action.retry_ms, 60000);
	assert_int_equal(r[5].line, 8);
	lr_ruleset_free(&rs);
}

static void empty_and_logless_files_load(void **state)
{
	(void)state;
	struct lr_ruleset rs;
	char err[512];
	assert_int_equal(load("", &rs, err, sizeof(err)), LR_CONFIG_OK);
	assert_int_equal(rs.nrules, 0);
	lr_ruleset_free(&rs);
	assert_int_equal(load("rules = ( { reuseaddr = true; } );\n# a comment\n", &rs, err, sizeof(err)), LR_CONFIG_OK);
	assert_int_equal(rs.nrules, 1);
	assert_int_equal(rs.rules[0].port_hi, 65535);
	lr_ruleset_free(&rs);
	assert_int_equal(load("log = { target = \"/var/log/libreuse.log\"; format = \"json\"; level = \"all\"; facility = \"daemon\"; };\n"
			      "dry_run = true;\n", &rs, err, sizeof(err)), LR_CONFIG_OK);
	assert_int_equal(rs.log.target, LR_TARGET_FILE);
	assert_int_equal(rs.log.format, LR_FORMAT_JSON);
	assert_true(rs.dry_run);
	lr_ruleset_free(&rs);
}

/* Each bad file: the line the error must name and a word it must contain. */
static const struct {
	const char *text;
	int line;
	const char *says;
} bad[] = {
	{ "rules = (\n { match = { port = 80; }; reuseaddr = true; colour = 1; }\n);\n", 2, "unknown key 'colour'" },
	{ "rules = (\n { match = { prot = \"tcp\"; }; }\n);\n", 2, "unknown key 'prot'" },
	{ "verbose = true;\n", 1, "unknown key 'verbose'" },
	{ "rules = (\n { reuseaddr = \"yes\"; }\n);\n", 2, "must be a boolean" },
	{ "rules = (\n {\n  match = { port = 70000; };\n }\n);\n", 3, "out of range" },
	{ "rules = ( { match = { port = -1; }; } );\n", 1, "out of range" },
	{ "rules = ( { match = { port = \"90-80\"; }; } );\n", 1, "LO <= HI" },
	{ "rules = ( { match = { port = 1.5; }; } );\n", 1, "'port' must be" },
	{ "rules = (\n\n { match = { address = \"10.0.0.300\"; }; }\n);\n", 3, "not an IPv4 or IPv6 address" },
	{ "rules = ( { match = { address = \"10.0.0.0/33\"; }; } );\n", 1, "CIDR" },
	{ "rules = ( { match = { address = \"::/129\"; }; } );\n", 1, "CIDR" },
	{ "rules = ( { deny = \"EWHATEVER\"; } );\n", 1, "not an errno name" },
	{ "log = { target = \"relative/file.log\"; };\n", 1, "absolute path" },
	{ "log = { level = \"loud\"; };\n", 1, "expected one of" },
	{ "log = { facility = \"kern2\"; };\n", 1, "facility" },
	{ "rules = ( { match = { proto = \"sctp\"; }; } );\n", 1, "expected one of" },
	{ "rules = ( { rewrite = \"[::1\"; } );\n", 1, "is not ADDR" },
	{ "rules = ( { source = \"1.2.3.4:80\"; } );\n", 1, "'source' applies to connects" },
	{ "rules = ( { deny = \"EACCES\"; reuseaddr = true; } );\n", 1, "cannot be combined" },
	{ "rules = ( { force = true; } );\n", 1, "'force' needs" },
	{ "rules = ( { match = { family = \"ipv4\"; }; rewrite = \"[::1]:80\"; } );\n", 1, "IPv6 'rewrite'" },
	{ "rules = ( { retry = -5; } );\n", 1, "out of range" },
	{ "rules = { a = 1; };\n", 1, "must be a list" },
	{ "rules = ( 5 );\n", 1, "must be a group" },
	{ "rules = (\n { reuseaddr = true; },\n);\n", 3, "syntax error" }, /* trailing comma: 1.5 */
	{ "rules = (\n { reuseaddr = true; }\n", 3, "syntax error" },
	{ "\x01\x02\xff garbage\n", 1, "" },
	{ "rules = ( { match = { program = \"\"; }; } );\n", 1, "empty" },
	{ "rules = (\n { match = { op = \"connect\"; }; keep = true; }\n);\n", 2, "'keep' applies to binds" },
	{ "rules = ( { keep = 1; } );\n", 1, "'keep' must be true, false or a systemd socket name" },
	{ "rules = ( { keep = \"a:b\"; } );\n", 1, "not a systemd socket name" },
	{ "rules = ( { keep = \"\"; } );\n", 1, "not a systemd socket name" },
	{ "rules = ( { keep = true; deny = \"EACCES\"; } );\n", 1, "cannot be combined" },
	{ "keep = \"web\";\n", 1, "must be a boolean" },
	{ "rules = ( { match = { op = \"send\"; }; rewrite = \":80\"; } );\n", 1, "'rewrite' does not apply to op = \"send\"" },
	{ "rules = ( { match = { op = \"send\"; proto = \"tcp\"; }; source = \":80\"; } );\n", 1, "proto = \"tcp\" can never match" },
	{ "rules = ( { match = { op = \"send\"; }; keep = true; } );\n", 1, "'keep' applies to binds" },
	{ "rules = ( { match = { op = \"send\"; }; retry = 100; } );\n", 1, "'retry' applies to binds" },
	{ "rules = ( { match = { op = \"sendto\"; }; } );\n", 1, "expected one of" },
};

static void bad_files_name_file_and_line(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lr_ruleset rs;
		char err[512], want[256];
		enum lr_config_result r = load(bad[i].text, &rs, err, sizeof(err));
		snprintf(want, sizeof(want), "%s/rules.conf:%d: ", dir, bad[i].line);
		if (r != LR_CONFIG_ERROR || strncmp(err, want, strlen(want)) != 0 ||
		    !strstr(err, bad[i].says))
			fail_msg("case %zu: got %d \"%s\", wanted \"%s...%s\"", i, r, err, want, bad[i].says);
		lr_ruleset_free(&rs);
	}
}

static void nul_bytes_refused(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof(path), "%s/nul.conf", dir);
	FILE *f = fopen(path, "w");
	fwrite("rules = ();\n\n\0\0\0", 1, 16, f);
	fclose(f);
	struct lr_ruleset rs;
	char err[512];
	lr_ruleset_init(&rs);
	assert_int_equal(lr_config_load_file(path, &rs, err, sizeof(err)), LR_CONFIG_ERROR);
	assert_non_null(strstr(err, "nul.conf:3: NUL byte"));
	lr_ruleset_free(&rs);
}

static void missing_file_is_reported_as_missing(void **state)
{
	(void)state;
	struct lr_ruleset rs;
	char err[512];
	lr_ruleset_init(&rs);
	assert_int_equal(lr_config_load_file("/nonexistent/libreuse.conf", &rs, err, sizeof(err)),
			 LR_CONFIG_MISSING);
	lr_ruleset_free(&rs);
}

/* Things that would make libconfig 1.5 exit() or block the host. */
static void hostile_sources_refused(void **state)
{
	(void)state;
	struct lr_ruleset rs;
	char err[512];
	char sub[128], fifo[128];
	snprintf(sub, sizeof(sub), "%s/adir", dir);
	mkdir(sub, 0700);
	assert_int_equal(load("@include \"adir\"\n", &rs, err, sizeof(err)), LR_CONFIG_ERROR);
	assert_non_null(strstr(err, "rules.conf:1: in @include"));
	assert_non_null(strstr(err, "not a regular file"));
	lr_ruleset_free(&rs);

	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(load("\n  @include \"fifo\"\n", &rs, err, sizeof(err)), LR_CONFIG_ERROR);
	assert_non_null(strstr(err, "rules.conf:2: in @include"));
	lr_ruleset_free(&rs);
	lr_ruleset_init(&rs);
	assert_int_equal(lr_config_load_file(fifo, &rs, err, sizeof(err)), LR_CONFIG_ERROR);
	assert_non_null(strstr(err, "not a regular file"));
	lr_ruleset_free(&rs);
	lr_ruleset_init(&rs);
	assert_int_equal(lr_config_load_file("/dev/zero", &rs, err, sizeof(err)), LR_CONFIG_ERROR);
	lr_ruleset_free(&rs);
	lr_ruleset_init(&rs);
	assert_int_equal(lr_config_load_file(dir, &rs, err, sizeof(err)), LR_CONFIG_ERROR);
	lr_ruleset_free(&rs);

	/* An include of itself: refused by depth, not by libconfig. */
	assert_int_equal(load("@include \"rules.conf\"\n", &rs, err, sizeof(err)), LR_CONFIG_ERROR);
	assert_non_null(strstr(err, "nested deeper"));
	lr_ruleset_free(&rs);

	/* A good include works, relative to the including file. */
	write_file("more.conf", "rules = ( { match = { port = 7; }; reuseaddr = true; } );\n");
	assert_int_equal(load("log = { level = \"all\"; };\n@include \"more.conf\"\n", &rs, err, sizeof(err)),
			 LR_CONFIG_OK);
	assert_int_equal(rs.nrules, 1);
	lr_ruleset_free(&rs);
	/* And an error inside it names the included file and its line. */
	write_file("more.conf", "\nrules = ( { match = { port = 99999; }; } );\n");
	assert_int_equal(load("@include \"more.conf\"\n", &rs, err, sizeof(err)), LR_CONFIG_ERROR);
	assert_non_null(strstr(err, "more.conf:2: port 99999"));
	lr_ruleset_free(&rs);
}

/* Sizes and bytes nobody should write, each loaded or refused in bounded
 * time and memory, never a crash. */
static char *repeat(const char *head, const char *unit, size_t times, const char *tail)
{
	size_t n = strlen(head) + strlen(unit) * times + strlen(tail) + 1;
	char *s = malloc(n), *p = s;
	assert_non_null(s);
	p = stpcpy(p, head);
	for (size_t i = 0; i < times; i++)
		p = stpcpy(p, unit);
	strcpy(p, tail);
	return s;
}

static void hostile_sizes_and_bytes(void **state)
{
	(void)state;
	struct lr_ruleset rs;
	char err[512];

	/* 100,000 rules: loaded, compiled, and the right one found. */
	size_t cap = 100000 * 64 + 64, len = 0;
	char *big = malloc(cap);
	assert_non_null(big);
	len += (size_t)sprintf(big + len, "rules = (\n");
	for (int i = 0; i < 100000; i++)
		len += (size_t)sprintf(big + len, "{ match = { port = %d; }; reuseaddr = true; },\n", i % 65536);
	strcpy(big + len - 2, "\n);\n");
	assert_int_equal(load(big, &rs, err, sizeof(err)), LR_CONFIG_OK);
	assert_int_equal(rs.nrules, 100000);
	struct lr_table *t = lr_table_compile(&rs, NULL, NULL);
	assert_non_null(t);
	struct lr_call c = { .op = LR_OP_BIND, .proto = LR_PROTO_TCP, .port = 4242 };
	assert_int_equal(lr_parse_addr("127.0.0.1", &c.addr), 0);
	const struct lr_entry *r = lr_table_match(t, &c);
	assert_non_null(r);
	assert_int_equal(r->index, 4242);
	lr_table_free(t);
	lr_ruleset_free(&rs);
	free(big);

	/* Groups and lists nested 20,000 deep: libconfig's parser gives up. */
	char *deep = repeat("a = ", "{ b = ", 20000, "1;");
	assert_int_equal(load(deep, &rs, err, sizeof(err)), LR_CONFIG_ERROR);
	assert_non_null(strstr(err, "rules.conf:1: "));
	lr_ruleset_free(&rs);
	free(deep);
	char *lists = repeat("rules = ", "(", 20000, "");
	assert_int_equal(load(lists, &rs, err, sizeof(err)), LR_CONFIG_ERROR);
	lr_ruleset_free(&rs);
	free(lists);

	/* A 100 KB program glob: loads, and matching it against a name stays
	 * bounded (iterative, no backtracking blow-up). */
	char *glob = repeat("rules = ( { match = { program = \"", "*a", 50000, "*b\"; }; reuseaddr = true; } );\n");
	assert_int_equal(load(glob, &rs, err, sizeof(err)), LR_CONFIG_OK);
	t = lr_table_compile(&rs, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_non_null(t);
	assert_int_equal(lr_table_count_applying(t), 0); /* the name has no 50,000 a's and a b */
	lr_table_free(t);
	lr_ruleset_free(&rs);
	free(glob);

	/* Names that are not UTF-8 are bytes like any other. */
	assert_int_equal(load("rules = ( { match = { program = \"\xff\xfe*\"; }; reuseaddr = true; } );\n",
			      &rs, err, sizeof(err)), LR_CONFIG_OK);
	t = lr_table_compile(&rs, "\xff\xfe" "d", NULL);
	assert_non_null(t);
	assert_int_equal(t->nrules, 1);
	lr_table_free(t);
	lr_ruleset_free(&rs);
}

static void thread_locale_survives(void **state)
{
	(void)state;
	locale_t mine = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	assert_non_null(mine);
	uselocale(mine);
	struct lr_ruleset rs;
	char err[512];
	assert_int_equal(load(issue_example, &rs, err, sizeof(err)), LR_CONFIG_OK);
	assert_ptr_equal(uselocale((locale_t)0), mine);
	lr_ruleset_free(&rs);
	assert_int_equal(load("rules = (", &rs, err, sizeof(err)), LR_CONFIG_ERROR);
	assert_ptr_equal(uselocale((locale_t)0), mine);
	lr_ruleset_free(&rs);
	uselocale(LC_GLOBAL_LOCALE);
	freelocale(mine);
}

static void inline_text_and_ordering(void **state)
{
	(void)state;
	struct lr_ruleset rs;
	char err[512];
	lr_ruleset_init(&rs);
	assert_int_equal(lr_config_load_text("rules = ( { reuseport = true; } );", "LIBREUSE_RULES", NULL,
					     &rs, err, sizeof(err)), LR_CONFIG_OK);
	assert_int_equal(rs.nrules, 1);
	assert_int_equal(lr_config_load_text("rules = ( { bad = 1; } );", "LIBREUSE_RULES", NULL,
					     &rs, err, sizeof(err)), LR_CONFIG_ERROR);
	assert_non_null(strstr(err, "LIBREUSE_RULES:1: unknown key 'bad'"));
	lr_ruleset_free(&rs);
	lr_ruleset_init(&rs);
	assert_int_equal(lr_config_load_text("@include \"x.conf\"\n", "LIBREUSE_RULES", NULL,
					     &rs, err, sizeof(err)), LR_CONFIG_ERROR);
	assert_non_null(strstr(err, "relative @include"));
	lr_ruleset_free(&rs);

	/* LIBREUSE_RULES is read first: its rules come first, its log keys win,
	 * and the file still sets the keys it alone gives. */
	lr_ruleset_init(&rs);
	assert_int_equal(lr_config_load_text("log = { level = \"all\"; }; rules = ( { reuseport = true; } );",
					     "LIBREUSE_RULES", NULL, &rs, err, sizeof(err)), LR_CONFIG_OK);
	const char *path = write_file("after.conf", "log = { level = \"off\"; format = \"json\"; };\n"
						    "rules = ( { reuseaddr = true; } );\n");
	assert_int_equal(lr_config_load_file(path, &rs, err, sizeof(err)), LR_CONFIG_OK);
	assert_int_equal(rs.log.level, LR_LOG_ALL);
	assert_int_equal(rs.log.format, LR_FORMAT_JSON);
	assert_int_equal(rs.nrules, 2);
	assert_true(rs.rules[0].action.reuseport && !rs.rules[0].action.reuseaddr);
	lr_ruleset_free(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(issue_example_loads),
		cmocka_unit_test(empty_and_logless_files_load),
		cmocka_unit_test(bad_files_name_file_and_line),
		cmocka_unit_test(nul_bytes_refused),
		cmocka_unit_test(missing_file_is_reported_as_missing),
		cmocka_unit_test(hostile_sources_refused),
		cmocka_unit_test(hostile_sizes_and_bytes),
		cmocka_unit_test(thread_locale_survives),
		cmocka_unit_test(inline_text_and_ordering),
	};
	return cmocka_run_group_tests_name("config", tests, make_dir, remove_dir);
}

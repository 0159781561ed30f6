#!/usr/bin/env bash
# A rule file that does not parse or validate: exactly one error naming the
# file and line, and then the program runs as if libreuse were not there —
# including the inputs that would make libconfig 1.5 exit() or block.
. "$(dirname "$0")/../lib.sh"

# run_with NAME CONF: the server under CONF; it must bind the port it asked for.
run_with() {
	local name=$1 conf=$2 port
	port=$(free_port)
	bg "$name" shim "$conf" "${SERVER[@]}" --port "$port" --serve 1
	if ! wait_for "$T/$name.out" 'READY|BINDERR' 5; then
		not_ok "$name: the program did not start (blocked or died)" "$(cat "$T/$name.err")"
		return
	fi
	check "$name: the program binds the port it asked for" grep -q "READY 127.0.0.1 $port" "$T/$name.out"
	ask tcp 127.0.0.1 "$port" 1 >/dev/null
	wait_exit "$name"
	check "$name: and exits normally" wait "$(cat "$T/$name.pid")"
}

# expect_one_error NAME PATTERN: the only thing libreuse printed.
expect_one_error() {
	local lines
	lines=$(grep -c . "$T/$1.err")
	if [ "$lines" = 1 ] && grep -qE -- "$2" "$T/$1.err"; then
		ok "$1: one error line: $(cat "$T/$1.err")"
	else
		not_ok "$1: one error line matching $2" "$(cat "$T/$1.err")"
	fi
}

printf 'log = { level = "all"; };\nrules = (\n  { match = { port = 80; }; reuseaddr = yes; }\n);\n' >"$T/syntax.conf"
run_with syntax "$T/syntax.conf"
expect_one_error syntax "^libreuse\[[0-9]+\]: $T/syntax.conf:3: syntax error; rules not applied, calls pass through\$"

printf 'rules = (\n  { match = { port = 80; };\n    reuseaddr = true; colour = "red"; }\n);\n' >"$T/unknown.conf"
run_with unknown "$T/unknown.conf"
expect_one_error unknown "$T/unknown.conf:3: unknown key 'colour' in rule"

printf 'rules = (\n\n\n  { match = { port = 123456; }; }\n);\n' >"$T/range.conf"
run_with range "$T/range.conf"
expect_one_error range "$T/range.conf:4: port 123456 out of range"

printf 'log = { target = "var/log/x.log"; };\n' >"$T/relative.conf"
run_with relative "$T/relative.conf"
expect_one_error relative "$T/relative.conf:1: log target .* absolute path"

mkdir "$T/adir"
printf 'rules = ();\n@include "adir"\n' >"$T/incdir.conf"
run_with incdir "$T/incdir.conf"
expect_one_error incdir "$T/incdir.conf:2: in @include: .*adir: not a regular file"

mkfifo "$T/fifo.conf"
run_with fifo "$T/fifo.conf"
expect_one_error fifo "$T/fifo.conf: not a regular file"

head -c 4096 /dev/urandom >"$T/garbage.conf"
run_with garbage "$T/garbage.conf"
expect_one_error garbage "$T/garbage.conf(:[0-9]+)?: "

run_with devzero /dev/zero
expect_one_error devzero "/dev/zero: not a regular file"

run_with missing "$T/no-such.conf"
expect_one_error missing "$T/no-such.conf: no such rule file \(LIBREUSE_CONFIG\); calls pass through"

# /dev/null, the usual way to say "an empty file": no rules, no error, and
# conflicts are still logged (the default level).
run_with devnull /dev/null
check "devnull: no error line" test ! -s "$T/devnull.err"
H=$(free_port)
bg held "${SERVER[@]}" --port "$H"
wait_for "$T/held.out" READY
shim /dev/null "$HELPERS/bindprobe" "$H" >"$T/dn.out" 2>"$T/dn.err"
check "devnull: a conflict is still logged, naming the holder" \
	grep -q "bind tcp 127\.0\.0\.1:$H failed: EADDRINUSE .*held by: pid $(cat "$T/held.pid") (python3)" "$T/dn.err"

#!/usr/bin/env bash
# Nothing foreign inside the host: the library loads no library but libc's,
# runs no parser, and starts its rule compiler (the helper) so that the
# program cannot tell. A helper that crashes, exits, hangs or runs out of
# memory costs the program nothing but its rules, and is said in one line.
. "$(dirname "$0")/../lib.sh"

P=$(free_port)
Q=$(free_port)
rules "$T/rw.conf" "rules = ( { match = { port = $P; }; rewrite = \":$Q\"; } );"

# A host exporting every function name libconfig.so.9 exports, each
# aborting: libconfig inside it would call them (lighttpd's config_init).
n=$(grep -c abort "$HELPERS/confighost_names.c")
shim "$T/rw.conf" "$HELPERS/confighost" "$P" >"$T/ch.out" 2>"$T/ch.err"
rc=$?
check "a host exporting libconfig's $n function names, LD_PRELOAD: exits 0 (rc $rc)" test $rc = 0
check "...and its bind is rewritten ($(cat "$T/ch.out"))" grep -qx "bound $Q" "$T/ch.out"
check "...and libreuse says nothing" test ! -s "$T/ch.err"
rm -rf "$LIBREUSE_CACHE_DIR"
"$BUILD/libreuse" run -c "$T/rw.conf" -- "$HELPERS/confighost" "$P" >"$T/chrun.out" 2>"$T/chrun.err"
rc=$?
check "...through libreuse run: exits 0 (rc $rc), rewritten" \
	test $rc = 0 -a "$(cat "$T/chrun.out")" = "bound $Q"

# What a program under rules has mapped: its own libraries and libreuse.so,
# nothing else (no libconfig, no second libc).
maps() {
	"$PY" -c "
import socket
s = socket.socket()
s.bind(('127.0.0.1', 0))
for l in sorted({l.split()[-1] for l in open('/proc/self/maps') if '/' in l.split()[-1]}):
    print(l)
"
}
maps >"$T/maps.plain"
rules "$T/all.conf" 'log = { level = "all"; }; rules = ( { match = { port = 1; }; deny = "EACCES"; } );'
LIBREUSE_CONFIG=$T/all.conf LD_PRELOAD=$(preload) maps >"$T/maps.shim" 2>/dev/null
added=$(comm -13 "$T/maps.plain" "$T/maps.shim" | tr '\n' ' ')
check "/proc/self/maps under rules: libreuse.so is all it adds ($added)" \
	test "$(comm -13 "$T/maps.plain" "$T/maps.shim" | xargs -n1 basename 2>/dev/null | grep -v '^libreuse.so$' |
		{ if [ -n "${SANITIZE:-}" ]; then grep -vE 'lib(asan|ubsan|tsan|gcc_s|stdc\+\+)'; else cat; fi; })" = ""
check "...and it is there" grep -q "/libreuse.so$" "$T/maps.shim"
check "...and no libconfig" bash -c "! grep -q libconfig '$T/maps.shim'"

# Starting the helper touches nothing of the host's: no SIGCHLD, no child
# its waitpid(-1) reaps, its signal mask and handler as they were, no fd
# left behind; from 8 threads opening their first socket at once.
for threads in 1 8; do
	rm -rf "$LIBREUSE_CACHE_DIR"
	shim "$T/rw.conf" "$HELPERS/hostprobe" "$P" $threads >"$T/hp$threads.out" 2>"$T/hp$threads.err"
	check "host of $threads thread(s) whose SIGCHLD handler reaps every child: the helper ran (bound $Q)" \
		grep -qx "bound $Q" "$T/hp$threads.out"
	for want in "sigchld 0" "reaped 0" "wait ECHILD" "mask same" "handler same" "fds same"; do
		check "...$want" grep -qx "$want" "$T/hp$threads.out"
	done
done
check "...and the helper cached the table for the next program" test -n "$(ls "$LIBREUSE_CACHE_DIR"/*.table 2>/dev/null)"

# Faults of the helper's: the program binds where it asked, exits 0, and
# one line names the rule file and what went wrong.
fault() { # NAME SCRIPT-BODY EXPECTED-REASON
	printf '#!/bin/sh\n%s\n' "$2" >"$T/$1.sh"
	chmod 755 "$T/$1.sh"
	rm -rf "$LIBREUSE_CACHE_DIR"
	local start=$(date +%s%N)
	LIBREUSE_HELPER=$T/$1.sh shim "$T/rw.conf" "$HELPERS/hostprobe" "$P" >"$T/$1.out" 2>"$T/$1.err"
	local rc=$? ms=$((($(date +%s%N) - start) / 1000000))
	check "helper that $1s: the program binds its own port and exits 0 (rc $rc, ${ms} ms)" \
		test $rc = 0 -a "$(head -1 "$T/$1.out")" = "bound $P"
	check "...one line, naming the file and why: $(head -c 160 "$T/$1.err")" \
		test "$(wc -l <"$T/$1.err")" = 1 -a "$(grep -c "rw.conf.*$3" "$T/$1.err")" = 1
	check "...and nothing else of the host's was touched" \
		test "$(grep -cxE 'sigchld 0|reaped 0|wait ECHILD|mask same|fds same' "$T/$1.out")" = 5
}
fault crash 'kill -SEGV $$' "killed by signal 11 (SIGSEGV)"
fault exit 'exit 3' "exited with status 3"
fault hang "echo \$\$ >$T/hang.pid; exec sleep 30" "did not finish within 2 s"
fault garbage 'printf "\177LRTABLE\001\000\000\000not a table"' "refused"
check "the hung helper was killed and reaped, not left behind" \
	bash -c "test -s '$T/hang.pid' && ! kill -0 \$(cat '$T/hang.pid') 2>/dev/null"

# A rule file too large for the memory the program has left: the helper
# (under the same limit) refuses to parse it, and says so. (Not under a
# sanitizer: its shadow memory alone is more than the limit.)
if [ -z "${SANITIZE:-}" ]; then
"$PY" -c "
print('rules = (')
print(',\n'.join('{ match = { port = %d; }; reuseaddr = true; }' % (1 + i % 60000) for i in range(150000)))
print(');')" >"$T/huge.conf"
rm -rf "$LIBREUSE_CACHE_DIR"
(ulimit -v 60000; shim "$T/huge.conf" "$HELPERS/hostprobe" "$P" >"$T/huge.out" 2>"$T/huge.err")
check "rule file of $(($(stat -c %s "$T/huge.conf") / 1048576)) MiB under a 60 MB limit: the program binds and runs on" \
	test "$(head -1 "$T/huge.out")" = "bound $P"
check "...one line: $(head -c 160 "$T/huge.err")" \
	test "$(wc -l <"$T/huge.err")" = 1 -a "$(grep -c "huge.conf.*out of memory" "$T/huge.err")" = 1
else
	ok "# SKIP memory limit: the sanitizer's shadow memory exceeds it"
fi

# lighttpd exports config_init and config_read: it crashed at its first
# socket() while libconfig ran inside it.
if command -v lighttpd >/dev/null; then
	mkdir -p "$T/www"
	echo "lighttpd under libreuse" >"$T/www/index.html"
	lighttpd_conf() { # PORT
		cat <<CONF
server.document-root = "$T/www"
server.bind = "127.0.0.1"
server.port = $1
server.errorlog = "$T/lighttpd.log"
index-file.names = ( "index.html" )
CONF
	}
	lighttpd_conf "$P" >"$T/l.conf"
	bg light "$BUILD/libreuse" run --reuseaddr -- lighttpd -D -f "$T/l.conf"
	wait_for "$T/lighttpd.log" "server started" 5
	check "lighttpd under run --reuseaddr serves" \
		bash -c "curl -s --max-time 5 http://127.0.0.1:$P/ | grep -q 'lighttpd under libreuse'"
	kill "$(cat "$T/light.pid")"
	wait_exit light 5
	: >"$T/lighttpd.log"
	bg lightrw "$BUILD/libreuse" run -c "$T/rw.conf" -- lighttpd -D -f "$T/l.conf"
	wait_for "$T/lighttpd.log" "server started" 5
	check "lighttpd under a rewrite rule serves on the rewritten port $Q" \
		bash -c "curl -s --max-time 5 http://127.0.0.1:$Q/ | grep -q 'lighttpd under libreuse'"
	kill "$(cat "$T/lightrw.pid")"
	wait_exit lightrw 5
	check "...and exits cleanly on SIGTERM" bash -c "! grep -qi 'segfault\|signal 11' '$T/lightrw.err'"
else
	ok "# SKIP lighttpd: not installed"
fi

# Trust: a cached table, or its directory, that another user owns or others
# may write is ignored with one line, and the rules still come (from the
# helper): nobody else's table is ever used.
C=$T/trust-cache
mkdir -m 700 "$C"
run_probe() { LIBREUSE_CACHE_DIR=$C LIBREUSE_CONFIG=$T/rw.conf LD_PRELOAD=$(preload) "$HELPERS/confighost" "$P" >"$T/tr.out" 2>"$T/tr.err"; }
run_probe
table=$(ls "$C"/*.table 2>/dev/null | head -1)
check "trust: the first run cached its table" test -n "$table"
run_probe
check "trust: ...which the next run uses, saying nothing" test ! -s "$T/tr.err" -a "$(cat "$T/tr.out")" = "bound $Q"
chmod g+w "$table"
run_probe
check "trust: a table writable by others is ignored, in one line" \
	test "$(grep -c "$table: cached table ignored: writable by others" "$T/tr.err")" = 1 -a "$(wc -l <"$T/tr.err")" = 1
check "...and the rules still apply (the helper compiled them)" test "$(cat "$T/tr.out")" = "bound $Q"
table=$(ls "$C"/*.table | head -1)
chown nobody "$table"
run_probe
check "trust: a table another user owns is ignored, in one line" \
	grep -q "cached table ignored: owned by another user" "$T/tr.err"
check "...and the rules still apply" test "$(cat "$T/tr.out")" = "bound $Q"
chmod o+w "$C"
run_probe
check "trust: a cache directory others may write is ignored, in one line" \
	grep -q "^libreuse\[[0-9]*\]: $C: table cache ignored: writable by others" "$T/tr.err"
check "...and the rules still apply" test "$(cat "$T/tr.out")" = "bound $Q"

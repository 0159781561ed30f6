#!/usr/bin/env bash
# Nothing a program does at start lets it escape its rules, and no tool that
# runs programs is hurt by libreuse's start: the environment that governs a
# process is the one it started with (cleared, rebuilt or overwritten before
# the first socket call changes nothing); a program whose euid differs from
# its ruid at its first call gets its rules (its helper compiles what the
# library asks, whatever its own secure execution) and reads no rule file it
# could not read itself; valgrind (memcheck, callgrind), strace -f and gdb
# run a program whose table is not cached yet, and the program exits 0
# under its rules.
. "$(dirname "$0")/../lib.sh"

P=$(free_port)
Q=$(free_port)
rules "$T/rw.conf" "rules = ( { match = { port = $P; }; rewrite = \":$Q\"; } );"

# 1. The environment at start governs, whatever the program does to it.
clear_env='import os,socket; os.environ.clear(); s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[0])'
timeout 30 "$BUILD/libreuse" run --bind 127.0.0.2:0 --log all -- "$PY" -c "$clear_env" >"$T/clear.out" 2>"$T/clear.err"
check "environment cleared before the first call: the bind is rewritten ($(cat "$T/clear.out"))" \
	test "$(cat "$T/clear.out")" = 127.0.0.2
check "...and logged: $(head -c 120 "$T/clear.err")" \
	grep -q "python3: bind tcp 127.0.0.1:0 -> 127.0.0.2:0: rewrite" "$T/clear.err"
timeout 30 "$BUILD/libreuse" run --bind 127.0.0.2:0 --log all --json --log-file "$T/clear.json" -- \
	"$PY" -c "$clear_env" >"$T/clearj.out" 2>"$T/clearj.err"
check "...the same with a JSON log file: rewritten" test "$(cat "$T/clearj.out")" = 127.0.0.2
check "...one rewrite action in the JSON log" \
	test "$("${LOGQ[@]}" "$T/clear.json" event=action action=rewrite effective_addr=127.0.0.2 --count)" = 1
check "...and its exit summary counts it" \
	test "$("${LOGQ[@]}" "$T/clear.json" event=summary --get counts | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["rewrites"])')" = 1

# Rebuilt from scratch, with variables of libreuse's own that say otherwise:
# the program's later LIBREUSE_* are not its rules.
rules "$T/deny.conf" "rules = ( { match = { port = 0; }; deny = \"EACCES\"; } );"
rebuild='import os,socket,sys
os.environ.clear()
os.environ.update({"PATH": "/usr/bin", "LIBREUSE_CONFIG": sys.argv[1], "LIBREUSE_RULES": ""})
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[0])'
timeout 30 "$BUILD/libreuse" run --bind 127.0.0.2:0 --log all -- "$PY" -c "$rebuild" "$T/deny.conf" >"$T/rebuild.out" 2>"$T/rebuild.err"
check "environment rebuilt naming another rule file: the rules at start apply ($(cat "$T/rebuild.out"))" \
	test "$(cat "$T/rebuild.out")" = 127.0.0.2
check "...logged" grep -q "bind tcp 127.0.0.1:0 -> 127.0.0.2:0: rewrite" "$T/rebuild.err"

# The environment strings themselves overwritten in place, as setproctitle
# does (nginx, postgres): libreuse kept copies of its own.
overwrite='import ctypes,socket
libc = ctypes.CDLL(None)
env = ctypes.POINTER(ctypes.c_char_p).in_dll(libc, "environ")
i = 0
while env[i]:
    s = env[i]
    ctypes.memset(ctypes.cast(env, ctypes.POINTER(ctypes.c_void_p))[i], ord("x"), len(s))
    i += 1
s=socket.socket(); s.bind(("127.0.0.1",'$P')); print(s.getsockname()[1])'
rm -rf "$LIBREUSE_CACHE_DIR"
shim "$T/rw.conf" timeout 30 "$PY" -c "$overwrite" >"$T/over.out" 2>"$T/over.err"
check "environment strings overwritten in place (setproctitle): rewritten to $Q ($(cat "$T/over.out"))" \
	test "$(cat "$T/over.out")" = "$Q"
check "...and nothing said" test ! -s "$T/over.err"

# 2. euid != ruid at the first call (freeradius's setresuid(-1, user, 0)).
if [ "$(id -u)" = 0 ] && getent passwd 65534 >/dev/null; then
	switch='import os,socket; os.setresuid(-1,65534,0); s=socket.socket(); os.setresuid(-1,0,-1); s.bind(("127.0.0.1",0)); print(s.getsockname()[0])'
	timeout 30 "$BUILD/libreuse" run --bind 127.0.0.2:0 -- "$PY" -c "$switch" >"$T/euid.out" 2>"$T/euid.err"
	check "euid != ruid at the first call, under run: rewritten ($(cat "$T/euid.out"))" \
		test "$(cat "$T/euid.out")" = 127.0.0.2
	check "...and no 'no rules' line, nothing said ($(head -c 160 "$T/euid.err"))" test ! -s "$T/euid.err"
	timeout 30 "$BUILD/libreuse" run --bind 127.0.0.2:0 --log all -- "$PY" -c "$switch" >"$T/euidl.out" 2>"$T/euidl.err"
	check "...under --log all: logged" grep -q "bind tcp 127.0.0.1:0 -> 127.0.0.2:0: rewrite" "$T/euidl.err"

	# Straight under LD_PRELOAD with no table cached: the helper runs as the
	# program's euid, and the table it caches is that user's, in a
	# directory of that user's, which the library then trusts.
	mkdir -m 1777 "$T/pub"
	early='import os,socket,sys; os.setresuid(-1,65534,0); s=socket.socket(); s.bind(("127.0.0.1",'$P')); print(s.getsockname()[1])'
	LIBREUSE_CACHE_DIR=$T/pub/cache shim "$T/rw.conf" timeout 30 "$PY" -c "$early" >"$T/pre.out" 2>"$T/pre.err"
	check "euid 65534 at the first call, LD_PRELOAD, nothing cached: rewritten to $Q ($(cat "$T/pre.out"))" \
		test "$(cat "$T/pre.out")" = "$Q"
	check "...nothing said ($(head -c 160 "$T/pre.err"))" test ! -s "$T/pre.err"
	table=$(ls "$T"/pub/cache/*.table 2>/dev/null | head -1)
	check "...its table cached by and for uid 65534 ($(stat -c '%u %a' "$T/pub/cache" ${table:+"$table"} 2>&1 | tr '\n' ' '))" \
		test -n "$table" -a "$(stat -c %u "$T/pub/cache")" = 65534 -a "$(stat -c %u "$table")" = 65534 \
		-a "$(stat -c %a "$T/pub/cache")" = 700
	LIBREUSE_CACHE_DIR=$T/pub/cache LIBREUSE_HELPER=/bin/false shim "$T/rw.conf" timeout 30 "$PY" -c "$early" >"$T/pre2.out" 2>"$T/pre2.err"
	check "...which the next such start uses, with no helper (rewritten to $(cat "$T/pre2.out"), nothing said)" \
		test "$(cat "$T/pre2.out")" = "$Q" -a ! -s "$T/pre2.err"

	# Nothing the program could not read: a rule file, or an @include,
	# readable by root alone is not read for a program running as 65534.
	rules "$T/secret.conf" "rules = ( { match = { port = $P; }; rewrite = \":$Q\"; } );"
	chmod 600 "$T/secret.conf"
	LIBREUSE_CACHE_DIR=$T/pub/c2 shim "$T/secret.conf" timeout 30 "$PY" -c "$early" >"$T/sec.out" 2>"$T/sec.err"
	check "a rule file the program (euid 65534) cannot read: not applied ($(cat "$T/sec.out"))" \
		test "$(cat "$T/sec.out")" = "$P"
	check "...one line saying so: $(head -c 160 "$T/sec.err")" \
		test "$(wc -l <"$T/sec.err")" = 1 -a "$(grep -c "secret.conf: cannot read the rule file: Permission denied" "$T/sec.err")" = 1
	rules "$T/inc.conf" '@include "secret.conf"'
	LIBREUSE_CACHE_DIR=$T/pub/c3 shim "$T/inc.conf" timeout 30 "$PY" -c "$early" >"$T/inc.out" 2>"$T/inc.err"
	check "an @include the program cannot read: not applied ($(cat "$T/inc.out"))" test "$(cat "$T/inc.out")" = "$P"
	check "...one line saying so: $(head -c 160 "$T/inc.err")" \
		test "$(wc -l <"$T/inc.err")" = 1 -a "$(grep -c "secret.conf.*Permission denied" "$T/inc.err")" = 1
	LIBREUSE_CACHE_DIR=$T/pub/c4 shim "$T/inc.conf" "$HELPERS/bindprobe" "$P" >"$T/incroot.out" 2>"$T/incroot.err"
	check "...which root's program reads (ok 127.0.0.1 $Q: $(cat "$T/incroot.out"))" \
		test "$(cat "$T/incroot.out")" = "ok 127.0.0.1 $Q"
else
	ok "# SKIP euid != ruid: needs root and uid 65534"
fi

# 3. Tools that follow a program's children, no table cached: the program
# exits 0 with its rules applied, and the tool is not upset.
tool() { # NAME TIMEOUT COMMAND...: bindprobe under a tool, a fresh cache
	local name=$1 secs=$2
	shift 2
	rm -rf "$LIBREUSE_CACHE_DIR"
	LIBREUSE_CONFIG=$T/rw.conf timeout "$secs" "$@" >"$T/$name.out" 2>"$T/$name.err"
	echo $? >"$T/$name.rc"
}
if command -v valgrind >/dev/null && [ -z "${SANITIZE:-}" ]; then
	for t in memcheck callgrind; do
		out=()
		[ $t = callgrind ] && out=(--callgrind-out-file=/dev/null)
		# valgrind runs the program it is given, not what that execs: the
		# preload goes to valgrind, which passes it to its client.
		tool "$t" 120 env LD_PRELOAD="$(preload)" valgrind -q --tool=$t "${out[@]}" \
			--log-file="$T/$t.vg" "$HELPERS/bindprobe" "$P"
		check "valgrind --tool=$t, no cached table: exits 0 (rc $(cat "$T/$t.rc")), rewritten ($(cat "$T/$t.out"))" \
			test "$(cat "$T/$t.rc")" = 0 -a "$(cat "$T/$t.out")" = "ok 127.0.0.1 $Q"
		check "...valgrind says nothing ($(head -c 160 "$T/$t.vg"))" test ! -s "$T/$t.vg"
		# Its tool is static, but it hands the preload to the program it
		# loads: no line may call that program unruled.
		check "...nor libreuse ($(head -c 200 "$T/$t.err"))" test ! -s "$T/$t.err"
		check "...and the helper cached the table" test -n "$(ls "$LIBREUSE_CACHE_DIR"/*.table 2>/dev/null)"
	done
else
	ok "# SKIP valgrind: not installed, or a sanitizer build"
fi
if command -v strace >/dev/null; then
	tool strace 60 strace -f -qq -o "$T/strace.log" -e trace=execve,clone,clone3,vfork,exit_group \
		env LD_PRELOAD="$(preload)" "$HELPERS/bindprobe" "$P"
	check "strace -f, no cached table: exits 0 (rc $(cat "$T/strace.rc")), rewritten ($(cat "$T/strace.out"))" \
		test "$(cat "$T/strace.rc")" = 0 -a "$(cat "$T/strace.out")" = "ok 127.0.0.1 $Q"
	check "...it followed the helper to its exec" grep -q 'execve(".*libreuse", \["libreuse", "compile", "--helper"' "$T/strace.log"
else
	ok "# SKIP strace: not installed"
fi
if command -v gdb >/dev/null; then
	tool gdb 60 gdb -q -batch -nx -ex "set environment LD_PRELOAD=$(preload)" -ex "run $P" "$HELPERS/bindprobe"
	check "gdb -batch, no cached table: the program exits normally ($(grep -o 'Inferior 1 .*' "$T/gdb.out"))" \
		grep -q "Inferior 1 (process [0-9]*) exited normally" "$T/gdb.out"
	check "...rewritten" grep -qx "ok 127.0.0.1 $Q" "$T/gdb.out"
else
	ok "# SKIP gdb: not installed"
fi

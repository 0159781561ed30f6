#!/usr/bin/env bash
# Every x86 binary: i386 programs built here (gcc -m32, dynamic and static)
# and one from Debian, through the front end `run` chooses — the 32-bit
# library, or the supervisor — with the same rules, lines and explanations
# as a 64-bit program; one LD_PRELOAD value ($LIB) for both classes; a
# 64-bit program stepping around the filter by `int $0x80`, socketcall or
# x32 numbers; Go's GOARCH=386 runtime (socketcall) sharing a port and
# restarted under the keeper; io_uring said, or refused so that a program
# falls back to calls the rules reach.
. "$(dirname "$0")/../lib.sh"
seccomp_or_skip

I386=$HELPERS/i386
ABI=$HELPERS/abicalls
HAVE32=yes
NO32=$(no_i386)
if [ -n "${SANITIZE:-}" ]; then
	ok "# SKIP the i386 programs: a sanitizer build makes no 32-bit library"
	HAVE32=
elif [ ! -x "$BUILD/i386/libreuse.so" ] || [ ! -x "$I386/bindprobe-static" ]; then
	not_ok "the 32-bit library and helpers were not built (make deps installs gcc-multilib)"
	HAVE32=
elif [ -n "$NO32" ]; then
	# What run says of such a program instead: the kernel's refusal, not
	# a shell's syntax error over the binary (glibc's execvp fallback).
	out=$("$CLI" run -- "$I386/bindprobe" 1 2>&1)
	rc=$?
	check "run on an i386 program here: 126, and why ($out)" \
		test "$rc" = 126 -a -n "$(grep -F 'Exec format error: it is a 32-bit x86 (i386) program, and this kernel runs none' <<<"$out")"
	ok "# SKIP the i386 programs: $NO32"
	HAVE32=
fi

# Log lines with the pid and the program's name taken out: what must read
# the same whatever the program's class.
norm() { sed -E 's/libreuse\[[0-9]+\]/libreuse[PID]/; s/: (bindprobe|connprobe)(-static)?: /: PROG: /; s/pid [0-9]+/pid N/g' "$1" | grep -v -e ': summary: ' -e '^libreuse: ' || true; }

listener() { # NAME PORT: a python listener holding 127.0.0.1:PORT
	bg "$1" "$PY" -c "
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(64); print('READY', flush=True)
while True:
    c, _ = s.accept(); c.close()" "$2"
	wait_for "$T/$1.out" READY
}

H=$(free_port)
listener held "$H"
if [ -n "$HAVE32" ]; then
	# --- the rules through the front end run chooses, beside x86-64 ---------
	for kind in x86-64 i386 i386-static; do
		case $kind in
		x86-64) bp=$HELPERS/bindprobe cp=$HELPERS/connprobe ;;
		i386) bp=$I386/bindprobe cp=$I386/connprobe ;;
		i386-static) bp=$I386/bindprobe-static cp=$I386/connprobe-static ;;
		esac
		P=$(free_port) Q=$(free_port)
		out=$("$CLI" run --log actions --bind "127.0.0.1:$Q" -- "$bp" "$P" 2>"$T/$kind.rw")
		check "$kind: rewrite $P -> $Q" test "$out" = "ok 127.0.0.1 $Q"
		case $kind in
		i386) check "...by the 32-bit library run chose (no supervisor)" \
			test -z "$(grep -E 'seccomp|wrong ELF class|cannot be preloaded' "$T/$kind.rw")" ;;
		i386-static) check "...by the supervisor, as run said" \
			grep -q "is statically linked .*: applying the rules from outside it, by seccomp user notification" "$T/$kind.rw" ;;
		esac
		rules "$T/$kind.conf" "log = { level = \"all\"; };
	rules = ( { match = { op = \"bind\"; port = $P; }; deny = \"EACCES\"; },
	          { match = { op = \"bind\"; port = $Q; }; reuseport = true; },
	          { match = { op = \"connect\"; port = $H; }; source = \"127.0.0.2\"; } );"
		"$CLI" run -c "$T/$kind.conf" -- "$bp" "$P" >"$T/$kind.deny" 2>"$T/$kind.log"
		echo "exit $?" >>"$T/$kind.deny"
		check "$kind: deny: EACCES, exit 1" test "$(cat "$T/$kind.deny")" = "$(printf -- '-1 EACCES\nexit 1')"
		"$CLI" run -c "$T/$kind.conf" -- "$bp" "$Q" >"$T/$kind.inj" 2>>"$T/$kind.log"
		check "$kind: inject: bound ($(cat "$T/$kind.inj"))" test "$(cat "$T/$kind.inj")" = "ok 127.0.0.1 $Q"
		"$CLI" run -c "$T/$kind.conf" -- "$cp" "$H" >"$T/$kind.src" 2>>"$T/$kind.log"
		check "$kind: source: connected from 127.0.0.2 ($(cat "$T/$kind.src"))" grep -q "^ok 127.0.0.2 " "$T/$kind.src"
		# A listener of its own: the source connects leave TIME_WAITs on $H.
		B=$(free_port)
		listener "busy$kind" "$B"
		"$CLI" run --log conflicts -- "$bp" "$B" >"$T/$kind.busy" 2>>"$T/$kind.log"
		check "$kind: a held port: EADDRINUSE" grep -q -- "-1 EADDRINUSE" "$T/$kind.busy"
		norm "$T/$kind.log" | sed -E "s/:$P\b/:PORT/g; s/:$Q\b/:PORT2/g; s/:$B\b/:BUSY/g; s/ 127\.0\.0\.2:[0-9]+/ 127.0.0.2:N/g" >"$T/$kind.norm"
	done
	echo "# x86-64 lines compared: $(wc -l <"$T/x86-64.norm")"; sed "s/^/#   /" "$T/x86-64.norm"
	check "the audit trail: deny, inject, source, conflict lines all there" \
		test "$(grep -cE 'deny EACCES|inject SO_REUSEPORT|source before connect|held by: pid N \(python3\)' "$T/x86-64.norm")" -ge 4
	for kind in i386 i386-static; do
		check "$kind: every log line and explanation reads as for x86-64" diff "$T/x86-64.norm" "$T/$kind.norm"
	done

	# An i386 program where no 32-bit library is installed: a copy of the
	# command with nothing beside it (and nothing in its lib32 dir).
	mkdir -p "$T/bare"
	cp "$CLI" "$T/bare/libreuse"
	P=$(free_port) Q=$(free_port)
	if [ ! -e /usr/local/lib32/libreuse.so ]; then
		out=$("$T/bare/libreuse" run --bind "127.0.0.1:$Q" -- "$I386/bindprobe" "$P" 2>"$T/bare.err")
		check "i386 without a 32-bit library installed: run says so and supervises it instead ($out)" \
			test "$out" = "ok 127.0.0.1 $Q" -a -n "$(grep 'a 32-bit (i386) program, and no 32-bit libreuse.so is installed' "$T/bare.err")"
	fi

	# who names a 32-bit holder as it names any other.
	P=$(free_port)
	bg t32 "$I386/tinyserver" "$P"
	wait_for "$T/t32.out" READY
	check "who: an i386 listener, its pid and program" \
		grep -qE "^tcp +LISTEN +127\.0\.0\.1:$P .* $(cat "$T/t32.pid") +tinyserver$" <("$CLI" who "$P")
	kill "$(cat "$T/t32.pid")"

	# --- one LD_PRELOAD value for both classes ($LIB) ------------------------
	# The package's layout, in a tree of its own: ld.so expands $LIB to
	# lib/x86_64-linux-gnu (amd64), lib32 (libc6-i386, what gcc -m32 links to)
	# or lib/i386-linux-gnu (a multiarch libc6:i386, Debian's own i386 programs).
	R=$T/root
	install -D -m 0644 "$LIB" "$R/usr/lib/x86_64-linux-gnu/libreuse/libreuse.so"
	install -D -m 0644 "$BUILD/i386/libreuse.so" "$R/usr/lib/i386-linux-gnu/libreuse/libreuse.so"
	mkdir -p "$R/usr/lib32/libreuse"
	ln -s ../../lib/i386-linux-gnu/libreuse/libreuse.so "$R/usr/lib32/libreuse/libreuse.so"
	ONE="$R/usr/\$LIB/libreuse/libreuse.so"
	for bp in "$HELPERS/bindprobe" "$I386/bindprobe"; do
		P=$(free_port) Q=$(free_port)
		out=$(LD_PRELOAD=$ONE LIBREUSE_HELPER=$CLI LIBREUSE_RULES="rules = ( { match = { op = \"bind\"; }; rewrite = \"127.0.0.1:$Q\"; } );" \
			"$bp" "$P" 2>"$T/one.err")
		check "LD_PRELOAD='.../usr/\$LIB/libreuse/libreuse.so': $(file -b "$bp" | cut -d, -f1,2) rewritten" \
			test "$out" = "ok 127.0.0.1 $Q" -a ! -s "$T/one.err"
	done
	# A real i386 program from Debian (netcat-traditional:i386, by make deps
	# where the registry serves i386): nc -l, moved by a rewrite.
	NC=/bin/nc.traditional
	if file -L "$NC" 2>/dev/null | grep -q 'ELF 32-bit.*80386'; then
		P=$(free_port) Q=$(free_port)
		LD_PRELOAD=$ONE LIBREUSE_HELPER=$CLI LIBREUSE_RULES="rules = ( { match = { op = \"bind\"; }; rewrite = \"127.0.0.1:$Q\"; } );" \
			bg nc "$NC" -l -p "$P" -s 127.0.0.1
		for _ in $(seq 50); do [ -n "$(ss -Htln "( sport = :$Q )")" ] && break; sleep 0.1; done
		check "Debian's i386 nc.traditional under the one LD_PRELOAD value: listens on $Q, not $P" \
			test -n "$(ss -Htln "( sport = :$Q )")" -a -z "$(ss -Htln "( sport = :$P )")" -a ! -s "$T/nc.err"
		kill "$(cat "$T/nc.pid")" 2>/dev/null
		P=$(free_port) Q=$(free_port)
		bg ncrun "$CLI" run --bind "127.0.0.1:$Q" -- "$NC" -l -p "$P" -s 127.0.0.1
		for _ in $(seq 50); do [ -n "$(ss -Htln "( sport = :$Q )")" ] && break; sleep 0.1; done
		check "...and under libreuse run, which preloads the 32-bit library for it" \
			test -n "$(ss -Htln "( sport = :$Q )")" -a ! -s "$T/ncrun.err"
		kill "$(cat "$T/ncrun.pid")" 2>/dev/null
	else
		ok "# SKIP no i386 program from Debian here ($NC: the registry did not serve i386 to make deps)"
	fi

	# --- keep: i386 servers restarted under the keeper, under load -----------
	for kind in i386 i386-static; do
		srv=$I386/tinyserver
		[ "$kind" = i386-static ] && srv=$I386/tinyserver-static
		P=$(free_port)
		bg "k$kind" "$CLI" run --keep -- "$srv" "$P"
		wait_for "$T/k$kind.out" READY || not_ok "$kind: the first instance did not start" "$(tail -3 "$T/k$kind.err")"
		load_start "l$kind" "$P"
		sleep 0.3
		restarts "k$kind" HUP 5 || not_ok "$kind: a restart was not carried out" "$(tail -5 "$T/k$kind.err")"
		sleep 0.3
		res=$(load_stop "l$kind")
		echo "# keep $kind: $(echo "$res" | cut -c1-120)"
		check "keep $kind: 5 restarts under load, none refused, none reset" \
			test "$(json_get "$res" refused)$(json_get "$res" reset)" = 00 -a "$(json_get "$res" ok)" -gt 100
		# All 6 here; on an emulated machine an instance may be stopped
		# before the load reached it: more than one is what shows restarts.
		check "...answers from more than one instance ($(json_get "$res" ids | wc -w) of 6)" test "$(json_get "$res" ids | wc -w)" -ge 2
		kill -TERM "$(cat "$T/k$kind.pid")"
		wait_exit "k$kind" 10
	done
fi

# --- another ABI from an x86-64 program -----------------------------------
# A sanitizer's own SIGSEGV handler would turn the fault into its report
# and exit 1: the fault is to kill the probe, as it would any program.
# (A shell of its own reports the fault, and to /dev/null.)
ASAN_OPTIONS="${ASAN_OPTIONS:-}:handle_segv=0" TSAN_OPTIONS="${TSAN_OPTIONS:-}:handle_segv=0" \
	UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:handle_segv=0" bash -c '"$@"; exit $?' probe "$ABI" int80-bind "$(free_port)" >/dev/null 2>&1
if [ $? = $((128 + 11)) ]; then
	# The kernel faults the instruction itself: nothing reaches a filter,
	# and nothing escapes one. (run's i386 refusal is checked above.)
	ok "# SKIP int \$0x80 and socketcall: this kernel faults int \$0x80 (no IA32 emulation)"
	NOINT80=yes
else
	NOINT80=
fi
P=$(free_port) Q=$(free_port)
rules "$T/abi.conf" "log = { level = \"actions\"; };
rules = ( { match = { op = \"bind\"; port = $P; }; deny = \"EACCES\"; },
          { match = { op = \"bind\"; port = $Q; }; rewrite = \"127.0.0.1:$P\"; },
          { match = { op = \"connect\"; port = $H; }; deny = \"ECONNREFUSED\"; } );"
if [ -z "$NOINT80" ]; then
	for mode in int80-bind socketcall-bind; do
		check "$mode: without libreuse it binds" grep -q "^bind 0" <("$ABI" "$mode" "$(free_port)")
		out=$("$CLI" run --seccomp -c "$T/abi.conf" -- "$ABI" "$mode" "$P" 2>"$T/$mode.err")
		check "$mode: denied under the supervisor (EACCES)" test "$out" = "bind -1 EACCES"
		check "...and the deny said" grep -q "abicalls: bind tcp 127.0.0.1:$P: deny EACCES; rule 1" "$T/$mode.err"
		check "$mode: rewritten ($Q -> $P)" grep -q "^bound 127.0.0.1 $P$" <("$CLI" run --seccomp -c "$T/abi.conf" -- "$ABI" "$mode" "$Q" 2>/dev/null)
	done
	for mode in int80-connect socketcall-connect; do
		check "$mode: without libreuse it connects" grep -q "^connect 0" <("$ABI" "$mode" "$H")
		check "$mode: denied under the supervisor" test "$("$CLI" run --seccomp -c "$T/abi.conf" -- "$ABI" "$mode" "$H" 2>/dev/null)" = "connect -1 ECONNREFUSED"
	done
	out=$("$CLI" run --seccomp --log all -- "$ABI" socketcall-setsockopt "$(free_port)" 2>"$T/sso.err")
	check "socketcall(SYS_SETSOCKOPT): done, and recorded as the program's" \
		grep -q "SO_REUSEADDR by program" "$T/sso.err"
	check "...the program sees its option set" grep -q "^SO_REUSEADDR 1" <<<"$out"
	out=$("$CLI" run --seccomp -c "$T/abi.conf" -- "$ABI" socketcall-unreadable "$P" 2>"$T/unread.err")
	check "a socketcall whose arguments cannot be read: refused with ENOSYS ($out)" test "$out" = "bind -1 ENOSYS"
	check "...and said, not let pass" grep -q "syscall: refused with ENOSYS: socketcall(2) whose arguments at 0x1000 cannot be read" "$T/unread.err"
fi
plain=$("$ABI" x32-bind "$(free_port)")
out=$("$CLI" run --seccomp -c "$T/abi.conf" -- "$ABI" x32-bind "$P" 2>/dev/null)
if [ "$plain" = "bind -1 ENOSYS" ]; then
	check "x32: this kernel runs no x32 call; under the supervisor the deny port gets the kernel's ENOSYS, nothing bound" \
		test "$out" = "bind -1 ENOSYS"
else
	check "x32: an x32 bind is denied like any other" test "$out" = "bind -1 EACCES"
fi

# --- Go, GOARCH=386: socketcall ------------------------------------------
if [ -n "$NO32" ]; then
	ok "# SKIP Go GOARCH=386: $NO32"
else
	GO386=$HELPERS/goserver386
	P=$(free_port)
	bg goa "$CLI" run --reuseport -- "$GO386" -port "$P" -id a
	bg gob "$CLI" run --reuseport -- "$GO386" -port "$P" -id b
	wait_for "$T/goa.out" "READY|BINDERR" && wait_for "$T/gob.out" "READY|BINDERR"
	check "Go 386: two copies share port $P under --reuseport" \
		test "$(cat "$T/goa.out" "$T/gob.out" | grep -c "READY 127.0.0.1 $P")" = 2
	answers=$(for _ in $(seq 40); do tcp_get 127.0.0.1 "$P"; done | awk '{ print $1 }' | sort -u | tr '\n' ' ')
	check "...both answer ($answers)" test "$answers" = "a b "
	kill -TERM "$(cat "$T/goa.pid")" "$(cat "$T/gob.pid")"
	wait_exit goa 10
	wait_exit gob 10
	P=$(free_port)
	bg gok "$CLI" run --keep -- "$GO386" -port "$P"
	wait_for "$T/gok.out" READY || not_ok "Go 386 under the keeper did not start" "$(tail -3 "$T/gok.err")"
	load_start lgo "$P"
	sleep 0.3
	restarts gok HUP 5 || not_ok "Go 386: a restart was not carried out" "$(tail -5 "$T/gok.err")"
	sleep 0.3
	res=$(load_stop lgo)
	echo "# keep Go 386: $(echo "$res" | cut -c1-120)"
	check "Go 386 under --keep: 5 restarts under load, none refused, none reset" \
		test "$(json_get "$res" refused)$(json_get "$res" reset)" = 00 -a "$(json_get "$res" ok)" -gt 100
	check "...answers from more than one instance ($(json_get "$res" ids | wc -w) of 6)" test "$(json_get "$res" ids | wc -w)" -ge 2
	kill -TERM "$(cat "$T/gok.pid")"
	wait_exit gok 10
fi

# --- io_uring ------------------------------------------------------------
URING=$HELPERS/uringprobe
rules "$T/uring.conf" 'log = { level = "actions"; };'
out=$("$CLI" run --seccomp -c "$T/uring.conf" -- sh -c "\"$URING\" $H; \"$URING\" $H" 2>"$T/uring.err")
check "io_uring allowed: the ring connects ($(echo $out))" test "$(grep -c '^ring ok 127.0.0.1 ' <<<"$out")" = 2
check "...said once per process at level actions (2 processes, 2 lines)" \
	test "$(grep -c 'io_uring_setup: passed (said once per process): socket operations submitted through the ring' "$T/uring.err")" = 2
rules "$T/refuse.conf" "log = { level = \"actions\"; };
io_uring = \"refuse\";
rules = ( { match = { op = \"connect\"; port = $H; }; source = \"127.0.0.2\"; } );"
out=$("$CLI" run --seccomp -c "$T/refuse.conf" -- "$URING" "$H" 2>"$T/refuse.err")
check "io_uring = \"refuse\": io_uring_setup fails with ENOSYS" grep -q "^ring -1 ENOSYS" <<<"$out"
check "...the program falls back to connect, and the source rule applies to it" grep -q "^fallback ok 127.0.0.2 " <<<"$out"
check "...the refusal said" grep -q "uringprobe: io_uring_setup: refused with ENOSYS (io_uring = \"refuse\")" "$T/refuse.err"
out=$("$CLI" run --no-io-uring -- "$URING" "$H" 2>"$T/nour.err")
check "run --no-io-uring: a dynamic program goes under the supervisor, said, and falls back" \
	test -n "$(grep '^fallback ok 127.0.0.1 ' <<<"$out")" -a -n "$(grep -- '--no-io-uring: applying the rules from outside' "$T/nour.err")"
out=$("$CLI" run --preload -c "$T/refuse.conf" -- "$URING" "$H" 2>"$T/pre.err")
check "under the library, io_uring = \"refuse\" is said not to be carried out" \
	grep -q 'io_uring = "refuse" is not carried out here' "$T/pre.err"
check "...and the ring still works there" grep -q "^ring ok " <<<"$out"
check "libreuse check shows io_uring" grep -qx 'io_uring = "refuse";' <("$CLI" check "$T/refuse.conf")

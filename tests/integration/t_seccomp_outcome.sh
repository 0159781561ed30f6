#!/usr/bin/env bash
# Under the seccomp supervisor a bind or connect no rule changes is made by
# the program itself, in its own thread (CONTINUE): the kernel sees the call
# it would see without libreuse — here its CPU, which a reuseport group
# steering by CPU goes by. The supervisor learns the outcome afterwards and
# the audit says it as before: success, EADDRINUSE with holder and reason,
# a non-blocking connect under way, a refused one. A call a rule changes is
# still made on the program's behalf. And --log-file takes /dev/null and a
# FIFO, with or without a reader, under the library and the supervisor.
. "$(dirname "$0")/../lib.sh"
seccomp_or_skip

q() { "${LOGQ[@]}" "$@"; }

# SO_INCOMING_CPU of the accepted socket: the CPU the connect's handshake
# ran on. The supervisor on CPU 0, the program on CPU 1.
INCPU='import socket as S
l = S.socket(); l.bind(("127.0.0.1", 0)); l.listen()
c = S.socket(); c.connect(l.getsockname())
a, _ = l.accept()
print("CPU", a.getsockopt(S.SOL_SOCKET, 49), "PORT", l.getsockname()[1])'
if [ "$(nproc)" -lt 2 ]; then
	ok "# SKIP SO_INCOMING_CPU: this machine has one CPU"
elif ! base=$(taskset -c 1 "$PY" -c "$INCPU" 2>&1) || [ "${base#CPU 1 }" = "$base" ]; then
	ok "# SKIP SO_INCOMING_CPU: without libreuse a connect from CPU 1 is not seen on CPU 1 here ($base)"
else
	rules "$T/cpu.conf" "log = { level = \"all\"; format = \"json\"; target = \"$T/cpu.log\"; }; rules = ();"
	out=$(taskset -c 0 "$CLI" run --seccomp -c "$T/cpu.conf" -- taskset -c 1 "$PY" -c "$INCPU" 2>&1)
	check "SO_INCOMING_CPU: the connect ran on the program's CPU, 1, not the supervisor's, 0 ($out)" \
		grep -q "^CPU 1 PORT" <<<"$out"
	port=$(awk '/^CPU/ { print $4 }' <<<"$out")
	check "...and the audit still has the connect to :$port, result 0" \
		test "$(q "$T/cpu.log" event=call op=connect port="${port:-0}" result=0 --count)" = 1
	# Trapped for a connect rule that does not concern this connect.
	rules "$T/cpurule.conf" "rules = ( { match = { op = \"connect\"; port = 1; }; deny = \"ECONNREFUSED\"; } );"
	out=$(taskset -c 0 "$CLI" run --seccomp -c "$T/cpurule.conf" -- taskset -c 1 "$PY" -c "$INCPU" 2>&1)
	check "SO_INCOMING_CPU under a connect rule for another port: 1 ($out)" grep -q "^CPU 1 PORT" <<<"$out"
fi

# The outcomes of calls no rule changes, at level all.
H=$(free_port)
bg holder "${SERVER[@]}" --port "$H"
wait_for "$T/holder.out" READY
P=$(free_port)
D=$(free_port)
rules "$T/out.conf" "log = { level = \"all\"; format = \"json\"; target = \"$T/out.log\"; }; rules = ();"
"$CLI" run --seccomp -c "$T/out.conf" -- "$PY" -c "
import socket
s = socket.socket(); s.bind(('127.0.0.1', $P)); s.listen()
t = socket.socket()
try:
    t.bind(('127.0.0.1', $H)); print('BOUND')
except OSError as e:
    print('BIND', e.errno)
c = socket.socket(); c.connect(('127.0.0.1', $P)); print('CONNECTED')
n = socket.socket(); n.setblocking(False)
print('NONBLOCKING', n.connect_ex(('127.0.0.1', $P)))
r = socket.socket()
print('REFUSED', r.connect_ex(('127.0.0.1', $D)))
" >"$T/out.out" 2>"$T/out.err"
check "the program saw what the kernel says: EADDRINUSE, connected, EINPROGRESS, ECONNREFUSED" \
	test "$(tr '\n' ' ' <"$T/out.out")" = "BIND 98 CONNECTED NONBLOCKING 115 REFUSED 111 "
check "bind no rule changes: logged, result 0" \
	test "$(q "$T/out.log" event=call op=bind port="$P" result=0 --count)" = 1
check "bind that met EADDRINUSE: one conflict line" \
	test "$(q "$T/out.log" event=conflict op=bind port="$H" errno=EADDRINUSE --count)" = 1
check "...naming the holder" \
	grep -q "\"pid\": $(cat "$T/holder.pid"), \"program\": \"python3\", \"state\": \"LISTEN\"" \
	<(q "$T/out.log" event=conflict op=bind port="$H" --get holders)
check "...and why" grep -q "is listening on it" <(q "$T/out.log" event=conflict op=bind port="$H" --get reason)
check "connect: the blocking one logged, result 0" \
	test "$(q "$T/out.log" event=call op=connect port="$P" result=0 --count)" = 1
check "connect: the non-blocking one logged as under way (EINPROGRESS)" \
	test "$(q "$T/out.log" event=call op=connect port="$P" result=-1 errno=EINPROGRESS --count)" = 1
check "connect: the refused one logged as failed (its errno the program's alone)" \
	test "$(q "$T/out.log" event=call op=connect port="$D" result=-1 --count)" = 1
check "...and nothing went to stderr" test ! -s "$T/out.err"

# The default level: the conflict line, in text, with holder and reason.
rules "$T/empty.conf" "rules = ();"
out=$("$CLI" run --seccomp -c "$T/empty.conf" -- "$PY" -c "
import socket
try:
    socket.socket().bind(('127.0.0.1', $H))
except OSError as e:
    print('BIND', e.errno)" 2>&1)
check "default level: the program's own failed bind is said, holder and reason" \
	grep -qE "python3: bind tcp 127\.0\.0\.1:$H failed: EADDRINUSE \(Address already in use\); reuse: none; held by: pid $(cat "$T/holder.pid") \(python3\) LISTEN 127\.0\.0\.1:$H uid $(id -u); why: .+" <<<"$out"
check "default level: ...and a bind that succeeds says nothing" \
	test "$(grep -c libreuse <<<"$("$CLI" run --seccomp -c "$T/empty.conf" -- "$PY" -c "import socket; socket.socket().bind(('127.0.0.1', 0))" 2>&1)")" = 0

# A call a rule changes is still made on the program's behalf.
R=$(free_port)
out=$("$CLI" run --seccomp --bind "127.0.0.1:$R" --log actions -- "$PY" -c "
import socket
s = socket.socket(); s.bind(('127.0.0.1', $P)); print('AT', s.getsockname()[1])" 2>&1)
check "a rewritten bind is still rewritten ($P -> $R)" grep -q "^AT $R$" <<<"$out"
check "...and said so" grep -q "python3: bind tcp 127\.0\.0\.1:$P -> 127\.0\.0\.1:$R: rewrite" <<<"$out"
rules "$T/dry.conf" "log = { level = \"all\"; };
rules = ( { match = { port = $P; }; rewrite = \":$R\"; dry_run = true; } );"
out=$("$CLI" run --seccomp -c "$T/dry.conf" -- "$PY" -c "
import socket
s = socket.socket(); s.bind(('127.0.0.1', $P)); print('AT', s.getsockname()[1])" 2>&1)
check "a dry-run rule changes nothing: the program binds $P itself" grep -q "^AT $P$" <<<"$out"
check "...saying what it would have done, and the outcome" \
	test -n "$(grep "bind tcp 127\.0\.0\.1:$P -> 127\.0\.0\.1:$R: would rewrite" <<<"$out")" \
	-a -n "$(grep "bind tcp 127\.0\.0\.1:$P ok; reuse: none; rule 1" <<<"$out")"

# --log-file: /dev/null, a FIFO with a reader, a FIFO without one.
BIND1="import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print('RAN')"
MANY="import socket
for i in range(3000):
    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.close()
print('RAN')"
for front in preload seccomp; do
	out=$(timeout 20 "$CLI" run --$front --log all --log-file /dev/null -- "$PY" -c "$BIND1" 2>&1)
	check "$front: --log-file /dev/null is taken, and the program runs" test "$out" = RAN
	mkfifo "$T/fifo.$front"
	timeout 20 cat "$T/fifo.$front" >"$T/fifo.$front.got" &
	out=$(timeout 20 "$CLI" run --$front --log all --log-file "$T/fifo.$front" -- "$PY" -c "$BIND1" 2>&1)
	wait $!
	check "$front: --log-file FIFO with a reader: the program runs" test "$out" = RAN
	check "$front: ...and the reader gets the bind's line" grep -q "python3: bind tcp 127\.0\.0\.1:0 ok" "$T/fifo.$front.got"
	rm -f "$T/fifo.$front" && mkfifo "$T/fifo.$front"
	start=$(date +%s)
	out=$(timeout 20 "$CLI" run --$front --log all --log-file "$T/fifo.$front" -- "$PY" -c "$MANY" 2>&1)
	rc=$?
	check "$front: --log-file FIFO without a reader: 3,000 lines never block the program (exit $rc, $(($(date +%s) - start)) s)" \
		test "$rc" = 0 -a "$(head -1 <<<"$out")" = RAN
	check "$front: ...what the pipe could not take is counted, and said on stderr" \
		grep -qE "summary: .* [1-9][0-9]* lines dropped" <<<"$out"
done

# What a trapped call costs the supervisor, in system calls (issue 27's
# counts; times are for make bench, never asserted). A bind no rule
# concerns, where no line can be due: the notification, the address copied,
# the answer — 3. A reuse option no rule makes anything of: the same, and
# the socket's inode read from /proc for its record — 4. At the default
# level (conflicts) a bind's outcome is learnt, for the line a conflict
# would need: a duplicate of the socket, one look at it, its close — 6. A
# rewritten bind: the notification, the copy, the duplicate, the check
# that the call still waits, the socket's inode and kind, the bind, the
# answer, the close — 9.
# syscalls_per_cycle NAME LEVEL REUSE [RUN ARGS...]: the supervisor's system
# calls that succeeded over 2,000 cycles of a program it serves (bindloop:
# socket, [SO_REUSEADDR,] bind 127.0.0.1:0, close), counted by strace -c on
# it, divided by 2,000.
syscalls_per_cycle() {
	local name=$1 level=$2 reuse=$3 n=2000 go=$T/go.$1
	shift 3
	"$CLI" run --seccomp --log "$level" "$@" -- "$HELPERS/bindloop" "$n" "$go" $reuse >"$T/loop.$name.out" 2>/dev/null &
	local run=$!
	PIDS+=("$run")
	sleep 0.3
	timeout 60 strace -f -c -p "$run" -o "$T/strace.$name" 2>"$T/strace.$name.err" &
	local st=$!
	wait_for "$T/strace.$name.err" "attached" 5 && sleep 0.2
	touch "$go"
	wait "$run"
	sleep 0.1
	kill -INT "$st" 2>/dev/null
	wait "$st"
	grep -q "^bound $n$" "$T/loop.$name.out" || return 1
	# Calls that failed are left out: under strace the kernel interrupts
	# the supervisor's waiting NOTIF_RECV (EINTR), now and then thousands
	# of times; without a tracer it does not.
	awk -v n="$n" '$NF == "total" { printf "%.2f\n", ($4 - (NF == 6 ? $5 : 0)) / n }' "$T/strace.$name"
}
at_most() { awk -v p="${1:-99}" -v m="$2" 'BEGIN { exit !(p <= m) }'; }
if ! command -v strace >/dev/null; then
	ok "# SKIP system calls per trap: strace is not installed"
else
	per=$(syscalls_per_cycle errors errors "")
	if [ -z "$per" ] && grep -qi "operation not permitted" "$T/strace.errors.err"; then
		ok "# SKIP system calls per trap: strace may not attach here ($(head -1 "$T/strace.errors.err"))"
	else
		check "a trapped bind no rule concerns, no line due: at most 3 supervisor system calls ($per)" \
			at_most "$per" 3.05
		per=$(syscalls_per_cycle reuse errors reuse)
		check "...and SO_REUSEADDR before it, which no rule makes anything of: at most 4 more ($per a cycle, at most 7)" \
			at_most "$per" 7.1
		per=$(syscalls_per_cycle conflicts conflicts "")
		check "a bind no rule concerns at the default level, its outcome learnt: at most 6 ($per)" \
			at_most "$per" 6.3
		per=$(syscalls_per_cycle rewrite errors "" --bind 127.0.0.2:0)
		check "a rewritten bind: at most 9 ($per)" at_most "$per" 9.1
	fi
fi

#!/usr/bin/env bash
# The keeper's edges: a kept listener's shutdown() is not passed on; a
# kept socket that cannot be taken is said why, and the restart fails with
# the old instance serving on; exit statuses and signals pass through; no
# keeper, or a keeper gone, leaves the program running as without keep.
. "$(dirname "$0")/../lib.sh"

# A server that shuts its listener down when told to stop, as some do to
# wake their accepting threads.
cat >"$T/shutter.py" <<'PYEOF'
import signal, socket, sys, os
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
print("READY", os.getpid(), flush=True)
def stop(*_):
    s.shutdown(socket.SHUT_RDWR)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
while True:
    c, _ = s.accept()
    c.sendall(f"{os.getpid()}\n".encode())
    c.close()
PYEOF
P=$(free_port)
bg shut "$CLI" run --keep --log actions -- "$PY" "$T/shutter.py" "$P"
wait_for "$T/shut.out" READY
first=$(tcp_get 127.0.0.1 "$P")
kill -HUP "$(cat "$T/shut.pid")"
wait_for "$T/shut.err" "took 1 kept socket"
check "shutdown: the old instance's shutdown() of the kept listener is not passed on" \
	wait_for "$T/shut.err" "shutdown tcp 127\.0\.0\.1:$P: shutdown ignored a kept socket"
wait_count_exact 1 "^$PY $T/shutter.py" 5
second=$(tcp_get 127.0.0.1 "$P")
check "shutdown: ...the new instance serves on the same listener ($first -> $second)" \
	test -n "$second" -a "$second" != "$first"
kill -TERM "$(cat "$T/shut.pid")"
wait_exit shut 10
check "shutdown: the exit summaries count what was kept, then adopted" \
	grep -qE "summary: .*1 kept sockets, 0 adoptions.*" "$T/shut.err"
check "shutdown: ...then adopted" grep -qE "summary: .*0 kept sockets, 1 adoptions" "$T/shut.err"

# A kept socket that cannot be taken: the first instance listens on [::]
# (dual-stack), the next asks for 0.0.0.0 of the same port.
P=$(free_port)
echo "--family 6 --addr :: --port $P" >"$T/args"
bg v6 "$CLI" run --keep --ready-timeout 5 -- sh -c "exec \"\$0\" \"\$1\" \$(cat $T/args)" "$PY" "$ROOT/tests/helpers/server.py"
wait_for "$T/v6.out" READY
echo "--family 4 --addr 0.0.0.0 --port $P" >"$T/args"
kill -HUP "$(cat "$T/v6.pid")"
check "not taken: the new instance is told why, in one line" \
	wait_for "$T/v6.err" "bind tcp 0\.0\.0\.0:$P: keep not taken: the kept socket tcp \[::\]:$P \(dual-stack\) is not the one asked for \(tcp 0\.0\.0\.0:$P\)"
check "not taken: ...its bind goes on as without keep (and meets the kept socket)" wait_for "$T/v6.out" "BINDERR 98"
check "not taken: the keeper says the restart failed and the old instance serves on" \
	wait_for "$T/v6.err" "restart failed: pid [0-9]+ \(generation 2\) exited \(status 3\) before taking its sockets; the old instance serves on"
check "not taken: ...and it does" test -n "$(tcp_get '[::1]' "$P")"
kill -TERM "$(cat "$T/v6.pid")"
wait_exit v6 10

# A peer that connects to the keeper and says nothing holds it up for a
# second at most: the restart behind it still happens.
P=$(free_port)
bg silent "$CLI" run --keep -- "${SERVER[@]}" --port "$P"
wait_for "$T/silent.out" READY
inst=$(pgrep -P "$(cat "$T/silent.pid")")
name=$(tr '\0' '\n' <"/proc/$inst/environ" | sed -n 's/^LIBREUSE_KEEPER=//p')
bg mute "$PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect("\0" + sys.argv[1])
t = time.monotonic()
print("CONNECTED", flush=True)
s.settimeout(10)
s.recv(1)
print("CLOSED %.1f" % (time.monotonic() - t), flush=True)' "$name"
wait_for "$T/mute.out" CONNECTED
kill -HUP "$(cat "$T/silent.pid")"
check "silent peer: the keeper hangs up on it within about a second" wait_for "$T/mute.out" "CLOSED [0-2]\." 5
check "silent peer: ...and the restart behind it is carried out" wait_for "$T/silent.err" "took 1 kept socket" 5
kill -TERM "$(cat "$T/silent.pid")"
wait_exit silent 10

# Statuses and signals pass through.
"$CLI" run --keep -- sh -c 'exit 7' 2>/dev/null
check "the program's exit status is the keeper's (7)" test $? = 7
"$CLI" run --keep -- "$T/no-such-program" 2>"$T/nx.err"
check "a program that cannot be run: 127" test $? = 127
check "...said so" grep -q "cannot run $T/no-such-program" "$T/nx.err"
P=$(free_port)
bg usr "$CLI" run --keep -- "${SERVER[@]}" --port "$P"
wait_for "$T/usr.out" READY
kill -USR1 "$(cat "$T/usr.pid")"
wait_exit usr 5
wait "$(cat "$T/usr.pid")"
check "SIGUSR1 goes to the program (which dies of it): the keeper exits 128+10" test $? = 138
"$CLI" run --respawn -- true 2>/dev/null
check "--respawn without --keep is a usage error" test $? = 2
"$CLI" run --keep --restart-signal TERM -- true 2>/dev/null
check "--restart-signal TERM is refused (TERM stops the keeper)" test $? = 2

# No keeper: one line per process, and the binds go on.
cat >"$T/two.py" <<'PYEOF'
import socket, sys
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", int(sys.argv[1]))); b.bind(("127.0.0.1", int(sys.argv[2])))
a.listen(1); b.listen(1)
print("BOUND")
PYEOF
LIBREUSE_RULES='keep = true;' LD_PRELOAD=$(preload) "$PY" "$T/two.py" "$(free_port)" "$(free_port)" >"$T/two.out" 2>"$T/two.err"
check "no keeper: the program binds and listens as without keep" grep -q BOUND "$T/two.out"
check "no keeper: ...told once for its two listeners" \
	test "$(grep -c 'keep not possible: no keeper' "$T/two.err")" = 1

# The keeper gone: the instance runs on with the socket it holds.
P=$(free_port)
bg gone "$CLI" run --keep -- "${SERVER[@]}" --port "$P"
wait_for "$T/gone.out" READY
inst=$(pgrep -P "$(cat "$T/gone.pid")")
kill -KILL "$(cat "$T/gone.pid")"
wait "$(cat "$T/gone.pid")" 2>/dev/null
check "keeper killed: the instance answers on" test -n "$(tcp_get 127.0.0.1 "$P")"
kill -TERM "$inst"

# libreuse check shows keep as understood.
rules "$T/keep.conf" 'keep = true;
rules = ( { match = { port = 80; }; keep = "web"; }, { match = { port = 81; }; keep = true; } );'
"$CLI" check "$T/keep.conf" >"$T/check.out" 2>&1
check "check: a named keep" grep -q 'port = 80; }; keep = "web";' "$T/check.out"
check "check: keep = true" grep -q 'port = 81; }; keep = true;' "$T/check.out"
check "check: the top-level keep" grep -qx 'keep = true;' "$T/check.out"

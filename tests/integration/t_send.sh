#!/usr/bin/env bash
# Unconnected UDP senders (op = "send"): a socket the program never binds,
# datagrams sent with sendto, sendmsg or sendmmsg. The rule's source is bound
# before the kernel's implicit bind, and the receiver sees that port.
. "$(dirname "$0")/../lib.sh"
CLI=$BUILD/libreuse
PROBE=$HELPERS/sendprobe

# A receiver that writes "FROM-PORT DATA" for every datagram, until idle.
cat >"$T/recv.py" <<'PYEOF'
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("READY", flush=True)
s.settimeout(float(sys.argv[3]) if len(sys.argv) > 3 else 3)
try:
    while True:
        d, a = s.recvfrom(2048)
        print(a[1], d.decode(), flush=True)
except socket.timeout:
    pass
PYEOF
# recv NAME ADDR PORT [IDLE]: the previous receiver is stopped first (one
# port for them all).
LAST=
recv() {
	if [ -n "$LAST" ]; then
		kill "$(cat "$T/$LAST.pid")" 2>/dev/null
		wait_exit "$LAST"
	fi
	LAST=$1
	bg "$1" "$PY" "$T/recv.py" "$2" "$3" "${4:-3}"
	wait_for "$T/$1.out" READY
}

P=$(free_port)
S=$(free_port)
rules "$T/send.conf" "log = { level = \"actions\"; };
rules = (
  { match = { op = \"send\"; port = $P; }; source = \":$S\"; reuseaddr = true; reuseport = true; }
);"

check "libreuse check says sendto, sendmsg and sendmmsg are trapped under the supervisor" \
	grep -q 'sendto, sendmsg and sendmmsg are trapped' <("$CLI" check "$T/send.conf")
rules "$T/connect.conf" "rules = ( { match = { op = \"connect\"; port = $P; }; source = \":$S\"; } );"
check "...and says nothing of them when no rule has op = \"send\"" \
	test -z "$("$CLI" check "$T/connect.conf" | grep -i sendto)"

# Without libreuse the kernel picks the port.
recv r0 127.0.0.1 "$P" 1
echo plain | socat -u - "UDP-SENDTO:127.0.0.1:$P"
wait_for "$T/r0.out" "plain"
check "without libreuse socat's datagram comes from a port the kernel picks, not $S" \
	bash -c "grep plain '$T/r0.out' | grep -vq '^$S '"

# socat's UDP-SENDTO: an unconnected socket, sendto.
recv r1 127.0.0.1 "$P"
echo hello | shim "$T/send.conf" socat -u - "UDP-SENDTO:127.0.0.1:$P" 2>"$T/socat.err"
wait_for "$T/r1.out" "hello"
check "socat UDP-SENDTO under libreuse: the receiver sees source port $S" grep -q "^$S hello" "$T/r1.out"
check "...and the source bind is logged before the send" \
	grep -q "socat: bind udp 0.0.0.0:$S: source before send; rule 1" "$T/socat.err"

# Python's sendto, three datagrams: every one from the port, one line.
recv r2 127.0.0.1 "$P"
shim "$T/send.conf" "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3):
    s.sendto(b'py%d' % i, ('127.0.0.1', $P))
" 2>"$T/py.err"
wait_for "$T/r2.out" "py2"
check "python sendto: all 3 datagrams came from port $S" test "$(grep -c "^$S py" "$T/r2.out")" = 3
check "...one source bind for the socket, not one per datagram" \
	test "$(grep -c 'source before send' "$T/py.err")" = 1

# sendmsg and sendmmsg (the first message's destination), IPv4 and IPv6.
for how in sendmsg sendmmsg; do
	recv "r_$how" 127.0.0.1 "$P"
	shim "$T/send.conf" "$PROBE" -m "$how" -n 3 127.0.0.1 "$P" >"$T/p_$how.out" 2>&1
	wait_for "$T/r_$how.out" "$how 3"
	check "$how: the program's socket got port $S" grep -q "^from $S$" "$T/p_$how.out"
	check "...and the receiver saw 3 datagrams from it" test "$(grep -c "^$S $how" "$T/r_$how.out")" = 3
done
recv r6 ::1 "$P"
shim "$T/send.conf" "$PROBE" -6 -m sendto -n 2 ::1 "$P" >"$T/p6.out" 2>"$T/p6.err"
wait_for "$T/r6.out" "sendto 2"
check "IPv6: a sendto to [::1]:$P comes from port $S" test "$(grep -c "^$S sendto" "$T/r6.out")" = 2

# The audit at level "all": the first send per socket, never every datagram.
rules "$T/audit.conf" "log = { level = \"all\"; };
rules = ( { match = { op = \"send\"; port = $P; }; } );"
recv r7 127.0.0.1 "$P"
shim "$T/audit.conf" "$PROBE" -m sendto -n 5 127.0.0.1 "$P" >/dev/null 2>"$T/audit.err"
wait_for "$T/r7.out" "sendto 5"
check "level all: one send line for 5 datagrams ($(grep -m1 'send udp' "$T/audit.err"))" \
	test "$(grep -c "send udp 127.0.0.1:$P ok" "$T/audit.err")" = 1

# The audit at level "all", no send rule: the first send per socket AND
# destination. One socket sends 2 datagrams to each of 3 destinations; once
# closed, a socket at the same fd (sendmsg this time) sends to 2 of them.
cat >"$T/mrecv.py" <<'PYEOF'
import select, socket, sys
socks = []
for p in sys.argv[1:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", int(p)))
    socks.append(s)
print("READY", flush=True)
while True:
    r, _, _ = select.select(socks, [], [], 3)
    if not r:
        break
    for s in r:
        d, a = s.recvfrom(2048)
        print(s.getsockname()[1], d.decode(), flush=True)
PYEOF
cat >"$T/dests.py" <<'PYEOF'
import socket, sys
ports = [int(p) for p in sys.argv[2:]]
rounds = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fd = s.fileno()
for r in range(rounds):
    for p in ports:
        s.sendto(b"one%d" % r, ("127.0.0.1", p))
s.close()
if rounds == 2 and len(ports) == 3:
    t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    print("same fd" if t.fileno() == fd else "fd %d, not %d" % (t.fileno(), fd), flush=True)
    for r in range(2):
        for p in ports[:2]:
            t.sendmsg([b"two%d" % r], [], 0, ("127.0.0.1", p))
PYEOF
D1=$(free_port); D2=$(free_port); D3=$(free_port)
rules "$T/all.conf" 'log = { level = "all"; };
rules = ( );'
mrecv() {
	local name=$1
	shift
	bg "$name" "$PY" "$T/mrecv.py" "$@"
	wait_for "$T/$name.out" READY
}
mrecv m1 "$D1" "$D2" "$D3"
shim "$T/all.conf" "$PY" "$T/dests.py" 2 "$D1" "$D2" "$D3" >"$T/d.out" 2>"$T/d.err"
wait_for "$T/m1.out" "^$D2 two1"
check "3 destinations, 2 datagrams each: the receivers got all 6, then the second socket's 4" \
	test "$(grep -c " one" "$T/m1.out")/$(grep -c " two" "$T/m1.out")" = 6/4
check "the second socket got the first one's fd ($(cat "$T/d.out"))" grep -qx "same fd" "$T/d.out"
sends() { grep -c "send udp 127.0.0.1:$1 ok" "$T/d.err"; }
check "level all, no send rule: one send line per socket and destination ($D1: $(sends "$D1"), $D2: $(sends "$D2"), $D3: $(sends "$D3"); 2, 2, 1 wanted)" \
	test "$(sends "$D1")/$(sends "$D2")/$(sends "$D3")" = 2/2/1
check "...5 send lines in all, not 10 (one per datagram) and not 2 (one per socket)" \
	test "$(grep -c "send udp" "$T/d.err")" = 5
check "...a later destination's line says so" grep -q "send udp 127.0.0.1:$D2 ok.*a new destination" "$T/d.err"
# The audit groups them by destination.
mrecv m2 "$D1" "$D2" "$D3"
timeout 30 "$CLI" audit -- "$PY" "$T/dests.py" 2 "$D1" "$D2" "$D3" >"$T/audit.out" 2>&1
wait_for "$T/m2.out" "^$D2 two1"
dest_line() { grep -E "^ +udp 127\.0\.0\.1:$1 +$2x, $2 ok" "$T/audit.out"; }
check "libreuse audit shows the 3 destinations: $(grep -c "udp 127.0.0.1:" "$T/audit.out") lines" \
	bash -c "$(declare -f dest_line); T='$T'; dest_line $D1 2 && dest_line $D2 2 && dest_line $D3 1"
check "...under its sends" grep -q "^  sends (unconnected UDP" "$T/audit.out"
timeout 30 "$CLI" audit --json -- "$PY" "$T/dests.py" 2 "$D1" "$D2" "$D3" >"$T/audit.json" 2>/dev/null
check "...and --json lists them under sends" test "$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(sorted((x["port"], x["count"]) for x in d["programs"][0]["sends"]))' "$T/audit.json")" = \
	"$("$PY" -c 'import sys; print(sorted([(int(sys.argv[1]), 2), (int(sys.argv[2]), 2), (int(sys.argv[3]), 1)]))' "$D1" "$D2" "$D3")"
# Past the destinations a socket remembers (4): 5 in turn, twice. Each is
# said again rather than never.
D4=$(free_port); D5=$(free_port)
mrecv m3 "$D1" "$D2" "$D3" "$D4" "$D5"
shim "$T/all.conf" "$PY" "$T/dests.py" 2 "$D1" "$D2" "$D3" "$D4" "$D5" 2>"$T/d5.err"
wait_for "$T/m3.out" "^$D5 one1"
check "5 destinations in turn, 10 datagrams: every destination said ($(grep -c "send udp" "$T/d5.err") lines, at most 10)" \
	bash -c "for d in $D1 $D2 $D3 $D4 $D5; do grep -q \"send udp 127.0.0.1:\$d ok\" '$T/d5.err' || exit 1; done; test \$(grep -c 'send udp' '$T/d5.err') -le 10"
# Below level all, nothing: the datagrams go the short way.
rules "$T/actions.conf" 'log = { level = "actions"; };
rules = ( );'
mrecv m4 "$D1" "$D2" "$D3"
shim "$T/actions.conf" "$PY" "$T/dests.py" 2 "$D1" "$D2" "$D3" >/dev/null 2>"$T/d6.err"
wait_for "$T/m4.out" "^$D2 two1"
check "at level actions no send line is said" test ! -s "$T/d6.err"
for m in m1 m2 m3 m4; do kill "$(cat "$T/$m.pid")" 2>/dev/null; done

# A destination no rule names: the kernel's port, nothing said.
Q=$(free_port)
recv r8 127.0.0.1 "$Q"
shim "$T/send.conf" "$PROBE" 127.0.0.1 "$Q" >"$T/p8.out" 2>"$T/p8.err"
wait_for "$T/r8.out" "sendto 1"
check "a destination no rule names keeps the kernel's source port" bash -c "! grep -q '^from $S$' '$T/p8.out'"
check "...and libreuse said nothing" test ! -s "$T/p8.err"

# deny: the program's send fails as the rule says, nothing goes out.
rules "$T/deny.conf" "rules = ( { match = { op = \"send\"; port = $P; }; deny = \"EACCES\"; } );"
recv r9 127.0.0.1 "$P" 1
shim "$T/deny.conf" "$PROBE" 127.0.0.1 "$P" >"$T/p9.out" 2>&1
check "deny: the send fails with EACCES" grep -q "^error EACCES" "$T/p9.out"
wait_exit r9 5
check "...and no datagram arrived" bash -c "! grep -q sendto '$T/r9.out'"

# Two senders pinned to one source port at once: shared under reuseport.
cat >"$T/hold.py" <<PYEOF
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(sys.argv[1].encode(), ("127.0.0.1", $P))
    print("sent", s.getsockname()[1], flush=True)
except OSError as e:
    print("error", e.errno, flush=True)
time.sleep(2)
PYEOF
S=$(free_port)
rules "$T/share.conf" "log = { level = \"conflicts\"; };
rules = ( { match = { op = \"send\"; port = $P; }; source = \"127.0.0.1:$S\"; reuseport = true; } );"
recv r10 127.0.0.1 "$P"
bg h1 shim "$T/share.conf" "$PY" "$T/hold.py" one
wait_for "$T/h1.out" "sent|error"
bg h2 shim "$T/share.conf" "$PY" "$T/hold.py" two
wait_for "$T/h2.out" "sent|error"
wait_for "$T/r10.out" "two"
check "reuseport: two live senders share source port $S" \
	bash -c "grep -q '^$S one' '$T/r10.out' && grep -q '^$S two' '$T/r10.out'"
kill "$(cat "$T/h1.pid")" "$(cat "$T/h2.pid")" 2>/dev/null
wait_exit h1; wait_exit h2

S=$(free_port)
rules "$T/noshare.conf" "log = { level = \"conflicts\"; };
rules = ( { match = { op = \"send\"; port = $P; }; source = \"127.0.0.1:$S\"; } );"
bg h3 shim "$T/noshare.conf" "$PY" "$T/hold.py" three
wait_for "$T/h3.out" "sent|error"
bg h4 shim "$T/noshare.conf" "$PY" "$T/hold.py" four
wait_for "$T/h4.out" "sent|error"
check "without reuseport the second sender's send fails (EADDRINUSE)" grep -q "^error 98" "$T/h4.out"
line=$(grep -m1 "bind udp 127.0.0.1:$S failed" "$T/h4.err")
check "...and the conflict is logged with its holder and reason: ${line:0:160}" \
	bash -c "grep -q 'held by: pid $(cat "$T/h3.pid")' <<<\"\$1\" && grep -q 'why: ' <<<\"\$1\"" _ "$line"
kill "$(cat "$T/h3.pid")" 2>/dev/null

# A static sender: the supervisor applies the same rule.
seccomp_or_skip
S=$(free_port)
rules "$T/static.conf" "log = { level = \"actions\"; };
rules = ( { match = { op = \"send\"; port = $P; }; source = \":$S\"; } );"
for how in sendto sendmsg sendmmsg; do
	recv "rs_$how" 127.0.0.1 "$P"
	timeout 20 "$CLI" run --seccomp -c "$T/static.conf" -- "$HELPERS/sendprobe-static" -m "$how" -n 2 \
		127.0.0.1 "$P" >"$T/s_$how.out" 2>"$T/s_$how.err"
	wait_for "$T/rs_$how.out" "$how 2"
	check "static $how under the supervisor: the receiver sees port $S" \
		test "$(grep -c "^$S $how" "$T/rs_$how.out")" = 2
done
check "...the supervisor said the source bind" grep -q "bind udp 0.0.0.0:$S: source before send" "$T/s_sendto.err"
timeout 20 "$CLI" run --seccomp -c "$T/deny.conf" -- "$HELPERS/sendprobe-static" -m sendmmsg 127.0.0.1 "$P" \
	>"$T/sd.out" 2>"$T/sd.err"
check "static sendmmsg under the supervisor, op = \"send\" deny: EACCES" grep -q "^error EACCES" "$T/sd.out"
# The port held by another socket: the static sender's first datagram fails
# as the source bind did, and the conflict names the holder.
bg holder "$PY" -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', $S))
print('READY', flush=True)
time.sleep(10)
"
wait_for "$T/holder.out" READY
timeout 20 "$CLI" run --seccomp -c "$T/static.conf" -- "$HELPERS/sendprobe-static" 127.0.0.1 "$P" \
	>"$T/sc.out" 2>"$T/sc.err"
check "static sender, source port $S held: its send fails with EADDRINUSE" grep -q "^error EADDRINUSE" "$T/sc.out"
check "...and the conflict line names the holder: $(grep -m1 -o 'held by: [^;]*' "$T/sc.err")" \
	grep -q "bind udp 0.0.0.0:$S failed: EADDRINUSE.*held by: pid $(cat "$T/holder.pid") (python3)" "$T/sc.err"
kill "$(cat "$T/holder.pid")" 2>/dev/null
if [ -x "$HELPERS/i386/sendprobe-static" ] && ! why=$(no_i386); then
	recv rs32 127.0.0.1 "$P"
	timeout 20 "$CLI" run --seccomp -c "$T/static.conf" -- "$HELPERS/i386/sendprobe-static" -m sendmsg -n 2 \
		127.0.0.1 "$P" >"$T/s32.out" 2>"$T/s32.err"
	wait_for "$T/rs32.out" "sendmsg 2"
	check "static i386 sendmsg (socketcall, a 32-bit msghdr) under the supervisor: port $S" \
		test "$(grep -c "^$S sendmsg" "$T/rs32.out")" = 2
else
	ok "# SKIP i386: ${why:-no i386 helper built}"
fi
rules "$T/nosend.conf" "rules = ( { match = { op = \"connect\"; port = $P; }; source = \":$S\"; } );"
strace_out=$T/strace.out
if command -v strace >/dev/null; then
	recv rs_n 127.0.0.1 "$P"
	timeout 20 "$CLI" run --seccomp -c "$T/nosend.conf" -- "$HELPERS/sendprobe-static" -n 2 127.0.0.1 "$P" \
		>"$T/sn.out" 2>&1
	wait_for "$T/rs_n.out" "sendto 2"
	check "no send rule: the static sender's datagrams go from the kernel's port" bash -c "! grep -q '^$S ' '$T/rs_n.out'"
fi

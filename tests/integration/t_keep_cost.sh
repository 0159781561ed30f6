#!/usr/bin/env bash
# What adopting a kept listener costs the new instance, in system calls
# (strace, between two getppid marks around its bind), and that it reads
# only the options the program set: the second instance sets TCP_NODELAY
# and TCP_KEEPIDLE before its bind, and the socket it is given has them,
# with one getsockopt and one setsockopt a set option and none for the
# twenty others a listener keeps; the third sets none. Issue 27's target is
# 12 calls a kept socket.
. "$(dirname "$0")/../lib.sh"

if ! command -v strace >/dev/null; then
	ok "# SKIP no strace"
	exit 0
fi
# The adoption, from the keeper asked to the close of the kept socket's
# own number: the keeper asked (socket, connect, sendmsg, poll, recvmsg: 5),
# the program's fd flags and file flags (2), each option the program set
# read and set (2 each), dup3, the shared file's flags as keptmode.c takes
# the listener (1), the keeper's board, which came along with the socket
# (its size, its mapping: 2, once a process), and one close_range for the
# connection, the kept number and the board (1). Was 14 and 18 (a timeout
# set each way, the kept socket's type and family asked, two closes), and
# the board then a request of its own after these (6 more, and a close).
BUDGET_NONE=12
BUDGET_TWO=16
cat >"$T/srv.py" <<'PYEOF'
import os, socket, sys
gen = os.environ.get("LIBREUSE_GENERATION", "?")
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if os.path.exists(sys.argv[2]):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 77)
os.getppid()
s.bind(("127.0.0.1", int(sys.argv[1])))
os.getppid()
s.listen(16)
print("READY", os.getpid(), s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
      s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE), flush=True)
while True:
    c, _ = s.accept()
    c.sendall(f"{os.getpid()}\n".encode())
    c.close()
PYEOF
# The second and third instances run under strace; the first does not.
cat >"$T/start.sh" <<EOF
#!/bin/sh
if [ -e "$T/third" ]; then
	exec strace -o "$T/adopt3.st" "$PY" "$T/srv.py" "\$@"
fi
if [ -e "$T/second" ]; then
	exec strace -o "$T/adopt.st" "$PY" "$T/srv.py" "\$@"
fi
exec "$PY" "$T/srv.py" "\$@"
EOF
chmod +x "$T/start.sh"
P=$(free_port)
bg keep "$CLI" run --keep --log actions -- "$T/start.sh" "$P" "$T/second"
wait_for "$T/keep.out" "READY"
check "first instance: defaults (TCP_NODELAY 0, TCP_KEEPIDLE 7200)" grep -qE "^READY [0-9]+ 0 7200$" "$T/keep.out"
touch "$T/second"
kill -HUP "$(cat "$T/keep.pid")"
check "second instance: adopted the kept listener" wait_for "$T/keep.err" "took 1 kept socket"
check "...its options, set before bind, on the socket it was given (1 77)" \
	wait_for "$T/keep.out" "^READY [0-9]+ 1 77$"
between() { awk '/^getppid\(/ { n++; next } n == 1' "$1"; }
# The adoption: through the dup3 and the close of the number it put in place.
adoption() {
	between "$1" | awk '{ print }
		/^dup3\(/ { split($0, a, /[(,]/); k = a[2]; d = 1; next }
		d && (/^close_range\(/ || index($0, "close(" k ")") == 1) { exit }'
}
calls=$(adoption "$T/adopt.st" | wc -l)
gets=$(between "$T/adopt.st" | grep -c '^getsockopt(')
check "...the adoption: $calls system calls with 2 options set (budget $BUDGET_TWO; target 12 a kept socket)" \
	test "$calls" -gt 0 -a "$calls" -le "$BUDGET_TWO"
check "...the two options the program set read, and nothing else asked of either socket: $gets getsockopt (2)" \
	test "$gets" = 2
check "...no option the program did not set is read" \
	sh -c "! grep -qE 'getsockopt\([0-9]+, SOL_SOCKET, SO_(KEEPALIVE|RCVBUF|SNDBUF|LINGER|TYPE|DOMAIN)' '$T/adopt.st'"
check "...dup3 puts it at the program's fd" grep -q '^dup3(' "$T/adopt.st"
check "...the keeper asked once, the board along with the socket ($(between "$T/adopt.st" | grep -c '^socket(AF_UNIX') connection)" \
	test "$(between "$T/adopt.st" | grep -c '^socket(AF_UNIX')" = 1
echo "# $(adoption "$T/adopt.st" | sed 's/(.*//' | paste -sd' ')"
rm -f "$T/second"
touch "$T/third"
kill -HUP "$(cat "$T/keep.pid")"
check "third instance, no option set: adopted the kept listener" wait_count "$T/keep.out" "^READY " 3
calls=$(adoption "$T/adopt3.st" | wc -l)
check "...the adoption: $calls system calls with no option set (budget $BUDGET_NONE)" \
	test "$calls" -gt 0 -a "$calls" -le "$BUDGET_NONE"
echo "# $(adoption "$T/adopt3.st" | sed 's/(.*//' | paste -sd' ')"
kill -TERM "$(cat "$T/keep.pid")"
wait_exit keep 10

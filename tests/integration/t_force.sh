#!/usr/bin/env bash
# force: a program that turns SO_REUSEADDR off itself. Without `force` its
# choice is respected; with `force` libreuse injects anyway, and a later
# attempt to turn it off is ignored, logged, and reported as success.
. "$(dirname "$0")/../lib.sh"

cat >"$T/off.py" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)   # before bind
s.bind(("127.0.0.1", int(sys.argv[1])))
print("after bind", s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR))
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)   # after bind
print("after off", s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR))
PY
P=$(free_port)
rules "$T/soft.conf" "log = { level = \"all\"; };
rules = ( { match = { port = $P; }; reuseaddr = true; } );"
shim "$T/soft.conf" "$PY" "$T/off.py" "$P" >"$T/soft.out" 2>"$T/soft.err"
check "without force, the program's own SO_REUSEADDR=0 is respected" \
	test "$(tr '\n' ' ' <"$T/soft.out")" = "after bind 0 after off 0 "
check "...and nothing was injected" test -z "$(grep inject "$T/soft.err")"

P=$(free_port)
rules "$T/force.conf" "log = { level = \"all\"; };
rules = ( { match = { port = $P; }; reuseaddr = true; force = true; } );"
shim "$T/force.conf" "$PY" "$T/off.py" "$P" >"$T/force.out" 2>"$T/force.err"
check "with force, SO_REUSEADDR is on after bind" grep -qx "after bind 1" "$T/force.out"
check "...and stays on when the program turns it off" grep -qx "after off 1" "$T/force.out"
check "the ignored setsockopt is logged" grep -q "setsockopt tcp 127.0.0.1:$P ok; .*SO_REUSEADDR=0 ignored: forced by rule" "$T/force.err"

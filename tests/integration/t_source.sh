#!/usr/bin/env bash
# The `nc -p 12345` question: two client programs, one source port, two
# destinations, connected at the same time. socat is the client; it asks
# for no source port at all — the rule binds it.
. "$(dirname "$0")/../lib.sh"

P1=$(free_port)
P2=$(free_port)
S=$(free_port)
bg srv1 "${SERVER[@]}" --port "$P1" --id one --hold
bg srv2 "${SERVER[@]}" --port "$P2" --id two --hold
wait_for "$T/srv1.out" READY
wait_for "$T/srv2.out" READY

# Without libreuse: two clients asking for the same source port collide.
bg n1 bash -c "sleep 3 | socat - TCP:127.0.0.1:$P1,sourceport=$S"
wait_for "$T/n1.out" "^one "
bg n2 bash -c "sleep 3 | socat - TCP:127.0.0.1:$P2,sourceport=$S"
wait_exit n2 5
check "without libreuse the second client cannot take source port $S" grep -q "Address already in use" "$T/n2.err"
kill "$(cat "$T/n1.pid")" 2>/dev/null
sleep 0.2

S=$(free_port)
rules "$T/src.conf" "log = { level = \"actions\"; };
rules = (
  { match = { op = \"connect\"; address = \"127.0.0.0/8\"; port = $P1; }; source = \"127.0.0.1:$S\"; reuseaddr = true; reuseport = true; },
  { match = { op = \"connect\"; address = \"127.0.0.0/8\"; port = $P2; }; source = \"127.0.0.1:$S\"; reuseaddr = true; reuseport = true; }
);"
bg c1 shim "$T/src.conf" bash -c "sleep 3 | socat - TCP:127.0.0.1:$P1"
wait_for "$T/c1.out" "^one "
bg c2 shim "$T/src.conf" bash -c "sleep 3 | socat - TCP:127.0.0.1:$P2"
wait_for "$T/c2.out" "^two "
check "first client reached server one from port $S" grep -q "^one $S\$" "$T/c1.out"
check "second client reached server two from port $S" grep -q "^two $S\$" "$T/c2.out"
check "both connections from 127.0.0.1:$S are established at once" \
	test "$(ss -Htn state established "( sport = :$S )" | wc -l)" = 2
check "the source bind is logged" grep -q "socat: bind tcp 127.0.0.1:$S: source before connect; rule 1" "$T/c1.err"

# A client that binds its own source port first (a bind no rule names, which
# the hooks let through on their short way, unrecorded): the rule's source
# is not bound over it, and the line says so.
O=$(free_port)
bg c3 shim "$T/src.conf" bash -c "sleep 3 | socat - TCP:127.0.0.1:$P1,sourceport=$O"
wait_for "$T/c3.out" "^one "
check "a client that bound port $O itself keeps it as its source" grep -q "^one $O\$" "$T/c3.out"
check "...the rule's source not applied, and said: $(grep -m1 -o 'skip.*' "$T/c3.err" | head -c 120)" \
	grep -q "socket already bound: source not applied" "$T/c3.err"

# A destination no rule names keeps the kernel's choice of source port.
P3=$(free_port)
bg srv3 "${SERVER[@]}" --port "$P3" --id three
wait_for "$T/srv3.out" READY
shim "$T/src.conf" "$PY" "$ROOT/tests/helpers/client.py" --host 127.0.0.1 --port "$P3" >"$T/c3.out" 2>"$T/c3.err"
check "a client under libreuse reaches a destination no rule names" grep -q "^three " "$T/c3.out"
check "...from a port the kernel chose, not $S" test "$(awk '{print $2}' "$T/c3.out")" != "$S"
check "...and libreuse did nothing to it" test ! -s "$T/c3.err"

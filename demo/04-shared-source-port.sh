#!/usr/bin/env bash
# Demo 4: the `nc -p 12345` question — can two clients use one source port
# at the same time? Yes, towards different destinations: a connection is
# the four-tuple. Without libreuse the second bind of the source port fails;
# with a `source` rule and SO_REUSEADDR both connections are up at once.
. "$(dirname "$0")/../tests/lib.sh"
fail() { echo "DEMO FAILED: $*"; exit 1; }
CLI=$BUILD/libreuse

P1=$(free_port)
P2=$(free_port)
S=$(free_port)
bg one "${SERVER[@]}" --port "$P1" --id one --hold
bg two "${SERVER[@]}" --port "$P2" --id two --hold
wait_for "$T/one.out" READY && wait_for "$T/two.out" READY || fail "servers did not start"
echo "== Demo 4: two clients, one source port $S, servers on :$P1 and :$P2"
echo "-- without libreuse: socat ... sourceport=$S, twice"
bg n1 bash -c "sleep 3 | socat - TCP:127.0.0.1:$P1,sourceport=$S"
wait_for "$T/n1.out" "^one " || fail "first plain client"
bg n2 bash -c "sleep 3 | socat - TCP:127.0.0.1:$P2,sourceport=$S"
wait_exit n2 5
echo "   second client: $(grep -o 'bind.*' "$T/n2.err" | head -1)"
grep -q "Address already in use" "$T/n2.err" || fail "the plain second client should have failed"
kill "$(cat "$T/n1.pid")" 2>/dev/null
sleep 0.2

S=$(free_port)
rules "$T/src.conf" "log = { level = \"actions\"; };
rules = ( { match = { op = \"connect\"; address = \"127.0.0.1\"; }; source = \"127.0.0.1:$S\"; reuseaddr = true; } );"
echo "-- with libreuse: rule source = 127.0.0.1:$S, reuseaddr = true (socat asks for no source port)"
bg c1 "$CLI" run -c "$T/src.conf" -- bash -c "sleep 3 | socat - TCP:127.0.0.1:$P1"
wait_for "$T/c1.out" "^one " || fail "first client under libreuse"
bg c2 "$CLI" run -c "$T/src.conf" -- bash -c "sleep 3 | socat - TCP:127.0.0.1:$P2"
wait_for "$T/c2.out" "^two " || fail "second client under libreuse"
echo "   server one saw a client from port $(awk '{print $2}' "$T/c1.out"); server two from port $(awk '{print $2}' "$T/c2.out")"
ss -Htn state established "( sport = :$S )" | awk '{print "   ESTABLISHED " $3 " -> " $4}'
[ "$(ss -Htn state established "( sport = :$S )" | wc -l)" = 2 ] || fail "not both established from :$S"
echo "   -> one source port, two destinations, at the same time"
echo "PASS"

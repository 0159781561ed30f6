#!/usr/bin/env bash
# Demo 6: audit a legacy binary without changing it. At level "all" libreuse
# records every bind, listen and connect with the options the program set
# itself, gives a one-line verdict, and when a second copy is refused, says
# who holds the port and why.
. "$(dirname "$0")/../tests/lib.sh"
fail() { echo "DEMO FAILED: $*"; exit 1; }
CLI=$BUILD/libreuse

P=$(free_port)
echo "== Demo 6: auditing a legacy server (python3, port $P), nothing changed"
bg legacy "$CLI" run --log all -- "${SERVER[@]}" --port "$P" --serve 1
wait_for "$T/legacy.out" READY || fail "legacy server did not start"
"$CLI" run --log all -- "${SERVER[@]}" --port "$P" --serve 0 >"$T/second.out" 2>"$T/second.err"
ask tcp 127.0.0.1 "$P" 1 >/dev/null
wait_exit legacy 5
echo "-- the trail of the first copy:"
sed 's/^/   /' "$T/legacy.err"
echo "-- a second copy, started while the first ran:"
sed 's/^/   /' "$T/second.err"
grep -q "python3: bind tcp 127.0.0.1:$P ok; reuse: none" "$T/legacy.err" || fail "no bind line"
grep -q "python3: listen tcp 127.0.0.1:$P ok" "$T/legacy.err" || fail "no listen line"
verdict=$(grep -o "verdict: .*" "$T/legacy.err")
[ -n "$verdict" ] || fail "no verdict"
grep -q "held by: pid $(cat "$T/legacy.pid") (python3) LISTEN\|held by: pid [0-9]* (python3) LISTEN" "$T/second.err" || fail "the refused copy does not name the holder"
echo "-- the one-line verdict:"
echo "   $verdict"
echo "PASS"

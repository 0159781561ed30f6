#!/usr/bin/env bash
# Demo 2: four unmodified servers on one port. None sets SO_REUSEPORT; a
# rule injects it, the kernel spreads 1,000 connections over the four.
. "$(dirname "$0")/../tests/lib.sh"
fail() { echo "DEMO FAILED: $*"; exit 1; }

P=$(free_port)
N=1000
rules "$T/workers.conf" "rules = ( { match = { port = $P; }; reuseport = true; } );"
echo "== Demo 2: four unmodified servers sharing port $P, $N connections"
for w in A B C D; do
	bg "w$w" shim "$T/workers.conf" "${SERVER[@]}" --port "$P" --id "$w"
done
for w in A B C D; do
	wait_for "$T/w$w.out" 'READY|BINDERR' || fail "worker $w did not start"
	grep -q READY "$T/w$w.out" || fail "worker $w: $(cat "$T/w$w.out")"
done
ask tcp 127.0.0.1 "$P" "$N" >"$T/answers"
total=0
for w in A B C D; do
	n=$(grep -c "^$w " "$T/answers")
	printf '   worker %s answered %4d\n' "$w" "$n"
	[ "$n" -gt 0 ] || fail "worker $w got nothing"
	total=$((total + n))
done
[ "$total" -eq "$N" ] || fail "$total of $N answered"
echo "   -> all $N answered, by all four"
echo "PASS"

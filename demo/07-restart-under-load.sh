#!/usr/bin/env bash
# Demo 7: an unmodified server restarted 5 times while 4 threads connect in
# a loop — first stopped and started again (--reuseaddr), then under the
# keeper (--keep: SIGHUP, the new instance takes the listener, the old one
# stops). The keeper refuses and resets nothing.
. "$(dirname "$0")/../tests/lib.sh"
fail() { echo "DEMO FAILED: $*"; exit 1; }
N=5

P=$(free_port)
echo "== Demo 7: restarting an unmodified server $N times under load (port $P)"
bg s0 "$CLI" run --reuseaddr -- "${SERVER[@]}" --port "$P" --graceful
wait_for "$T/s0.out" READY || fail "the server did not start"
load_start load1 "$P"
sleep 0.3
for i in $(seq 1 $N); do
	kill -TERM "$(cat "$T/s$((i - 1)).pid")"
	wait_exit "s$((i - 1))" 5
	bg "s$i" "$CLI" run --reuseaddr -- "${SERVER[@]}" --port "$P" --graceful
	wait_for "$T/s$i.out" READY || fail "restart $i did not start"
	sleep 0.3
done
without=$(load_stop load1)
kill -TERM "$(cat "$T/s$N.pid")"

P=$(free_port)
bg keeper "$CLI" run --keep -- "${SERVER[@]}" --port "$P" --graceful
wait_for "$T/keeper.out" READY || fail "the server did not start under the keeper"
load_start load2 "$P"
sleep 0.3
restarts keeper HUP "$N" || fail "a restart was not carried out"
with=$(load_stop load2)
kill -TERM "$(cat "$T/keeper.pid")"

row() { printf '   %-36s refused %5s   reset %3s   answered %6s\n' "$1" "$(json_get "$2" refused)" "$(json_get "$2" reset)" "$(json_get "$2" ok)"; }
row "stop, then start (--reuseaddr):" "$without"
row "under the keeper (--keep):" "$with"
[ "$(json_get "$with" refused)$(json_get "$with" reset)" = 00 ] || fail "the keeper lost connections"
[ "$(json_get "$with" ids | wc -w)" = $((N + 1)) ] || fail "not every instance answered"
[ "$(json_get "$without" refused)" -gt 0 ] || fail "stop-then-start refused nothing this time"
echo "   -> under the keeper: nothing refused, nothing reset, $((N + 1)) instances answered"
echo "PASS"

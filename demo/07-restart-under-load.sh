#!/usr/bin/env bash
# Demo 7: an unmodified server restarted 5 times while 4 threads connect in
# a loop — first stopped and started again (--reuseaddr), then under the
# keeper (--keep: SIGHUP, the new instance takes the listener, the old one
# stops). The keeper refuses and resets nothing.
. "$(dirname "$0")/../tests/lib.sh"
fail() { echo "DEMO FAILED: $*"; exit 1; }
LOADGEN=("$PY" "$ROOT/tests/helpers/loadgen.py")
N=5

P=$(free_port)
echo "== Demo 7: restarting an unmodified server $N times under load (port $P)"
bg s0 "$CLI" run --reuseaddr -- "${SERVER[@]}" --port "$P" --graceful
wait_for "$T/s0.out" READY || fail "the server did not start"
bg load1 "${LOADGEN[@]}" --port "$P" --until "$T/load1.stop" --seconds 60
sleep 0.3
for i in $(seq 1 $N); do
	kill -TERM "$(cat "$T/s$((i - 1)).pid")"
	wait_exit "s$((i - 1))" 5
	bg "s$i" "$CLI" run --reuseaddr -- "${SERVER[@]}" --port "$P" --graceful
	wait_for "$T/s$i.out" READY || fail "restart $i did not start"
	sleep 0.3
done
touch "$T/load1.stop"
wait_exit load1 20 || fail "the load did not stop"
kill -TERM "$(cat "$T/s$N.pid")"
without=$(cat "$T/load1.out")

P=$(free_port)
bg keeper "$CLI" run --keep -- "${SERVER[@]}" --port "$P" --graceful
wait_for "$T/keeper.out" READY || fail "the server did not start under the keeper"
bg load2 "${LOADGEN[@]}" --port "$P" --until "$T/load2.stop" --seconds 60
sleep 0.3
for i in $(seq 1 $N); do
	kill -HUP "$(cat "$T/keeper.pid")"
	wait_count "$T/keeper.err" 'took [0-9]+ kept socket' "$i" 10 || fail "restart $i was not carried out"
	sleep 0.3
done
touch "$T/load2.stop"
wait_exit load2 20 || fail "the load did not stop"
kill -TERM "$(cat "$T/keeper.pid")"
with=$(cat "$T/load2.out")

row() { printf '   %-36s refused %5s   reset %3s   answered %6s\n' "$1" "$(json_get "$2" refused)" "$(json_get "$2" reset)" "$(json_get "$2" ok)"; }
row "stop, then start (--reuseaddr):" "$without"
row "under the keeper (--keep):" "$with"
[ "$(json_get "$with" refused)$(json_get "$with" reset)" = 00 ] || fail "the keeper lost connections"
[ "$(json_get "$with" ids | wc -w)" = $((N + 1)) ] || fail "not every instance answered"
[ "$(json_get "$without" refused)" -gt 0 ] || fail "stop-then-start refused nothing this time"
echo "   -> under the keeper: nothing refused, nothing reset, $((N + 1)) instances answered"
echo "PASS"

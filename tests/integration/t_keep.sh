#!/usr/bin/env bash
# Restarts that lose nothing: an unmodified python server that finishes the
# connection in hand on SIGTERM, restarted under load by SIGHUP to
# `libreuse run --keep`, beside the two ways to restart it without keep —
# stop then start (reuseaddr), start a second copy then stop the first
# (reuseport) — on the same server and the same load. Then UDP: every
# datagram sent during restarts is received by some instance.
. "$(dirname "$0")/../lib.sh"

LOADGEN=("$PY" "$ROOT/tests/helpers/loadgen.py")

# --- with keep ---
P=$(free_port)
bg keeper "$CLI" run --keep -- "${SERVER[@]}" --port "$P" --graceful
wait_for "$T/keeper.out" READY || not_ok "the first instance did not start"
load_start loadk "$P"
sleep 0.3
restarts keeper HUP 20 || not_ok "a restart was not carried out" "$(tail -5 "$T/keeper.err")"
sleep 0.3
keep=$(load_stop loadk)
refused=$(json_get "$keep" refused)
reset=$(json_get "$keep" reset)
pids=$(json_get "$keep" ids | wc -w)
echo "# keep: $keep" | cut -c1-300
check "keep: 20 restarts under load, no connection refused ($refused)" test "$refused" = 0
check "keep: ...none reset ($reset)" test "$reset" = 0
check "keep: ...none timed out or failed otherwise" test "$(json_get "$keep" timeout)$(json_get "$keep" other)" = 00
check "keep: ...answers from 21 distinct pids ($pids)" test "$pids" = 21
check "keep: ...thousands of connections answered ($(json_get "$keep" ok))" test "$(json_get "$keep" ok)" -gt 1000
check "keep: the keeper holds the listener (libreuse who)" \
	grep -qE "^tcp +LISTEN +127\.0\.0\.1:$P .* $(cat "$T/keeper.pid") +libreuse$" <("$CLI" who "$P")
kill -TERM "$(cat "$T/keeper.pid")"
check "keep: TERM to the keeper ends the instance and the keeper" wait_exit keeper 10
check "keep: ...and nothing listens on the port any more" test -z "$(ss -Htln "( sport = :$P )")"

# --- baseline: stop, then start (reuseaddr) ---
P=$(free_port)
start_plain() { bg "$1" "$CLI" run "$2" -- "${SERVER[@]}" --port "$P" --graceful; wait_for "$T/$1.out" READY; }
start_plain ra0 --reuseaddr
load_start loada "$P"
sleep 0.3
for i in $(seq 1 10); do
	kill -TERM "$(cat "$T/ra$((i - 1)).pid")"
	wait_exit "ra$((i - 1))" 5
	start_plain "ra$i" --reuseaddr
	sleep 0.25
done
base_a=$(load_stop loada)
kill -TERM "$(cat "$T/ra10.pid")"
# --- baseline: start a second copy, then stop the first (reuseport) ---
P=$(free_port)
start_plain rp0 --reuseport
load_start loadp "$P"
sleep 0.3
for i in $(seq 1 10); do
	start_plain "rp$i" --reuseport
	kill -TERM "$(cat "$T/rp$((i - 1)).pid")"
	wait_exit "rp$((i - 1))" 5
	sleep 0.25
done
base_p=$(load_stop loadp)
kill -TERM "$(cat "$T/rp10.pid")"
summary() { echo "refused $(json_get "$1" refused), reset $(json_get "$1" reset), answered $(json_get "$1" ok)"; }
echo "# restarts under load, 4 connecting threads:"
echo "#   keep (20 restarts):                      $(summary "$keep")"
echo "#   reuseaddr, stop then start (10):         $(summary "$base_a")"
echo "#   reuseport, start then stop (10):         $(summary "$base_p")"
check "baseline: stop then start refuses connections ($(json_get "$base_a" refused))" \
	test "$(json_get "$base_a" refused)" -gt 0

# --- UDP: every datagram sent during 10 restarts is received ---
P=$(free_port)
bg ukeeper "$CLI" run --keep --log actions -- "${SERVER[@]}" --proto udp --port "$P" --graceful \
	--record "$T/udp.received"
wait_for "$T/ukeeper.out" READY || not_ok "the UDP server did not start"
check "udp: the socket is kept at bind" wait_for "$T/ukeeper.err" "bind udp 127\.0\.0\.1:$P: kept by the keeper"
bg usend "${LOADGEN[@]}" --proto udp --port "$P" --until "$T/usend.stop" --seconds 60 --sent "$T/udp.sent" --gap 0.002
sleep 0.3
restarts ukeeper HUP 10
touch "$T/usend.stop"
wait_exit usend 10
sleep 0.5 # the last datagrams are read
kill -TERM "$(cat "$T/ukeeper.pid")"
wait_exit ukeeper 10
sent=$(wc -l <"$T/udp.sent")
lost=$(comm -23 <(sort -u "$T/udp.sent") <(sort -u "$T/udp.received") | wc -l)
echo "# udp: $sent datagrams sent during 10 restarts, $(sort -u "$T/udp.received" | wc -l) received, $lost lost"
check "udp: 10 restarts carried out" test "$(grep -cE 'took [0-9]+ kept socket' "$T/ukeeper.err")" = 10
check "udp: every datagram sent ($sent) was received by some instance" test "$lost" = 0 -a "$sent" -gt 500
check "udp: ...by 11 instances" test "$(grep -c 'adopt from the keeper' "$T/ukeeper.err")" = 10

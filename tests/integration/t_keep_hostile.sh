#!/usr/bin/env bash
# Nobody else can stall the keeper: another user's silent connections,
# garbage, half and forged requests and a connect-and-close storm cost it
# nothing, and so do such peers inside its own tree. Restarts keep their
# time (measured side by side with a keeper nobody floods), a KILLed
# instance is serving again within a second, and outsiders are said once
# per uid and second, with counts.
. "$(dirname "$0")/../lib.sh"

FLOOD=$HELPERS/keepflood
NOBODY=$(id -u nobody)
AS_NOBODY=(setpriv --reuid nobody --regid "$(id -g nobody)" --clear-groups)
# keeper_name KEEPER: the keeper's socket name, from its instance.
keeper_name() {
	local inst
	inst=$(pgrep -P "$(cat "$T/$1.pid")" | head -1)
	tr '\0' '\n' <"/proc/$inst/environ" | sed -n 's/^LIBREUSE_KEEPER=//p'
}
ms_now() { echo $(($(date +%s%N) / 1000000)); }
# restart_ms KEEPER: SIGHUP to it; prints the ms until its old instance is
# gone (-1 after 10 s), then waits for the keeper to be left with one child.
restart_ms() {
	local k old t0 tries=2000
	k=$(cat "$T/$1.pid")
	old=$(pgrep -P "$k" | head -1)
	t0=$(ms_now)
	kill -HUP "$k"
	while kill -0 "$old" 2>/dev/null && [ "$tries" -gt 0 ]; do
		sleep 0.005
		tries=$((tries - 1))
	done
	if kill -0 "$old" 2>/dev/null; then echo -1; else echo $(($(ms_now) - t0)); fi
	tries=200
	while [ "$(pgrep -cP "$k")" != 1 ] && [ "$tries" -gt 0 ]; do
		sleep 0.01
		tries=$((tries - 1))
	done
}
failures() { echo "$(json_get "$1" refused) refused, $(json_get "$1" reset) reset, $(json_get "$1" timeout) timed out"; }

# --- 1,000 silent connections from nobody, held for the whole test ---
PA=$(free_port)
PB=$(free_port)
bg calm "$CLI" run --keep -- "${SERVER[@]}" --port "$PA" --graceful
bg flooded "$CLI" run --keep -- "${SERVER[@]}" --port "$PB" --graceful
{ wait_for "$T/calm.out" READY && wait_for "$T/flooded.out" READY; } || not_ok "the servers did not start"
bg flood "${AS_NOBODY[@]}" "$FLOOD" silent "$(keeper_name flooded)" 1000 120
check "flood: nobody holds 1000 connections to the keeper" wait_for "$T/flood.out" "CONNECTED 1000" 20
check "flood: ...the keeper closed every one, unread" wait_for "$T/flood.out" "ALLCLOSED 1000" 10
echo "# $(grep ALLCLOSED "$T/flood.out")"
check "flood: ...each told it was refused" grep -q "ALLCLOSED 1000 .* refused=1000" "$T/flood.out"
check "flood: libreuse who still shows the keeper holding the port" \
	sh -c "'$CLI' who $PB/tcp | grep -qE 'LISTEN +127\.0\.0\.1:$PB +0 +$(cat "$T/flooded.pid") +libreuse'"
load_start loada "$PA"
load_start loadb "$PB"
sleep 0.3
calm_ms=() flood_ms=()
for i in 1 2 3 4 5 6 7 8 9 10; do
	calm_ms+=("$(restart_ms calm)")
	flood_ms+=("$(restart_ms flooded)")
done
ra=$(load_stop loada)
rb=$(load_stop loadb)
echo "# restart ms, no flood: ${calm_ms[*]}"
echo "# restart ms, flooded:  ${flood_ms[*]}"
for i in 0 1 2 3 4 5 6 7 8 9; do
	a=${calm_ms[$i]} b=${flood_ms[$i]}
	check "restart $((i + 1)) under the flood: ${b} ms, no flood ${a} ms (within 500 ms)" \
		test "$a" -ge 0 -a "$b" -ge 0 -a "$b" -le $((a + 500))
done
check "flood: 10 restarts carried out" test "$(grep -cE 'took [0-9]+ kept socket' "$T/flooded.err")" = 10
check "flood: ...0 refused, 0 reset under load ($(failures "$rb"))" \
	test "$(json_get "$rb" refused)$(json_get "$rb" reset)" = 00
check "flood: ...answers from 11 instances" test "$(json_get "$rb" ids | wc -w)" = 11
check "no flood: ...0 refused, 0 reset under load ($(failures "$ra"))" \
	test "$(json_get "$ra" refused)$(json_get "$ra" reset)" = 00
lines=$(grep -c "refused a connection from pid [0-9]* (uid $NOBODY): not one of its instances; closed unread" "$T/flooded.err")
check "flood: the keeper said the outsider, once per second at most ($lines lines)" test "$lines" -ge 1 -a "$lines" -le 3
kill -TERM "$(cat "$T/flooded.pid")" "$(cat "$T/calm.pid")"
wait_exit flooded 10
wait_exit calm 10
check "flood: at exit, the count not said one by one" \
	grep -qE "refused [0-9]+ more connection\(s\) from uid $NOBODY, not said one by one" "$T/flooded.err"
check "flood: ...and the total (1000)" grep -q "outsiders: 1000 connection(s) from uid $NOBODY refused in all" "$T/flooded.err"
kill "$(cat "$T/flood.pid")" 2>/dev/null

# --- the same flood with --respawn: a KILLed instance serves again within 1 s ---
P=$(free_port)
bg resp "$CLI" run --keep --respawn -- "${SERVER[@]}" --port "$P" --graceful
wait_for "$T/resp.out" READY || not_ok "the server did not start"
bg rflood "${AS_NOBODY[@]}" "$FLOOD" silent "$(keeper_name resp)" 1000 60
wait_for "$T/rflood.out" "CONNECTED 1000" 20
for i in 1 2; do
	old=$(tcp_get 127.0.0.1 "$P")
	t0=$(ms_now)
	pkill -KILL -P "$(cat "$T/resp.pid")"
	now=$old tries=300
	while { [ -z "$now" ] || [ "$now" = "$old" ]; } && [ "$tries" -gt 0 ]; do
		now=$(tcp_get 127.0.0.1 "$P")
		tries=$((tries - 1))
	done
	ms=$(($(ms_now) - t0))
	check "respawn $i under the flood: serving again (pid $old -> $now) after $ms ms (within 1000)" \
		test -n "$now" -a "$now" != "$old" -a "$ms" -le 1000
done
kill -TERM "$(cat "$T/resp.pid")"
wait_exit resp 10
kill "$(cat "$T/rflood.pid")" 2>/dev/null

# --- garbage, half and forged requests, a storm; outside the tree and in it ---
# The first instance starts peers of its own that misbehave (they are of
# the tree, so they get as far as the table of requests in flight): 200
# silent, 50 with garbage, 50 with half a request. Outsiders at the same
# time: the same, forged adoptions, and connect-and-close as fast as they go.
P=$(free_port)
cat >"$T/inner.sh" <<EOF
if [ "\$LIBREUSE_KEEPER_GEN" = 1 ]; then
	"$FLOOD" silent - 200 4 >"$T/in-silent.out" &
	"$FLOOD" garbage - 50 4 >"$T/in-garbage.out" &
	"$FLOOD" half - 50 4 >"$T/in-half.out" &
fi
exec "\$@"
EOF
bg mixed "$CLI" run --keep -- sh "$T/inner.sh" "${SERVER[@]}" --port "$P" --graceful
wait_for "$T/mixed.out" READY || not_ok "the server did not start"
name=$(keeper_name mixed)
for m in garbage half silent; do bg "out-$m" "${AS_NOBODY[@]}" "$FLOOD" "$m" "$name" 300 6; done
FORGE_GEN=2 bg out-forged "${AS_NOBODY[@]}" "$FLOOD" forged "$name" 300 6
bg out-churn "${AS_NOBODY[@]}" "$FLOOD" churn "$name" 0 3
wait_for "$T/in-silent.out" "CONNECTED 200" 10
wait_for "$T/out-forged.out" "CONNECTED" 10
t0=$(ms_now)
kill -HUP "$(cat "$T/mixed.pid")"
check "hostile peers: the restart is carried out" wait_for "$T/mixed.err" "took 1 kept socket" 5
took=$(($(ms_now) - t0))
echo "# restart among hostile peers: new instance took its socket after ${took} ms"
check "hostile peers: ...within 1.5 s ($took ms)" test "$took" -le 1500
first=$(tcp_get 127.0.0.1 "$P")
check "hostile peers: ...and the new instance answers" test -n "$first"
for m in garbage half; do
	check "in the tree, $m: every connection hung up on at once" wait_for "$T/in-$m.out" "ALLCLOSED 50 max_hangup_ms=([0-9]{1,2}|[1-4][0-9]{2}) " 6
done
check "in the tree, silent: every connection hung up on (deadline or room)" wait_for "$T/in-silent.out" "ALLCLOSED 200 " 6
check "in the tree: ...said as hang-ups, at most once a second" \
	test "$(grep -c 'hung up on pid' "$T/mixed.err")" -ge 1 -a "$(grep -c 'hung up on pid' "$T/mixed.err")" -le 6
for m in garbage half silent forged; do
	check "outsiders, $m: 300 closed, each told it was refused" wait_for "$T/out-$m.out" "ALLCLOSED 300 .*refused=300" 8
done
check "outsiders, churn: connected and closed many times" wait_for "$T/out-churn.out" "RESULT mode=churn connected=[0-9]{3,}" 8
echo "# $(cat "$T/out-churn.out" | tail -1)"
check "the keeper still serves a restart after it all" sh -c "kill -HUP $(cat "$T/mixed.pid")"
check "...carried out" wait_count "$T/mixed.err" 'took 1 kept socket' 2 5
kill -TERM "$(cat "$T/mixed.pid")"
check "hostile peers: TERM to the keeper ends it" wait_exit mixed 10
for m in garbage half silent forged churn; do kill "$(cat "$T/out-$m.pid")" 2>/dev/null; done
pkill -f "^$FLOOD " 2>/dev/null || true


# --- a keeper out of fds: a connection it cannot take is closed, not left
# to wake it for ever (the keeper would spin) ---
P=$(free_port)
bg nofds "$CLI" run --keep -- "${SERVER[@]}" --port "$P" --graceful
wait_for "$T/nofds.out" READY || not_ok "the server did not start"
K=$(cat "$T/nofds.pid")
low=0
while [ -e "/proc/$K/fd/$low" ]; do low=$((low + 1)); done
hard=$(prlimit --pid "$K" --nofile --noheadings --output HARD --raw)
prlimit --pid "$K" --nofile="$low:$hard"
cpu() { awk '{print $14 + $15}' "/proc/$K/stat"; }
c0=$(cpu)
"${AS_NOBODY[@]}" "$FLOOD" silent "$(keeper_name nofds)" 20 1 >"$T/nofds-flood.out"
sleep 1
ticks=$(($(cpu) - c0))
check "out of fds: each connection closed all the same" grep -q "ALLCLOSED 20 " "$T/nofds-flood.out"
check "...said ($(grep -c 'out of file descriptors' "$T/nofds.err") lines, at most one a second)" \
	grep -q "out of file descriptors (Too many open files): a connection was closed unserved" "$T/nofds.err"
check "...and the keeper does not spin ($ticks ticks of CPU in 2 s)" test "$ticks" -lt 50
prlimit --pid "$K" --nofile="1024:$hard"
kill -HUP "$K"
check "...with fds again, a restart is carried out" wait_for "$T/nofds.err" "took 1 kept socket" 10
kill -TERM "$K"
wait_exit nofds 10

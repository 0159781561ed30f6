#!/usr/bin/env bash
# The keeper with daemons of every habit: one that forks into the background
# twice and closes every fd at start-up; one that binds, changes root and
# drops to nobody before it listens; a crash with --respawn. Restarts under
# load refuse nothing. And a process outside the keeper's tree gets nothing.
. "$(dirname "$0")/../lib.sh"

DAEMON=("$PY" "$ROOT/tests/helpers/daemon.py")

# restarts_under_load NAME PORT N: N restarts of keeper NAME while 4
# threads connect; prints the load's counts.
restarts_under_load() {
	load_start "load$1" "$2"
	sleep 0.3
	restarts "$1" HUP "$3"
	load_stop "load$1"
}
failures() { echo "$(json_get "$1" refused) refused, $(json_get "$1" reset) reset, $(json_get "$1" timeout) timed out"; }

# --- double fork, every fd closed ---
P=$(free_port)
bg dfork "$CLI" run --keep -- "${DAEMON[@]}" --port "$P" --out "$T/dfork.log" --double-fork --close-all
wait_for "$T/dfork.log" READY || not_ok "the daemon did not start"
sleep 0.3
check "double fork: the keeper stays while the daemon runs in the background" kill -0 "$(cat "$T/dfork.pid")"
res=$(restarts_under_load dfork "$P" 5)
echo "# double fork, close every fd: $res" | cut -c1-200
check "double fork: 5 restarts carried out" test "$(grep -cE 'took [0-9]+ kept socket' "$T/dfork.err")" = 5
check "double fork: ...0 refused, 0 reset ($(failures "$res"))" test "$(json_get "$res" refused)$(json_get "$res" reset)" = 00
check "double fork: ...answers from 6 daemons" test "$(json_get "$res" ids | wc -w)" = 6
check "double fork: ...each old daemon stopped (one left)" \
	wait_count_exact 1 "^$PY $ROOT/tests/helpers/daemon.py --port $P "
kill -TERM "$(cat "$T/dfork.pid")"
check "double fork: TERM to the keeper stops the daemon, then the keeper" wait_exit dfork 10
check "double fork: ...no daemon left" test -z "$(pgrep -f "^$PY $ROOT/tests/helpers/daemon.py --port $P ")"

# --- bind, chroot, drop to nobody, then listen ---
P=$(free_port)
mkdir -p "$T/jail"
bg drop "$CLI" run --keep -- "${DAEMON[@]}" --port "$P" --out "$T/drop.log" --chroot "$T/jail" --user nobody
wait_for "$T/drop.log" READY || not_ok "the daemon did not start"
check "drop: the daemon listens as nobody, in its chroot" grep -q "uid $(id -u nobody)" "$T/drop.log"
res=$(restarts_under_load drop "$P" 5)
check "drop: 5 restarts carried out" test "$(grep -cE 'took [0-9]+ kept socket' "$T/drop.err")" = 5
check "drop: ...0 refused, 0 reset ($(failures "$res"))" test "$(json_get "$res" refused)$(json_get "$res" reset)" = 00
check "drop: ...answers from 6 instances" test "$(json_get "$res" ids | wc -w)" = 6

# --- a process outside the keeper's tree asks: nothing ---
inst=$(pgrep -f "^$PY $ROOT/tests/helpers/daemon.py --port $P " | head -1)
name=$(tr '\0' '\n' <"/proc/$inst/environ" | sed -n 's/^LIBREUSE_KEEPER=//p')
check "the instance knows its keeper's address" test -n "$name"
for who in root nobody; do
	LIBREUSE_KEEPER=$name LIBREUSE_RULES='keep = true;' LD_PRELOAD=$(preload) \
		setpriv --reuid "$who" --regid "$(id -g "$who")" --clear-groups \
		"${SERVER[@]}" --port "$P" >"$T/out$who.out" 2>"$T/out$who.err"
	check "outsider ($who): refused by the keeper" \
		grep -qE "keep refused by the keeper: pid [0-9]+ \(uid $(id -u "$who")\) is not one of the processes this keeper started" "$T/out$who.err"
	check "outsider ($who): ...did not get the socket (its own bind meets it)" grep -q "BINDERR 98" "$T/out$who.out"
done
check "the keeper said whom it refused" \
	grep -q "refused a connection from pid [0-9]* (uid $(id -u nobody)): not one of its instances; closed unread" "$T/drop.err"
kill -TERM "$(cat "$T/drop.pid")"
check "drop: TERM to the keeper stops it all" wait_exit drop 10

# --- --respawn: KILL the instance under load ---
P=$(free_port)
bg resp "$CLI" run --keep --respawn -- "${SERVER[@]}" --port "$P" --graceful
wait_for "$T/resp.out" READY || not_ok "the server did not start"
load_start loadr "$P"
sleep 0.3
for i in 1 2 3; do
	pkill -KILL -P "$(cat "$T/resp.pid")"
	wait_count "$T/resp.err" 'starting it again' "$i" 5
	wait_count "$T/resp.out" READY "$((i + 1))" 5
	sleep 0.3
done
res=$(load_stop loadr)
echo "# respawn, 3 KILLs under load: $(failures "$res"), $(json_get "$res" ok) answered"
check "respawn: 3 instances killed, each started again" test "$(grep -c 'killed by SIGKILL): starting it again' "$T/resp.err")" = 3
check "respawn: ...no connection refused" test "$(json_get "$res" refused)" = 0
check "respawn: ...answers from 4 instances" test "$(json_get "$res" ids | wc -w)" = 4
kill -TERM "$(cat "$T/resp.pid")"
check "respawn: TERM to the keeper ends it, with no respawn" wait_exit resp 10

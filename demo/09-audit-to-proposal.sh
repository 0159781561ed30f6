#!/usr/bin/env bash
# Demo 9: from audit to answer. `libreuse audit` runs a legacy daemon (two
# TCP listeners and a UDP socket, no SO_REUSEADDR, a bind that fails on a
# port someone holds) for two seconds and reports what it opens, what fails
# and whether it can restart without losing anything; `--propose` writes the
# rule file and units that make it so, each line citing its evidence. The
# proposal is checked (libreuse check, systemd-analyze verify) and applied:
# restarted 5 times under load it refuses and resets nothing, where the same
# daemon stopped and started again refuses connections (and, without
# SO_REUSEADDR, often cannot start at all while TIME_WAIT lingers).
. "$(dirname "$0")/../tests/lib.sh"
fail() { echo "DEMO FAILED: $*"; exit 1; }
LEGACY=("$PY" "$ROOT/tests/helpers/legacyd.py")
N=5

P=$(free_port)
A=$(free_port)
U=$(free_port)
H=$(free_port)
bg holder "${SERVER[@]}" --port "$H"
wait_for "$T/holder.out" READY || fail "the holder did not start"
echo "== Demo 9: audit a legacy daemon (port $P), then apply what the audit proposes"
"$CLI" audit --for 2 --propose "$T/prop" -- "${LEGACY[@]}" --port "$P" --admin "$A" --udp "$U" --busy "$H" \
	>"$T/report.txt" 2>"$T/audit.err" || fail "the audit failed: $(cat "$T/audit.err")"
kill "$(cat "$T/holder.pid")"
echo "-- the report:"
sed 's/^/   /' "$T/report.txt"
grep -q "^    tcp v4 *127.0.0.1:$P *listen 1x  backlog 64  sets: none" "$T/report.txt" || fail "no TCP listener (backlog 64) in the report"
grep -q "^    bind tcp 127.0.0.1:$H EADDRINUSE 1x, held by pid" "$T/report.txt" || fail "the failed bind is not reported"
grep -q "^    - it loses connections on restart" "$T/report.txt" || fail "no verdict on restarts"
echo "-- the proposed rules ($T/prop/python3.conf):"
sed 's/^/   /' "$T/prop/python3.conf"
echo "-- the proposed socket unit:"
sed 's/^/   /' "$T/prop/python3.socket"
"$CLI" check "$T/prop/python3.conf" >/dev/null || fail "the proposed rules do not pass libreuse check"
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify "$T/prop/python3.socket" "$T/prop/python3.service" >"$T/verify" 2>&1 ||
		fail "the proposed units do not verify: $(cat "$T/verify")"
	echo "-- libreuse check and systemd-analyze verify: both pass"
fi

# With the proposal first (the plain daemon's TIME_WAIT, without
# SO_REUSEADDR on either side, would keep even the proposal from binding for
# a minute): the proposed runner, whose keeper holds the listeners; SIGHUP N
# times.
bg kept "$T/prop/python3.run"
wait_for "$T/kept.out" READY 10 || fail "the daemon did not start under the proposal: $(tail -3 "$T/kept.err")"
load_start keptload "$P"
sleep 0.3
restarts kept HUP "$N" || fail "a restart under the proposal was not carried out: $(tail -3 "$T/kept.err")"
with=$(load_stop keptload)
kill -TERM "$(cat "$T/kept.pid")"

wait_exit kept 10

# Without the proposal: stop the daemon, start it again, N times (on ports of
# its own: the first run's TIME_WAIT holds P against a socket without
# SO_REUSEADDR).
P=$(free_port)
A=$(free_port)
U=$(free_port)
bg d0 "${LEGACY[@]}" --port "$P" --admin "$A" --udp "$U"
wait_for "$T/d0.out" READY 10 || fail "the daemon did not start"
load_start plain "$P"
sleep 0.3
failed=0
for i in $(seq 1 $N); do
	kill -TERM "$(cat "$T/d$((i - 1)).pid")" 2>/dev/null
	wait_exit "d$((i - 1))" 5
	bg "d$i" "${LEGACY[@]}" --port "$P" --admin "$A" --udp "$U"
	wait_for "$T/d$i.out" READY 2 || failed=$((failed + 1))
	sleep 0.3
done
without=$(load_stop plain)
kill -TERM "$(cat "$T/d$N.pid")" 2>/dev/null
wait_exit "d$N" 5

row() { printf '   %-36s refused %6s   reset %3s   answered %6s\n' "$1" "$(json_get "$2" refused)" "$(json_get "$2" reset)" "$(json_get "$2" ok)"; }
echo "-- $N restarts under load:"
row "stop, then start ($failed failed to bind):" "$without"
row "with the proposal (python3.run):" "$with"
[ "$(json_get "$with" refused)$(json_get "$with" reset)" = 00 ] || fail "the proposal lost connections"
[ "$(json_get "$with" ok)" -gt 0 ] || fail "nothing answered under the proposal"
[ "$(json_get "$without" refused)" -gt 0 ] || fail "stop-then-start refused nothing this time"
echo "   -> with the proposal: nothing refused, nothing reset"
echo "PASS"

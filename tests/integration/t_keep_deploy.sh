#!/usr/bin/env bash
# No restart asked for is lost: a server whose answer is its version, read
# from a file at start, and that loads for a second before it binds, run
# under `libreuse run --keep`. A deploy (the file replaced, SIGHUP) made
# while another restart is under way is queued and runs once that one ends;
# rapid deploys under load coalesce; a crash of the serving instance, or of
# the new one, during a restart loses neither the restart nor the one queued
# behind it; the example unit's `systemctl reload` is such a deploy. Through
# all of it no connection is refused or reset, and the instance serving at
# the end answers the last version.
. "$(dirname "$0")/../lib.sh"

V=$T/version
deploy() { echo "$1" >"$V.new" && mv "$V.new" "$V" && kill -HUP "$(cat "$T/$2.pid")"; }
# answers_stably PORT VERSION: 5 answers in a row are VERSION, within 15 s.
answers_stably() {
	local i n=0
	for ((i = 0; i < 300 && n < 5; i++)); do
		if [ "$(tcp_get 127.0.0.1 "$1" | cut -d' ' -f1)" = "$2" ]; then n=$((n + 1)); else n=0; fi
		[ "$n" -ge 5 ] || sleep 0.05
	done
	[ "$n" -ge 5 ]
}
APP=("${SERVER[@]}" --id-file "$V" --load 1 --graceful)

# --- a deploy during a restart, then rapid deploys, under load ---
P=$(free_port)
echo v1 >"$V"
bg keeper "$CLI" run --keep --log actions -- "${APP[@]}" --port "$P"
wait_for "$T/keeper.out" READY 10 || not_ok "the first instance did not start" "$(tail -5 "$T/keeper.err")"
load_start load "$P"
sleep 0.3
deploy v2 keeper
sleep 0.4 # v2 is loading: the restart is under way
deploy v3 keeper
check "a deploy during a restart is queued, not ignored" wait_for "$T/keeper.err" "SIGHUP queued, to run once it ends" 2
check "...no restart signal is ignored" test "$(grep -c ignored "$T/keeper.err")" = 0
state=$("$CLI" who "$P/tcp")
echo "$state" | grep '^  ' | sed 's/^/# /'
check "libreuse who: the keeper's state shows the restart under way" \
	grep -qE "^  instance: generation 2, pid [0-9]+, starting" <<<"$state"
check "...the instance still serving" grep -qE "^  instance: generation 1, pid [0-9]+, serving" <<<"$state"
check "...and the restart pending" grep -qE "^  pending restart: yes, 1 signal\(s\) coalesced" <<<"$state"
check "...the instance serving after both answers v3" answers_stably "$P" v3
for v in 4 5 6 7 8 9; do
	deploy "v$v" keeper
	sleep 0.25
done
check "rapid deploys (6 in 1.5 s, each start taking 1 s): the instance serving at the end answers v9" \
	answers_stably "$P" v9
sleep 1.5 # anything still queued would have started and been taken over by now
check "...and still does" answers_stably "$P" v9
state=$("$CLI" who "$P/tcp")
echo "$state" | grep '^  ' | sed 's/^/# /'
gen=$(sed -nE 's/^  keeper: pid [0-9]+, generation ([0-9]+) last started.*/\1/p' <<<"$state")
check "libreuse who, once settled: the last generation started ($gen) serves, alone" \
	test "$(grep -cE '^  instance: ' <<<"$state")" = 1 -a -n "$(grep -E "^  instance: generation $gen, pid [0-9]+, serving" <<<"$state")"
check "...nothing pending" grep -q "^  pending restart: no" <<<"$state"
check "...its socket kept, taken by it" grep -q "^  kept: tcp 127.0.0.1:$P, taken by generation $gen" <<<"$state"
check "...and the last restart's phases" \
	grep -qE "^  last restart: generation $gen \(pid [0-9]+\) replaced generation [0-9]+ .*total [0-9]+ ms" <<<"$state"
res=$(load_stop load)
echo "# load: $res" | cut -c1-300
check "...under load: no connection refused ($(json_get "$res" refused))" test "$(json_get "$res" refused)" = 0
check "...none reset ($(json_get "$res" reset))" test "$(json_get "$res" reset)" = 0
check "...none timed out or failed otherwise" test "$(json_get "$res" timeout)$(json_get "$res" other)" = 00
check "...answers from v1, v3 and v9 (seen: $(json_get "$res" ids))" \
	grep -qE '^v1 .*v3 .*v9$' <(json_get "$res" ids)
queued=$(grep -cE 'SIGHUP queued' "$T/keeper.err")
coalesced=$(grep -cE 'SIGHUP queued, with the one queued already' "$T/keeper.err")
echo "# $(grep -c 'took [0-9]* kept socket' "$T/keeper.err") restarts carried out for 8 deploys; $queued queued, $coalesced of them coalesced"
check "...some deploys were coalesced, none lost" test "$coalesced" -gt 0
check "each restart is reported with its phases (level actions)" \
	grep -qE 'restart done: generation [0-9]+ \(pid [0-9]+\) replaced generation [0-9]+ \(pid [0-9]+\).*: signal -> started [0-9]+ ms, -> adopted [0-9]+ ms, -> old stopped [0-9]+ ms; total [0-9]+ ms' "$T/keeper.err"
kill -TERM "$(cat "$T/keeper.pid")"
check "TERM ends the keeper" wait_exit keeper 15

# --- a crash of the serving instance during a restart, with --respawn ---
P=$(free_port)
echo v1 >"$V"
bg rkeeper "$CLI" run --keep --respawn -- "${APP[@]}" --port "$P"
wait_for "$T/rkeeper.out" READY 10 || not_ok "the first instance did not start" "$(tail -5 "$T/rkeeper.err")"
load_start rload "$P"
sleep 0.3
first=$(pgrep -n -P "$(cat "$T/rkeeper.pid")")
deploy v2 rkeeper
sleep 0.3
kill -KILL "$first"
sleep 0.2
deploy v3 rkeeper
check "the serving instance killed during a restart: the restart carries on, the deploy after it too: v3 serves" \
	answers_stably "$P" v3
# Both killed, the serving one and the one starting to replace it: nothing
# serves and nothing is starting, and the program is started again
# (--respawn), reading the version deployed.
sleep 0.3
cur=$(pgrep -n -P "$(cat "$T/rkeeper.pid")")
deploy v4 rkeeper
sleep 0.3
new=$(pgrep -n -P "$(cat "$T/rkeeper.pid")")
kill -KILL "$cur" "$new"
check "the serving instance and the one starting both killed: started again (--respawn), v4 serves" \
	answers_stably "$P" v4
# The new instance crashes while it loads, a deploy queued behind it: the
# old one serves on, and the queued restart runs at once.
deploy v5 rkeeper
sleep 0.3
starting=$(pgrep -n -P "$(cat "$T/rkeeper.pid")")
deploy v6 rkeeper
kill -KILL "$starting"
check "the new instance killed while it loads, a deploy queued behind it: that one runs, v6 serves" \
	answers_stably "$P" v6
check "...the failed restart said, the old instance serving on" \
	grep -q "restart failed: pid $starting (generation [0-9]*) exited (killed by SIGKILL) before taking its sockets; the old instance serves on" "$T/rkeeper.err"
res=$(load_stop rload)
echo "# load: $res" | cut -c1-300
# A serving instance killed with SIGKILL takes with it the one connection it
# had accepted and not yet answered (the server answers one at a time): at
# most one reset per serving instance killed (two here), and none refused,
# since the keeper holds the listener and its queue throughout.
check "...no connection refused meanwhile" test "$(json_get "$res" refused)" = 0
check "...at most the 2 connections the killed instances had in hand reset ($(json_get "$res" reset))" \
	test "$(json_get "$res" reset)" -le 2
check "at the default log level the keeper says no phases" test "$(grep -c 'restart done' "$T/rkeeper.err")" = 0
kill -TERM "$(cat "$T/rkeeper.pid")"
check "TERM ends the keeper" wait_exit rkeeper 15

# --- the example unit's `systemctl reload`, a reload during a restart ---
# No systemd here (make check-systemd runs the unit itself, with a program
# that starts too fast for a reload to meet a restart): the unit's
# ExecStart as systemd would start it, its keeper and options kept, the
# program after "--" replaced by the versioned server; its ExecReload as
# systemd runs it, with $MAINPID the process ExecStart started.
UNIT=$ROOT/config/systemd/libreuse-keep-example.service
start=$(sed -n 's/^ExecStart=//p' "$UNIT")
reload=$(sed -n 's/^ExecReload=//p' "$UNIT")
check "the example unit runs a keeper (ExecStart: $start)" grep -qE '^/usr/bin/libreuse run (.* )?--keep( .*)? -- ' <<<"$start"
check "...and reloads through it (ExecReload: $reload)" grep -qF 'MAINPID' <<<"$reload"
opts=${start#/usr/bin/libreuse }
opts=${opts%% -- *}
systemctl_reload() { echo "$1" >"$V.new" && mv "$V.new" "$V" && MAINPID=$(cat "$T/unit.pid") sh -c "$reload"; }
P=$(free_port)
echo v1 >"$V"
# shellcheck disable=SC2086 # the unit's options, split as systemd splits them
bg unit "$CLI" $opts --log actions -- "${APP[@]}" --port "$P"
wait_for "$T/unit.out" READY 10 || not_ok "the unit's first instance did not start" "$(tail -5 "$T/unit.err")"
load_start uload "$P"
sleep 0.3
systemctl_reload v2
sleep 0.4 # v2 is loading: the restart is under way
systemctl_reload v3
systemctl_reload v4
check "the unit's ExecReload during a restart: queued" wait_for "$T/unit.err" "SIGHUP queued, to run once it ends" 2
check "...the next one coalesced with it, none ignored" \
	test "$(grep -c 'SIGHUP queued, with the one queued already' "$T/unit.err")-$(grep -c ignored "$T/unit.err")" = 1-0
check "...the instance serving at the end answers the last reload's v4" answers_stably "$P" v4
last=$(pgrep -n -P "$(cat "$T/unit.pid")")
res=$(load_stop uload)
echo "# load: $res" | cut -c1-300
check "...under load: none refused ($(json_get "$res" refused)), none reset ($(json_get "$res" reset))" \
	test "$(json_get "$res" refused)-$(json_get "$res" reset)" = 0-0
# KillMode=mixed: `systemctl stop` sends TERM to the main process alone.
kill -TERM "$(cat "$T/unit.pid")"
check "systemctl stop (TERM to the keeper alone) ends the keeper" wait_exit unit 15
check "...and the instance it ran" sh -c "! kill -0 ${last:-0} 2>/dev/null"

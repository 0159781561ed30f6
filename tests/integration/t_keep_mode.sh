#!/usr/bin/env bash
# A kept listener's blocking mode is each instance's own. The listener is
# one open file description shared by the instance serving and the one
# starting, and O_NONBLOCK lives there; yet each instance sees and gets
# the mode it set, whatever the other sets: an event loop's accept() never
# blocks, a blocking accept() waits, under load, across restarts that
# alternate the two (as a new version may change its model). The shared
# file itself stays non-blocking (/proc/PID/fdinfo).
. "$(dirname "$0")/../lib.sh"

# Serves on a kept listener in the mode $T/mode names at its start:
# "nonblock" sets O_NONBLOCK late, after listen (as h2o does), and
# accepts when select says so, taking EAGAIN in its stride; "block" calls
# a plain blocking accept(). After SIGTERM it serves on for 0.5 s, and
# until the next instance has said its mode (1.5 s at most), so that both
# modes accept from the one file at once; then it says the mode fcntl(F_GETFL) reports
# and what the shared file has, and how many connections it accepted after
# SIGTERM, and exits 0. An accept() that fails says so and exits 3.
cat >"$T/modeserver.py" <<'PYEOF'
import fcntl, os, select, signal, socket, sys, time
port, T = int(sys.argv[1]), sys.argv[2]
mode = open(f"{T}/mode").read().strip()
gen = int(os.environ.get("LIBREUSE_KEEPER_GEN", "0"))
s = socket.socket()
s.bind(("127.0.0.1", port))
s.listen(64)
fd = s.fileno()
def fl():
    return "nonblock" if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK else "block"
def shared():
    with open(f"/proc/self/fdinfo/{fd}") as f:
        flags = int(next(l for l in f if l.startswith("flags:")).split()[1], 8)
    return "nonblock" if flags & os.O_NONBLOCK else "block"
def next_started():
    with open(f"{T}/keeper.out") as f:
        return f"START gen {gen + 1} " in f.read()
def say(line):
    os.write(1, (line + "\n").encode())  # one write: instances share the file
class Stop(Exception):
    pass
busy = stopping = False
late = 0  # connections accepted after SIGTERM
served_on = deadline = 0.0
def on_term(*_):
    global stopping, served_on, deadline
    now = time.monotonic()
    stopping, served_on, deadline = True, now + 0.5, now + 1.5
    signal.setitimer(signal.ITIMER_REAL, 1.6)
def on_alarm(*_):
    if not busy:
        raise Stop()
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGALRM, on_alarm)
if mode == "nonblock":
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
say(f"START gen {gen} mode {mode} sees {fl()} shared {shared()}")
try:
    while not (stopping and time.monotonic() > served_on and
               (time.monotonic() > deadline or next_started())):
        if mode == "nonblock":
            if not select.select([fd], [], [], 0.05)[0]:
                continue
            try:
                c, _ = s._accept()
            except BlockingIOError:
                continue
        else:
            c, _ = s._accept()
        busy = True
        late += stopping
        with socket.socket(fileno=c) as conn:
            conn.sendall(f"{mode}{gen} x\n".encode())
        busy = False
except Stop:
    pass
except OSError as e:
    say(f"FAILED gen {gen} mode {mode} sees {fl()}: {e}")
    sys.exit(3)
say(f"STOP gen {gen} mode {mode} sees {fl()} shared {shared()} late {late}")
PYEOF

P=$(free_port)
echo nonblock >"$T/mode"
bg keeper "$CLI" run --keep --stop-timeout 4 -- "$PY" "$T/modeserver.py" "$P" "$T"
check "instance 1 (non-blocking) started" wait_for "$T/keeper.out" "^START gen 1 " 5
load_start load "$P" --threads 3
sleep 0.3
# Modes of instances 2..5: block, nonblock, block, nonblock.
i=0
for m in block nonblock block nonblock; do
	i=$((i + 1))
	echo "$m" >"$T/mode"
	kill -HUP "$(cat "$T/keeper.pid")"
	wait_count "$T/keeper.err" 'took [0-9]+ kept socket' "$i" 10 || not_ok "restart $i was not carried out"
	wait_for "$T/keeper.out" "^STOP gen $i " 5
	sleep 0.2
done
res=$(load_stop load)
echo "# 4 restarts alternating the mode under load: $res"
kill -TERM "$(cat "$T/keeper.pid")"
wait_exit keeper 10
sed 's/^/# /' "$T/keeper.out"
for g in 1 2 3 4 5; do
	m=$(sed -n "s/^START gen $g mode \([a-z]*\) .*/\1/p" "$T/keeper.out")
	check "instance $g ($m): fcntl reports its own mode at start, the shared file is non-blocking" \
		grep -q "^START gen $g mode $m sees $m shared nonblock$" "$T/keeper.out"
	check "instance $g ($m): ...and still its own at its stop, after the next one set the other" \
		grep -qE "^STOP gen $g mode $m sees $m shared nonblock late [0-9]+$" "$T/keeper.out"
done
check "no accept() failed in any instance" test -z "$(grep '^FAILED' "$T/keeper.out")"
# The keeper's board says a newer instance serves before the old one gets
# its stop signal: an old non-blocking instance takes nothing after it (a
# blocking one still may: its wait could end only by a signal).
for g in 1 3; do
	check "instance $g (nonblock), superseded, accepted nothing after SIGTERM though it served on" \
		grep -qE "^STOP gen $g mode nonblock .* late 0$" "$T/keeper.out"
done
check "every instance exited with status 0 on SIGTERM" \
	test "$(grep -c 'exited (status 0) [0-9]* ms after SIGTERM' "$T/keeper.err")" = 4
check "no connection lost: 0 refused, reset, timed out, failed" \
	test "$(json_get "$res" refused)$(json_get "$res" reset)$(json_get "$res" timeout)$(json_get "$res" other)" = 0000
check "...answers from the 5 instances, blocking and not ($(json_get "$res" ids))" \
	test "$(json_get "$res" ids | wc -w)" = 5

# --- a blocking accept on a kept listener does what the kernel's does ---
# The same C program (tests/helpers/keptaccept.c), alone and under the
# keeper: a signal whose handler has SA_RESTART does not end the wait, one
# without makes accept fail with EINTR, SO_RCVTIMEO ends it with EAGAIN.
# run_case NAME plain|keep MODE [TIMEOUT_MS]: the program's lines after a
# SIGUSR1, then one connection, into $T/NAME.out.
run_case() {
	local name=$1 how=$2 port pid
	shift 2
	port=$(free_port)
	if [ "$how" = keep ]; then
		bg "$name" "$CLI" run --keep -- "$HELPERS/keptaccept" "$port" "$@"
	else
		bg "$name" "$HELPERS/keptaccept" "$port" "$@"
	fi
	wait_for "$T/$name.out" READY 5 || return 1
	pid=$(cat "$T/$name.pid")
	[ "$how" = keep ] && pid=$(pgrep -P "$pid" -x keptaccept)
	# The listener is fd 3: under the keeper its file is non-blocking.
	awk '/^flags:/ { print (and(strtonum("0" $2), 2048) ? "shared nonblock" : "shared block") }' \
		"/proc/$pid/fdinfo/3" >"$T/$name.shared"
	sleep 0.4 # in accept (and past a 300 ms SO_RCVTIMEO)
	kill -USR1 "$pid"
	sleep 0.2
	"$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()' "$port"
	sleep 0.2
	# KILL: a "restart" program has no handler that would end it. Under
	# the keeper, its instance's end ends the keeper (no --respawn).
	kill -KILL "$pid"
	wait_exit "$name" 5
	wait "$(cat "$T/$name.pid")" 2>/dev/null
	return 0
}
# (stderr: the shell's word on the jobs KILLed)
for m in restart intr; do
	run_case "k$m" keep "$m" 2>/dev/null
	run_case "p$m" plain "$m" 2>/dev/null
done
run_case ktimeout keep restart 300 2>/dev/null
run_case ptimeout plain restart 300 2>/dev/null
check "under the keeper the listener's shared file is non-blocking" \
	test "$(cat "$T/krestart.shared" "$T/kintr.shared" "$T/ktimeout.shared" | sort -u)" = "shared nonblock"
check "...and alone it is blocking (the program set nothing)" test "$(cat "$T/prestart.shared")" = "shared block"
check "SA_RESTART handler: the kernel's accept waits on, then accepts" \
	test "$(grep -v READY "$T/prestart.out" | paste -sd' ')" = ACCEPT
check "...the kept listener's the same" test "$(grep -v READY "$T/krestart.out" | paste -sd' ')" = ACCEPT
check "handler without SA_RESTART: the kernel's accept fails with EINTR, then accepts" \
	test "$(grep -v READY "$T/pintr.out" | paste -sd' ')" = "ERR EINTR ACCEPT"
check "...the kept listener's the same" test "$(grep -v READY "$T/kintr.out" | paste -sd' ')" = "ERR EINTR ACCEPT"
check "SO_RCVTIMEO 300 ms: the kernel's accept fails with EAGAIN" grep -q "ERR EAGAIN" "$T/ptimeout.out"
check "...the kept listener's the same, and only that ($(grep -v READY "$T/ktimeout.out" | sort | uniq -c | paste -sd' '))" \
	test "$(grep -v READY "$T/ktimeout.out" | sort -u | paste -sd' ')" = "$(grep -v READY "$T/ptimeout.out" | sort -u | paste -sd' ')"

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
# a plain blocking accept(). After SIGTERM it serves on until the next
# instance has said its mode (1.5 s at most), so that both modes accept
# from the one file at once; then it says the mode fcntl(F_GETFL) reports
# and what the shared file has, and exits 0. An accept() that fails says
# so and exits 3.
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
class Stop(Exception):
    pass
busy = stopping = False
deadline = 0.0
def on_term(*_):
    global stopping, deadline
    stopping, deadline = True, time.monotonic() + 1.5
    signal.setitimer(signal.ITIMER_REAL, 1.6)
def on_alarm(*_):
    if not busy:
        raise Stop()
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGALRM, on_alarm)
if mode == "nonblock":
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
print(f"START gen {gen} mode {mode} sees {fl()} shared {shared()}", flush=True)
try:
    while not (stopping and (time.monotonic() > deadline or next_started())):
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
        with socket.socket(fileno=c) as conn:
            conn.sendall(f"{mode}{gen} x\n".encode())
        busy = False
except Stop:
    pass
except OSError as e:
    print(f"FAILED gen {gen} mode {mode} sees {fl()}: {e}", flush=True)
    sys.exit(3)
print(f"STOP gen {gen} mode {mode} sees {fl()} shared {shared()}", flush=True)
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
	sleep 0.4
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
		grep -q "^STOP gen $g mode $m sees $m shared nonblock$" "$T/keeper.out"
done
check "no accept() failed in any instance" test -z "$(grep '^FAILED' "$T/keeper.out")"
check "every instance exited with status 0 on SIGTERM" \
	test "$(grep -c 'exited (status 0) [0-9]* ms after SIGTERM' "$T/keeper.err")" = 4
check "no connection lost: 0 refused, reset, timed out, failed" \
	test "$(json_get "$res" refused)$(json_get "$res" reset)$(json_get "$res" timeout)$(json_get "$res" other)" = 0000
check "...answers from the 5 instances, blocking and not ($(json_get "$res" ids))" \
	test "$(json_get "$res" ids | wc -w)" = 5

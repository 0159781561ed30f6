#!/usr/bin/env bash
# h2o (Debian's package, unmodified) under `libreuse run --keep`: restarted
# 10 times by SIGHUP to the keeper while 3 clients make a new connection per
# request. Nothing refused, reset or timed out, and every old instance gone
# within its stop timeout (h2o's SIGTERM is its graceful stop: it closes its
# listener, then finishes what it accepted).
#
# h2o's event loop makes the listener non-blocking only once its threads
# start, well after its bind() took the kept socket; the old instance serves
# on meanwhile, accepting from the same open file description. That instance
# must not find its listener turned blocking under it (a thread stuck in
# accept, its connections unanswered, and the instance still there at its
# stop timeout).
. "$(dirname "$0")/../lib.sh"

H2O=/usr/bin/h2o
if [ ! -x "$H2O" ]; then
	ok "# SKIP h2o is not installed (make deps installs it)"
	exit 0
fi

P=$(free_port)
mkdir -p "$T/h2o/www"
echo "hello from h2o" >"$T/h2o/www/index.html"
# Two threads (h2o dups the listener for each thread past the first), no
# access log, everything under the test's directory. Run as root, h2o drops
# to nobody after binding: the directory is world-readable.
cat >"$T/h2o/h2o.conf" <<CONF
num-threads: 2
error-log: $T/h2o/error.log
listen:
  host: 127.0.0.1
  port: $P
hosts:
  default:
    paths:
      /:
        file.dir: $T/h2o/www
CONF
chmod -R a+rX "$T/h2o"

bg keeper "$CLI" run --keep --stop-timeout 4 --log actions -- "$H2O" -c "$T/h2o/h2o.conf"
check "h2o under the keeper: its listener is kept" \
	wait_for "$T/keeper.err" "listen tcp 127\.0\.0\.1:$P: kept by the keeper" 10
http_get() { printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 socat -T 2 - "TCP:127.0.0.1:$P" 2>/dev/null; }
# Its threads start after its listen: a first request may wait for them.
answers() {
	local i
	for i in $(seq 25); do
		http_get | grep -q "hello from h2o" && return 0
		sleep 0.2
	done
	return 1
}
check "h2o answers" answers

load_start load "$P" --http --threads 3
sleep 0.5
restarts keeper HUP 10 || not_ok "h2o: a restart was not carried out" "$(tail -5 "$T/keeper.err")"
sleep 0.5
res=$(load_stop load)
echo "# h2o, 10 restarts under load (3 clients): $res"
check "h2o: 10 restarts carried out" test "$(grep -cE 'took [0-9]+ kept socket' "$T/keeper.err")" = 10
check "h2o: ...each new instance took the kept listener" \
	test "$(grep -cE "bind tcp 127\.0\.0\.1:$P: adopt from the keeper" "$T/keeper.err")" = 10
check "h2o: ...0 refused ($(json_get "$res" refused))" test "$(json_get "$res" refused)" = 0
check "h2o: ...0 reset ($(json_get "$res" reset))" test "$(json_get "$res" reset)" = 0
check "h2o: ...0 timed out ($(json_get "$res" timeout)), 0 failed otherwise ($(json_get "$res" other))" \
	test "$(json_get "$res" timeout)$(json_get "$res" other)" = 00
check "h2o: ...thousands answered ($(json_get "$res" ok))" test "$(json_get "$res" ok)" -gt 1000
check "h2o: no old instance needed SIGKILL" test "$(grep -c 'SIGKILL' "$T/keeper.err")" = 0
wait_count "$T/keeper.err" 'exited \(.*\) [0-9]+ ms after SIGTERM' 10 5
stops=$(grep -oE 'exited \(status 0\) [0-9]+ ms after SIGTERM' "$T/keeper.err" | grep -oE '[0-9]+ ms' | sort -n | paste -sd' ')
echo "# old instances exited after SIGTERM in: $stops"
check "h2o: every old instance (10) exited by itself, status 0" test "$(wc -w <<<"$stops")" = 20
slowest=$(grep -oE '[0-9]+' <<<"$stops" | sort -n | tail -1)
check "h2o: ...each within its stop timeout (4 s): slowest ${slowest:-?} ms" test "${slowest:-4000}" -lt 4000
check "h2o: one h2o left after the restarts" wait_count_exact 1 "^$H2O -c $T/h2o/h2o.conf" 5
kill -TERM "$(cat "$T/keeper.pid")"
check "h2o: TERM to the keeper stops h2o and the keeper" wait_exit keeper 10
check "h2o: ...no h2o of this test left" test -z "$(pgrep -f "^$H2O -c $T/h2o/h2o.conf")"

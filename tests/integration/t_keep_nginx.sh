#!/usr/bin/env bash
# nginx (a master and two workers, daemon off) under `libreuse run --keep`:
# restarted 10 times under load, every request answered. nginx's own SIGHUP
# is a reload, so the keeper restarts on SIGUSR2 here (--restart-signal)
# and stops the old master gracefully with SIGQUIT (--stop-signal).
. "$(dirname "$0")/../lib.sh"

P=$(free_port)
nginx_conf "$T/ngx" "127.0.0.1:$P"
bg keeper "$CLI" run --keep --restart-signal USR2 --stop-signal QUIT --log actions -- \
	/usr/sbin/nginx -c "$T/ngx/nginx.conf" -p "$T/ngx" -e "$T/ngx/error.log"
check "nginx under the keeper answers" wait_for "$T/keeper.err" "listen tcp 127\.0\.0\.1:$P: kept by the keeper"
load_start load "$P" --http
sleep 0.3
restarts keeper USR2 10
res=$(load_stop load)
echo "# nginx, 10 restarts under load: $res"
check "nginx: 10 restarts carried out" test "$(grep -cE 'took [0-9]+ kept socket' "$T/keeper.err")" = 10
check "nginx: ...each new master took the kept listener" \
	test "$(grep -cE "bind tcp 127\.0\.0\.1:$P: adopt from the keeper" "$T/keeper.err")" = 10
check "nginx: no request failed" test "$(json_get "$res" refused)$(json_get "$res" reset)$(json_get "$res" timeout)$(json_get "$res" other)" = 0000
check "nginx: ...and thousands were answered ($(json_get "$res" ok))" test "$(json_get "$res" ok)" -gt 1000
check "nginx: one master left after the restarts" \
	wait_count_exact 1 "nginx: master process /usr/sbin/nginx -c $T/ngx/nginx.conf" 10
kill -TERM "$(cat "$T/keeper.pid")"
check "nginx: TERM to the keeper stops nginx and the keeper" wait_exit keeper 10
check "nginx: ...no nginx of this test left" test -z "$(pgrep -f "nginx -c $T/ngx/nginx.conf")"

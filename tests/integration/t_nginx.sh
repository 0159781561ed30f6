#!/usr/bin/env bash
# nginx from Debian with a hard-coded `listen P` (all addresses), moved to
# 127.0.0.1:Q by a rule that names the program: nothing in nginx changes.
. "$(dirname "$0")/../lib.sh"

NGINX=/usr/sbin/nginx
P=$(free_port)
Q=$(free_port)
nginx_conf "$T/nginx" $P
rules "$T/rules.conf" "log = { level = \"all\"; };
rules = ( { match = { program = \"nginx\"; port = $P; }; rewrite = \"127.0.0.1:$Q\"; } );"

get() {
	timeout 5 "$PY" -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode(), end="")' "$1" 2>/dev/null
}

bg nginx shim "$T/rules.conf" "$NGINX" -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log"
for _ in $(seq 100); do
	[ "$(get "http://127.0.0.1:$Q/")" = "hello from nginx" ] && break
	sleep 0.05
done
check "nginx answers at the rewritten 127.0.0.1:$Q" test "$(get "http://127.0.0.1:$Q/")" = "hello from nginx"
check "nginx is not listening on its hard-coded port $P" test -z "$(ss -Hltn "( sport = :$P )")"
check "nginx listens only on 127.0.0.1:$Q" test "$(ss -Hltn "( sport = :$Q )" | awk '{print $4}')" = "127.0.0.1:$Q"
check "the rewrite is logged, naming nginx" grep -q "nginx: bind tcp 0.0.0.0:$P -> 127.0.0.1:$Q: rewrite; rule 1" "$T/nginx.err"
# nginx sets SO_REUSEADDR itself; the log tells it from libreuse's doing.
check "nginx's own SO_REUSEADDR is reported as set by the program" \
	grep -q "nginx: bind tcp 0.0.0.0:$P (used 127.0.0.1:$Q) ok; reuse: SO_REUSEADDR by program; rule 1" "$T/nginx.err"
check "the pid bg recorded is nginx's master itself" test "$(cat "$T/nginx.pid")" = "$(cat "$T/nginx/nginx.pid")"
kill -TERM "$(cat "$T/nginx/nginx.pid")"
check "nginx exits on SIGTERM under libreuse" wait_exit nginx 5
check "...cleanly: no emerg/alert/crit in its error log" test -z "$(grep -E 'emerg|alert|crit' "$T/nginx/error.log")"
check "...and leaves no worker behind" test -z "$(pgrep -f "nginx.*$T/nginx")"

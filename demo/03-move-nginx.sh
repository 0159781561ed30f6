#!/usr/bin/env bash
# Demo 3: nginx, configured with a hard-coded `listen 80` (all addresses),
# moved to 127.0.0.1 on another port by one rule. nginx's configuration and
# binary stay as they are; it never binds port 80.
. "$(dirname "$0")/../tests/lib.sh"
fail() { echo "DEMO FAILED: $*"; exit 1; }
CLI=$BUILD/libreuse

# 8080 as in the story, unless something here already has it.
Q=8080
ss -Hltn "( sport = :$Q )" | grep -q . && Q=$(free_port)
nginx_conf "$T/nginx" 80
rules "$T/move.conf" "log = { level = \"actions\"; };
rules = ( { match = { program = \"nginx\"; address = \"0.0.0.0\"; port = 80; }; rewrite = \"127.0.0.1:$Q\"; } );"
echo "== Demo 3: nginx hard-coded to 0.0.0.0:80, moved to 127.0.0.1:$Q by a rule"
echo "   rule: $(grep -o '{ match.*}' "$T/move.conf")"
bg nginx "$CLI" run -c "$T/move.conf" -- /usr/sbin/nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log"
get() { timeout 5 "$PY" -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode(), end="")' "$1" 2>/dev/null; }
for _ in $(seq 100); do
	[ "$(get "http://127.0.0.1:$Q/")" = "hello from nginx" ] && break
	sleep 0.05
done
answer=$(get "http://127.0.0.1:$Q/")
echo "   GET http://127.0.0.1:$Q/ -> $answer"
[ "$answer" = "hello from nginx" ] || fail "nginx did not answer on 127.0.0.1:$Q"
# The sockets of this nginx (master and workers), not of any other.
pids=$(pgrep -f "nginx.*$T/nginx" | tr '\n' '|')
listening=$(ss -Hltnp | grep -E "pid=(${pids%|})," | awk '{print $4}' | sort -u | tr '\n' ' ')
echo "   nginx listens on: $listening"
[ "$listening" = "127.0.0.1:$Q " ] || fail "nginx listens on '$listening', not only 127.0.0.1:$Q"
echo "   what libreuse said:"
grep "rewrite" "$T/nginx.err" | sed 's/^/     /'
grep -q "bind tcp 0.0.0.0:80 -> 127.0.0.1:$Q: rewrite" "$T/nginx.err" || fail "no rewrite line"
kill "$(cat "$T/nginx/nginx.pid")" 2>/dev/null
wait_exit nginx 5 || fail "nginx did not stop"
echo "   -> port 80 never taken; nginx served from 127.0.0.1:$Q"
echo "PASS"

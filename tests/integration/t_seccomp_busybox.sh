#!/usr/bin/env bash
# busybox-static, unmodified, under the seccomp supervisor (which `run`
# picks by itself: there is no dynamic loader to preload into it): two
# httpd on one port, one moved by a rewrite, nc sharing a source port to
# two destinations, a deny. Log lines name the program as its argv[0]: busybox.
. "$(dirname "$0")/../lib.sh"
seccomp_or_skip

BB=/bin/busybox
[ -x "$BB" ] && file -L "$BB" | grep -q "statically linked" ||
	{ not_ok "busybox-static is not installed (make deps installs it)"; exit 0; }

# http_get PORT: the body busybox httpd serves for /.
http_get() {
	timeout 5 "$PY" -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode().strip())' "http://127.0.0.1:$1/" 2>/dev/null
}

for s in A B; do
	mkdir -p "$T/www$s" && echo "site $s" >"$T/www$s/index.html"
done

# Two httpd on one port.
P=$(free_port)
for s in A B; do
	bg "httpd$s" "$CLI" run --reuseport -- "$BB" httpd -f -p "127.0.0.1:$P" -h "$T/www$s"
done
check "httpd: run chose the supervisor for static busybox" wait_for "$T/httpdA.err" "is statically linked .*: applying the rules from outside it"
sleep 0.5
check "httpd: both listen on port $P" test "$(ss -Htln "( sport = :$P )" | wc -l)" = 2
for i in $(seq 60); do http_get "$P"; done >"$T/sites"
check "httpd: requests reach both ($(sort "$T/sites" | uniq -c | tr -s ' \n' ' '))" \
	test "$(sort -u "$T/sites" | tr '\n' ' ')" = "site A site B "
kill "$(cat "$T/httpdA.pid")" "$(cat "$T/httpdB.pid")"

# One moved by a rewrite.
P=$(free_port)
Q=$(free_port)
bg moved "$CLI" run --bind "127.0.0.1:$Q" --log actions -- "$BB" httpd -f -p "127.0.0.1:$P" -h "$T/wwwA"
wait_for "$T/moved.err" "rewrite"
check "rewrite: httpd asked for $P and serves on $Q" test "$(http_get "$Q")" = "site A"
check "rewrite: ...not on $P" test -z "$(http_get "$P")"
check "rewrite: ...said so" grep -q "busybox: bind tcp 127\.0\.0\.1:$P -> 127\.0\.0\.1:$Q: rewrite" "$T/moved.err"
kill "$(cat "$T/moved.pid")"

# nc sharing a source port to two destinations: a source rule binds each
# connect to port S first.
D1=$(free_port)
D2=$(free_port)
S=$(free_port)
bg d1 "${SERVER[@]}" --port "$D1" --hold
bg d2 "${SERVER[@]}" --port "$D2" --hold
wait_for "$T/d1.out" READY && wait_for "$T/d2.out" READY
rules "$T/src.conf" "log = { level = \"actions\"; };
rules = ( { match = { op = \"connect\"; port = \"$(( D1 < D2 ? D1 : D2 ))-$(( D1 < D2 ? D2 : D1 ))\"; };
            source = \"127.0.0.1:$S\"; reuseaddr = true; } );"
for d in "$D1" "$D2"; do
	bg "nc$d" sh -c "sleep 3 | exec \"$CLI\" run -c \"$T/src.conf\" -- \"$BB\" nc 127.0.0.1 $d"
done
for _ in $(seq 40); do
	[ "$(ss -Htn state established "( sport = :$S )" | wc -l)" = 2 ] && break
	sleep 0.1
done
check "nc: two connections from source port $S at once" \
	test "$(ss -Htn state established "( sport = :$S )" | awk '{print $4}' | sort -u | wc -l)" = 2
check "nc: ...one to each destination" \
	test "$(ss -Htn state established "( sport = :$S )" | awk '{print $4}' | sort | tr '\n' ' ')" = "$(printf '127.0.0.1:%s\n' "$D1" "$D2" | sort | tr '\n' ' ')"
check "nc: the source bind was said" grep -q "busybox: bind tcp 127\.0\.0\.1:$S: source before connect" "$T/nc$D1.err"

# A deny.
X=$(free_port)
rules "$T/deny.conf" "log = { level = \"actions\"; };
rules = ( { match = { port = $X; }; deny = \"EACCES\"; } );"
"$CLI" run -c "$T/deny.conf" -- "$BB" httpd -f -p "127.0.0.1:$X" -h "$T/wwwA" >"$T/deny.out" 2>&1
check "deny: httpd's bind is refused with EACCES, and it gives up (exit $?)" grep -q "Permission denied" "$T/deny.out"
check "deny: ...said so" grep -q "busybox: bind tcp 127\.0\.0\.1:$X: deny EACCES" "$T/deny.out"

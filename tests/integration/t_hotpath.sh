#!/usr/bin/env bash
# After start-up, an intercepted call allocates nothing and takes no lock,
# even when it injects, rewrites, fails and logs. A counting interposer
# preloaded ahead of libreuse sees every malloc, calloc, realloc and mutex
# lock; the warm-up (rules loaded, log file opened) must show some — or the
# counter would prove nothing — and the 2,000 cycles after it none.
. "$(dirname "$0")/../lib.sh"

if [ -n "${SANITIZE:-}" ]; then
	ok "# SKIP the sanitizer runtime allocates on its own behalf"
	exit 0
fi
P=$(free_port)
H=$(free_port)
bg holder "${SERVER[@]}" --port "$H"
wait_for "$T/holder.out" READY
rules "$T/hot.conf" "log = { level = \"all\"; target = \"$T/hot.log\"; format = \"json\"; };
rules = ( { match = { port = $P; }; rewrite = \":$(free_port)\"; reuseport = true; } );"
out=$(LIBREUSE_CONFIG=$T/hot.conf LD_PRELOAD="$HELPERS/libcount.so:$LIB" "$HELPERS/hotpath" "$P" "$H")
warm=$(awk '{print $2}' <<<"$out")
loop=$(awk '{print $4}' <<<"$out")
check "the counter sees libreuse's start-up allocations ($warm)" test "${warm:-0}" -gt 0
check "2,000 intercepted cycles: no allocation or lock ($loop)" test "$loop" = 0
check "...while logging every call ($(wc -l <"$T/hot.log") lines)" test "$(wc -l <"$T/hot.log")" -gt 6000
# The same failing bind over and over: the rate limit lets 5 through, and
# those 5 looked up the holder (netlink, /proc) without allocating either.
check "...the repeated conflict logged 5 times, naming its holder" \
	test "$(grep '"errno":"EADDRINUSE"' "$T/hot.log" | grep -c "\"pid\":$(cat "$T/holder.pid"),\"program\":\"python3\",\"state\":\"LISTEN\"")" = 5
check "...every line valid JSON to python's parser" \
	"$PY" -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/hot.log"

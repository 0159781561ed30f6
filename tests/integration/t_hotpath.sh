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
check "...while logging every call ($(wc -l <"$T/hot.log") lines)" test "$(wc -l <"$T/hot.log")" -gt 10000
check "...including the conflicts" test "$(grep -c '"errno":"EADDRINUSE"' "$T/hot.log")" -ge 1000
check "...every line valid JSON to python's parser" \
	"$PY" -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/hot.log"

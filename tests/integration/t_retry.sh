#!/usr/bin/env bash
# retry: a bind that meets a held port waits, with backoff, and succeeds once
# the holder lets go; past the limit it fails exactly as it would have.
. "$(dirname "$0")/../lib.sh"

P=$(free_port)
rules "$T/retry.conf" "log = { level = \"actions\"; };
rules = ( { match = { port = $P; }; retry = 8000; } );"
bg holder "${SERVER[@]}" --port "$P"
wait_for "$T/holder.out" READY
bg waiter shim "$T/retry.conf" "${SERVER[@]}" --port "$P" --id W
wait_for "$T/waiter.err" "retry" 3
sleep 0.5
check "while the port is held the waiting server has not bound" test ! -s "$T/waiter.out"
kill "$(cat "$T/holder.pid")"
wait_for "$T/waiter.out" 'READY|BINDERR' 5
check "once the holder exits the server binds" grep -q "READY 127.0.0.1 $P" "$T/waiter.out"
check "and serves" test "$(ask tcp 127.0.0.1 "$P" 1 | cut -d' ' -f1)" = W
check "the retry and its success are logged" grep -q "retry succeeded" "$T/waiter.err"

Q=$(free_port)
rules "$T/short.conf" "log = { level = \"actions\"; };
rules = ( { match = { port = $Q; }; retry = 300; } );"
bg holder2 "${SERVER[@]}" --port "$Q"
wait_for "$T/holder2.out" READY
start=$(date +%s%3N)
shim "$T/short.conf" "${SERVER[@]}" --port "$Q" >"$T/gaveup.out" 2>"$T/gaveup.err"
took=$(($(date +%s%3N) - start))
check "past the retry limit the bind fails with EADDRINUSE as before" grep -q "BINDERR 98" "$T/gaveup.out"
check "after waiting about the limit (300 ms; took $took ms)" test "$took" -ge 300 -a "$took" -lt 3000
check "giving up is logged" grep -q "retry gave up" "$T/gaveup.err"
check "and so is the conflict" grep -q "failed: EADDRINUSE" "$T/gaveup.err"

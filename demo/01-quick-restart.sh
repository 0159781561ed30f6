#!/usr/bin/env bash
# Demo 1: restart an unmodified daemon at once. It served a client and closed
# the connection itself, so TIME_WAIT holds its port; without libreuse the
# restart fails with "Address already in use", with libreuse it binds.
. "$(dirname "$0")/../tests/lib.sh"
fail() { echo "DEMO FAILED: $*"; exit 1; }

run_cycle() { # NAME PORT [shim CONF]: start, serve one client, exit, restart
	local name=$1 port=$2
	shift 2
	"$@" "${SERVER[@]}" --port "$port" --serve 1 >"$T/$name-1.out" 2>&1 &
	wait_for "$T/$name-1.out" READY || fail "$name: first start"
	ask tcp 127.0.0.1 "$port" 1 >/dev/null
	wait
	echo "   TIME_WAIT on :$port: $(ss -Htan state time-wait "( sport = :$port )" | wc -l) connection(s)"
	"$@" "${SERVER[@]}" --port "$port" --serve 0 >"$T/$name-2.out" 2>&1
	echo "   restart: $(head -1 "$T/$name-2.out")"
}

P=$(free_port)
echo "== Demo 1: quick restart of an unmodified daemon (python3, port $P)"
echo "-- without libreuse"
run_cycle plain "$P" env
grep -q "BINDERR 98 EADDRINUSE" "$T/plain-2.out" || fail "the plain restart should have failed"
echo "   -> Address already in use: the daemon cannot come back until TIME_WAIT ends (60 s)"

P=$(free_port)
rules "$T/restart.conf" "rules = ( { match = { port = $P; proto = \"tcp\"; }; reuseaddr = true; } );"
echo "-- with libreuse (rule: port $P, reuseaddr = true), from the first start"
run_cycle shim "$P" shim "$T/restart.conf"
grep -q "READY 127.0.0.1 $P" "$T/shim-2.out" || fail "the restart under libreuse should have bound"
echo "   -> bound at once"
echo "PASS"

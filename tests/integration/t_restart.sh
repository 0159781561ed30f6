#!/usr/bin/env bash
# Quick restart through TIME_WAIT: a server that never sets SO_REUSEADDR,
# restarted right after it closed a connection itself. On Linux the old and
# the new socket both need SO_REUSEADDR, so the daemon must run under
# libreuse from its first start: the third case shows exactly that.
. "$(dirname "$0")/../lib.sh"

# run_once NAME CONF FAMILY ADDR PORT: start, serve one connection, exit.
# CONF "-" runs without libreuse.
run_once() {
	local name=$1 conf=$2 fam=$3 addr=$4 port=$5 host=$4
	[ "$fam" = 6 ] && host="[$addr]"
	if [ "$conf" = - ]; then
		bg "$name" "${SERVER[@]}" --family "$fam" --addr "$addr" --port "$port" --serve 1
	else
		bg "$name" shim "$conf" "${SERVER[@]}" --family "$fam" --addr "$addr" --port "$port" --serve 1
	fi
	wait_for "$T/$name.out" 'READY|BINDERR' || return 1
	grep -q READY "$T/$name.out" || return 0
	tcp_get "$host" "$port" >/dev/null
	wait_exit "$name"
}

time_wait_on() { [ -n "$(ss -Htan state time-wait "( sport = :$1 )")" ]; }

for fam in 4 6; do
	addr=127.0.0.1
	[ "$fam" = 6 ] && addr=::1
	P1=$(free_port)
	P2=$(free_port)
	P3=$(free_port)
	conf=$T/restart$fam.conf
	rules "$conf" "log = { level = \"actions\"; };
rules = ( { match = { proto = \"tcp\"; port = \"$P1-$P1\"; }; reuseaddr = true; },
  { match = { port = $P3; }; reuseaddr = true; } );"

	# Without libreuse: the restart fails while TIME_WAIT lingers.
	run_once plain1$fam - "$fam" "$addr" "$P2"
	check "IPv$fam: first start without libreuse left TIME_WAIT on its port" time_wait_on "$P2"
	run_once plain2$fam - "$fam" "$addr" "$P2"
	check "IPv$fam: restart without libreuse fails with EADDRINUSE" grep -q "BINDERR 98" "$T/plain2$fam.out"

	# Under libreuse from the first start: the restart binds at once.
	run_once shim1$fam "$conf" "$fam" "$addr" "$P1"
	check "IPv$fam: under libreuse the first run also left TIME_WAIT" time_wait_on "$P1"
	run_once shim2$fam "$conf" "$fam" "$addr" "$P1"
	check "IPv$fam: restart under libreuse succeeds at once" grep -q "READY" "$T/shim2$fam.out"
	check "IPv$fam: ...and it was libreuse that set SO_REUSEADDR" \
		grep -q "bind tcp .*:$P1: inject SO_REUSEADDR; rule 1" "$T/shim2$fam.err"

	# Old socket without SO_REUSEADDR, new one with it: Linux still refuses.
	run_once half1$fam - "$fam" "$addr" "$P3"
	run_once half2$fam "$conf" "$fam" "$addr" "$P3"
	check "IPv$fam: libreuse on the new socket alone is not enough (old needs it too)" \
		grep -q "BINDERR 98" "$T/half2$fam.out"
	check "IPv$fam: ...and that conflict is logged" \
		grep -qE "bind tcp .*:$P3 failed: EADDRINUSE \(Address already in use\); reuse: SO_REUSEADDR by libreuse" "$T/half2$fam.err"
done

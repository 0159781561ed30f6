#!/usr/bin/env bash
# A server asking for 0.0.0.0:P (or [::]:P) is reachable only where the rule
# moved it; the program's own view of its address is the rewritten one.
. "$(dirname "$0")/../lib.sh"

for proto in tcp udp; do
	# IPv4: 0.0.0.0:P -> 127.0.0.1:Q
	P=$(free_port)
	Q=$(free_port)
	conf=$T/v4$proto.conf
	rules "$conf" "log = { level = \"actions\"; };
rules = ( { match = { address = \"0.0.0.0\"; port = $P; }; rewrite = \"127.0.0.1:$Q\"; } );"
	bg s4$proto shim "$conf" "${SERVER[@]}" --proto $proto --addr 0.0.0.0 --port "$P" --id R
	wait_for "$T/s4$proto.out" 'READY|BINDERR'
	check "$proto/IPv4: server asking 0.0.0.0:$P is bound to 127.0.0.1:$Q" grep -q "READY 127.0.0.1 $Q" "$T/s4$proto.out"
	check "$proto/IPv4: reachable at the rewritten address" test "$(ask $proto 127.0.0.1 "$Q" 1 | cut -d' ' -f1)" = R
	check "$proto/IPv4: not reachable at the port it asked for" test "$(ask_none $proto 127.0.0.1 "$P" | cut -d' ' -f1)" != R
	check "$proto/IPv4: not reachable on another local address" test "$(ask_none $proto 127.0.0.2 "$Q" | cut -d' ' -f1)" != R
	check "$proto/IPv4: the rewrite is logged with both addresses" \
		grep -q "bind $proto 0.0.0.0:$P -> 127.0.0.1:$Q: rewrite; rule 1" "$T/s4$proto.err"

	# IPv6, the issue's own form: family ipv6, a port range, rewrite to [::1].
	P=$(free_port)
	conf=$T/v6$proto.conf
	rules "$conf" "rules = ( { match = { family = \"ipv6\"; port = \"$P-$((P + 1))\"; }; rewrite = \"[::1]\"; } );"
	bg s6$proto shim "$conf" "${SERVER[@]}" --proto $proto --family 6 --addr :: --port "$P" --id S
	wait_for "$T/s6$proto.out" 'READY|BINDERR'
	check "$proto/IPv6: server asking [::]:$P is bound to [::1]:$P" grep -q "READY ::1 $P" "$T/s6$proto.out"
	check "$proto/IPv6: reachable at [::1]" test "$(ask $proto ::1 "$P" 1 | cut -d' ' -f1)" = S
	# [::] would have accepted IPv4 too (dual stack); [::1] does not.
	check "$proto/IPv6: no longer reachable over IPv4" test "$(ask_none $proto 127.0.0.1 "$P" | cut -d' ' -f1)" != S

	# Port only: ":Q" keeps the address the program asked for.
	P=$(free_port)
	Q=$(free_port)
	conf=$T/port$proto.conf
	rules "$conf" "rules = ( { match = { port = $P; }; rewrite = \":$Q\"; } );"
	bg sp$proto shim "$conf" "${SERVER[@]}" --proto $proto --addr 127.0.0.1 --port "$P" --id T
	wait_for "$T/sp$proto.out" 'READY|BINDERR'
	check "$proto: rewrite of the port alone keeps the address" grep -q "READY 127.0.0.1 $Q" "$T/sp$proto.out"
done

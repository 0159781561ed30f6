#!/usr/bin/env bash
# Two instances of a server that never sets SO_REUSEPORT, on one port: each
# refuses the other without libreuse; with a reuseport rule both bind and the
# kernel spreads connections (or datagrams) over both.
. "$(dirname "$0")/../lib.sh"

N=40
for proto in tcp udp; do
	for fam in 4 6; do
		addr=127.0.0.1
		[ "$fam" = 6 ] && addr=::1
		P=$(free_port)
		Q=$(free_port)
		tag=$proto$fam
		conf=$T/$tag.conf
		rules "$conf" "rules = ( { match = { port = $P; proto = \"$proto\"; }; reuseport = true; } );"

		bg a$tag "${SERVER[@]}" --proto "$proto" --family "$fam" --addr "$addr" --port "$Q" --id A
		wait_for "$T/a$tag.out" READY
		bg b$tag "${SERVER[@]}" --proto "$proto" --family "$fam" --addr "$addr" --port "$Q" --id B
		wait_for "$T/b$tag.out" 'READY|BINDERR'
		check "$proto/IPv$fam: without libreuse the second instance gets EADDRINUSE" \
			grep -q "BINDERR 98" "$T/b$tag.out"

		bg x$tag shim "$conf" "${SERVER[@]}" --proto "$proto" --family "$fam" --addr "$addr" --port "$P" --id X
		bg y$tag shim "$conf" "${SERVER[@]}" --proto "$proto" --family "$fam" --addr "$addr" --port "$P" --id Y
		wait_for "$T/x$tag.out" 'READY|BINDERR'
		wait_for "$T/y$tag.out" 'READY|BINDERR'
		check "$proto/IPv$fam: under libreuse both instances bind port $P" all_ready x$tag y$tag

		ask "$proto" "$addr" "$P" $N >"$T/answers$tag"
		x=$(grep -c '^X ' "$T/answers$tag")
		y=$(grep -c '^Y ' "$T/answers$tag")
		if [ $((x + y)) -eq $N ] && [ "$x" -gt 0 ] && [ "$y" -gt 0 ]; then
			ok "$proto/IPv$fam: $N clients answered by both instances (X $x, Y $y)"
		else
			not_ok "$proto/IPv$fam: $N clients answered by both instances" "X $x, Y $y of $N"
		fi
	done
done

#!/usr/bin/env bash
# Demo 5: a TCP server and a UDP server on the same port number at once —
# no rule, no option, no libreuse needed. TCP and UDP have separate port
# spaces in the kernel (each protocol its own bind table), so a port number
# is only "in use" for the protocol that holds it.
. "$(dirname "$0")/../tests/lib.sh"
fail() { echo "DEMO FAILED: $*"; exit 1; }
CLI=$BUILD/libreuse

P=$(free_port)
echo "== Demo 5: TCP and UDP on port $P at once, no rule"
bg tcp "${SERVER[@]}" --proto tcp --port "$P" --id tcp-server
bg udp "${SERVER[@]}" --proto udp --port "$P" --id udp-server
wait_for "$T/tcp.out" 'READY|BINDERR' && wait_for "$T/udp.out" 'READY|BINDERR' || fail "servers did not start"
all_ready tcp udp || fail "$(cat "$T/tcp.out" "$T/udp.out")"
echo "   TCP answer: $(ask tcp 127.0.0.1 "$P" 1 | awk '{print $1}')"
echo "   UDP answer: $(ask udp 127.0.0.1 "$P" 1 | awk '{print $1}')"
[ "$(ask tcp 127.0.0.1 "$P" 1 | awk '{print $1}')" = tcp-server ] || fail "TCP server did not answer"
[ "$(ask udp 127.0.0.1 "$P" 1 | awk '{print $1}')" = udp-server ] || fail "UDP server did not answer"
echo "   libreuse who $P:"
"$CLI" who "$P" | grep -E '^(PROTO|tcp|udp) ' | sed 's/^/     /'
echo "   why: $("$CLI" matrix | tail -1)"
echo "PASS"

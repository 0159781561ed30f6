#!/usr/bin/env bash
# Demo 8: UDP sharing, two ways. Two unmodified receivers that set no
# option join one multicast group on one port: libreuse injects
# SO_REUSEADDR and both receive every datagram. Beside it, two unicast
# receivers share a port with SO_REUSEPORT: each datagram reaches exactly
# one of them. In a private network namespace (its own loopback, with a
# multicast route), so nothing leaves the machine.
if [ -z "${LR_DEMO_NETNS:-}" ]; then
	exec unshare --net env LR_DEMO_NETNS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/../tests/lib.sh"
fail() { echo "DEMO FAILED: $*"; exit 1; }
RECV=("$PY" "$ROOT/tests/helpers/receiver.py")
N=200
GROUP=239.1.2.3

ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo ||
	fail "cannot set up the private network namespace's loopback"

# send HOST PORT: N numbered datagrams, each from a fresh socket (a fresh
# source port), multicast looped back on lo.
send() {
	"$PY" - "$1" "$2" "$N" <<'PYEOF'
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        s.sendto(str(i).encode(), (host, port))
    time.sleep(0.001)
PYEOF
}

P=$(free_port)
echo "== Demo 8a: two receivers joined to $GROUP, one port ($P), $N datagrams"
rules "$T/mc.conf" "rules = ( { match = { proto = \"udp\"; port = $P; }; reuseaddr = true; } );"
bg plain1 "${RECV[@]}" --port "$P" --group "$GROUP" --out "$T/plain1.got"
wait_for "$T/plain1.out" 'READY|BINDERR' || fail "receiver 1 did not start"
bg plain2 "${RECV[@]}" --port "$P" --group "$GROUP" --out "$T/plain2.got"
wait_for "$T/plain2.out" 'READY|BINDERR' || fail "receiver 2 did not start"
echo "   without libreuse, the second receiver: $(cat "$T/plain2.out")"
grep -q BINDERR "$T/plain2.out" || fail "the second plain receiver could bind: nothing to show"
kill "$(cat "$T/plain1.pid")"
wait_exit plain1
for r in 1 2; do
	bg "mc$r" shim "$T/mc.conf" "${RECV[@]}" --port "$P" --group "$GROUP" --out "$T/mc$r.got"
	wait_for "$T/mc$r.out" 'READY|BINDERR' || fail "receiver $r did not start under libreuse"
	grep -q READY "$T/mc$r.out" || fail "receiver $r under libreuse: $(cat "$T/mc$r.out")"
done
send "$GROUP" "$P"
for r in 1 2; do
	wait_exit "mc$r" 15 || fail "receiver $r did not finish"
	n=$(sort -u "$T/mc$r.got" | wc -l)
	printf '   receiver %s (under libreuse) got %d of %d\n' "$r" "$n" "$N"
	[ "$n" = "$N" ] || fail "receiver $r missed datagrams"
done
echo "   -> SO_REUSEADDR injected: both joined receivers got every datagram"

Q=$(free_port)
echo "== Demo 8b: two unicast receivers sharing 127.0.0.1:$Q with SO_REUSEPORT, $N datagrams"
rules "$T/rp.conf" "rules = ( { match = { proto = \"udp\"; port = $Q; }; reuseport = true; } );"
for r in 1 2; do
	bg "uc$r" shim "$T/rp.conf" "${RECV[@]}" --addr 127.0.0.1 --port "$Q" --out "$T/uc$r.got"
	wait_for "$T/uc$r.out" 'READY|BINDERR' || fail "unicast receiver $r did not start"
	grep -q READY "$T/uc$r.out" || fail "unicast receiver $r: $(cat "$T/uc$r.out")"
done
send 127.0.0.1 "$Q"
total=0
for r in 1 2; do
	wait_exit "uc$r" 15 || fail "unicast receiver $r did not finish"
	n=$(sort -u "$T/uc$r.got" | wc -l)
	printf '   receiver %s got %d\n' "$r" "$n"
	[ "$n" -gt 0 ] || fail "receiver $r got nothing"
	total=$((total + n))
done
both=$(comm -12 <(sort -u "$T/uc1.got") <(sort -u "$T/uc2.got") | wc -l)
[ "$total" = "$N" ] && [ "$both" = 0 ] || fail "$total received, $both by both"
echo "   -> each of the $N datagrams reached exactly one receiver"
echo "PASS"

#!/usr/bin/env bash
# Each explanation is built on loopback exactly as it happens: the situation,
# a real program refused under libreuse, and the JSON line's holders and
# reason (checked through python's json parser).
. "$(dirname "$0")/../lib.sh"

# log_conf FILE [RULES]: JSON to FILE.log, the given rules.
log_conf() { rules "$1" "log = { format = \"json\"; target = \"$1.log\"; }; rules = ( ${2:-} );"; }
# refused NAME CONF SERVER-ARGS...: a server under the shim that must be refused.
refused() {
	local name=$1 conf=$2
	shift 2
	bg "$name" shim "$conf" "${SERVER[@]}" "$@"
	wait_exit "$name"
	grep -q "BINDERR 98" "$T/$name.out"
}
reason() { "${LOGQ[@]}" "$1.log" event=conflict --get reason; }
holders() { "${LOGQ[@]}" "$1.log" event=conflict --get holders; }

# TIME_WAIT, on IPv4 and IPv6: the server closes first, then exits.
for fam in 4 6; do
	addr=127.0.0.1 host=127.0.0.1
	[ $fam = 6 ] && addr=::1 host="[::1]"
	P=$(free_port)
	bg tw$fam "${SERVER[@]}" --family $fam --addr $addr --port "$P" --serve 1
	wait_for "$T/tw$fam.out" READY
	tcp_get "$host" "$P" >/dev/null
	wait_exit tw$fam
	log_conf "$T/tw$fam.conf"
	check "IPv$fam TIME_WAIT: the restart is refused" refused again$fam "$T/tw$fam.conf" --family $fam --addr $addr --port "$P"
	check "IPv$fam TIME_WAIT: the holder is TIME_WAIT, owned by no process" \
		grep -qF "{\"pid\": null, \"program\": null, \"state\": \"TIME_WAIT\", \"uid\": null" <(holders "$T/tw$fam.conf")
	check "IPv$fam TIME_WAIT: why — this socket has no SO_REUSEADDR" \
		grep -q "^TIME_WAIT left by an earlier connection holds it and this socket has no SO_REUSEADDR" <(reason "$T/tw$fam.conf")
	# With libreuse injecting SO_REUSEADDR: the old socket lacked it.
	log_conf "$T/twr$fam.conf" "{ match = { port = $P; }; reuseaddr = true; }"
	check "IPv$fam TIME_WAIT with SO_REUSEADDR injected: still refused" refused againr$fam "$T/twr$fam.conf" --family $fam --addr $addr --port "$P"
	check "IPv$fam TIME_WAIT: why — the earlier socket had no SO_REUSEADDR (both need it)" \
		grep -q "^TIME_WAIT left by an earlier connection whose socket had no SO_REUSEADDR (both old and new need it" <(reason "$T/twr$fam.conf")
done

# A listener without SO_REUSEPORT, and one that has it but is another user's.
P=$(free_port)
bg plain "${SERVER[@]}" --port "$P"
wait_for "$T/plain.out" READY
log_conf "$T/rp.conf" "{ match = { port = $P; }; reuseport = true; }"
check "listener without SO_REUSEPORT: refused" refused rp "$T/rp.conf" --port "$P"
check "listener without SO_REUSEPORT: why names it" \
	grep -q "^pid $(cat "$T/plain.pid") (python3) is listening on it without SO_REUSEPORT" <(reason "$T/rp.conf")
log_conf "$T/none.conf"
check "listener, this socket without SO_REUSEPORT: refused" refused none "$T/none.conf" --port "$P"
check "...why: this socket has no SO_REUSEPORT" \
	grep -q "is listening on it and this socket has no SO_REUSEPORT: sharing a port needs it on every socket, under one user" <(reason "$T/none.conf")

# A wildcard holder and a specific address.
P=$(free_port)
bg wild "${SERVER[@]}" --addr 0.0.0.0 --port "$P"
wait_for "$T/wild.out" READY
log_conf "$T/wild.conf"
check "wildcard held, specific asked: refused" refused spec "$T/wild.conf" --addr 127.0.0.1 --port "$P"
check "...why: a wildcard and a specific address overlap" \
	grep -q "^a wildcard and a specific address overlap: 127.0.0.1:$P asked for, 0.0.0.0:$P held by pid $(cat "$T/wild.pid") (python3)" <(reason "$T/wild.conf")

# UDP: a bound socket and one without options.
P=$(free_port)
bg udp "${SERVER[@]}" --proto udp --port "$P"
wait_for "$T/udp.out" READY
log_conf "$T/udp.conf"
check "UDP port bound: refused" refused udp2 "$T/udp.conf" --proto udp --port "$P"
check "...why: neither SO_REUSEADDR nor SO_REUSEPORT" \
	grep -q "^pid $(cat "$T/udp.pid") (python3) has it bound and this socket has neither SO_REUSEADDR nor SO_REUSEPORT" <(reason "$T/udp.conf")

# Another user's listener with SO_REUSEPORT: sharing is refused across users.
if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	P=$(free_port)
	log_conf "$T/nobody.conf" "{ match = { port = $P; }; reuseport = true; }"
	chmod 644 "$T/nobody.conf"
	bg other setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env LIBREUSE_CONFIG="$T/nobody.conf" LD_PRELOAD="$(preload)" "${SERVER[@]}" --port "$P"
	wait_for "$T/other.out" READY
	log_conf "$T/me.conf" "{ match = { port = $P; }; reuseport = true; }"
	check "another user's SO_REUSEPORT listener: refused" refused me "$T/me.conf" --port "$P"
	check "...why: sharing is refused across users, naming the holder and its uid" \
		grep -q "^a listener of another user holds it (pid $(cat "$T/other.pid") (python3), uid $(id -u nobody)): SO_REUSEPORT sharing is refused across users" <(reason "$T/me.conf")
else
	ok "# SKIP cross-user: no setpriv or no user nobody"
fi

# The ephemeral range exhausted, in a private network namespace whose range
# is two ports wide (the machine's own sysctl is never touched).
if unshare -n true 2>/dev/null; then
	log_conf "$T/eph.conf"
	cat >"$T/eph.sh" <<EOS
ip link set lo up
sysctl -qw net.ipv4.ip_local_port_range="40000 40001"
${SERVER[*]} --port 5555 --hold >"$T/eph-server.out" &
for i in \$(seq 50); do grep -q READY "$T/eph-server.out" && break; sleep 0.05; done
LIBREUSE_CONFIG="$T/eph.conf" LD_PRELOAD="$(preload)" "$PY" -c '
import socket
held = []
for i in range(10):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", 5555))
    except OSError as e:
        print("CONNECTERR", e.errno, len(held))
        break
    held.append(s)
'
kill %1
EOS
	unshare -n bash "$T/eph.sh" >"$T/eph.out" 2>&1
	check "two ephemeral ports: the third connect gets EADDRNOTAVAIL" grep -q "CONNECTERR 99 2" "$T/eph.out"
	check "...why: the ephemeral port range is exhausted, with the range" \
		grep -q "^the ephemeral port range is exhausted: no free local port reaches 127.0.0.1:5555 (net.ipv4.ip_local_port_range 40000-40001, 2 ports" <(reason "$T/eph.conf")
else
	ok "# SKIP ephemeral exhaustion: no network namespaces here"
fi

#!/usr/bin/env bash
# A conflict fails exactly as it would have, and leaves one line that says
# what was asked, which errno, the reuse options on the socket, and who holds
# the port (pid, program, state, uid) — for a TCP listener and a bound UDP
# socket, on IPv4 and IPv6.
. "$(dirname "$0")/../lib.sh"

for proto in tcp udp; do
	for fam in 4 6; do
		addr=127.0.0.1
		[ "$fam" = 6 ] && addr=::1
		P=$(free_port)
		tag=$proto$fam
		bg holder$tag "${SERVER[@]}" --proto $proto --family $fam --addr $addr --port "$P"
		wait_for "$T/holder$tag.out" READY
		# A rule file that says nothing about this port: logging only.
		rules "$T/$tag.conf" "rules = ( { match = { port = 1; }; reuseaddr = true; } );"
		bg plain$tag "${SERVER[@]}" --proto $proto --family $fam --addr $addr --port "$P"
		bg shim$tag shim "$T/$tag.conf" "${SERVER[@]}" --proto $proto --family $fam --addr $addr --port "$P"
		wait_exit plain$tag
		wait_exit shim$tag
		check "$proto/IPv$fam: the program sees the same failure with and without libreuse" \
			diff "$T/plain$tag.out" "$T/shim$tag.out"
		check "$proto/IPv$fam: ...which is EADDRINUSE" grep -q "BINDERR 98" "$T/shim$tag.out"
		want="python3: bind $proto $addr:$P failed: EADDRINUSE (Address already in use); reuse: none"
		[ "$fam" = 6 ] && want="python3: bind $proto \[$addr\]:$P failed: EADDRINUSE \(Address already in use\); reuse: none"
		[ "$fam" = 4 ] && want="python3: bind $proto $addr:$P failed: EADDRINUSE \(Address already in use\); reuse: none"
		state=LISTEN
		[ "$proto" = udp ] && state=UNCONN
		hp=$(cat "$T/holder$tag.pid")
		check "$proto/IPv$fam: exactly one conflict line, with pid, address, errno and the holder" \
			test "$(grep -cE "^libreuse\[[0-9]+\]: $want; held by: pid $hp \(python3\) $state .*:$P uid $(id -u); why: .+\$" "$T/shim$tag.err")" = 1
	done
done

# EADDRNOTAVAIL: an address this machine does not have.
rules "$T/na.conf" "rules = ();"
bg na shim "$T/na.conf" "${SERVER[@]}" --addr 192.0.2.1 --port "$(free_port)"
wait_exit na
check "EADDRNOTAVAIL reaches the program" grep -q "BINDERR 99" "$T/na.out"
check "EADDRNOTAVAIL is logged" grep -q "bind tcp 192.0.2.1:.* failed: EADDRNOTAVAIL (Cannot assign requested address)" "$T/na.err"

# EACCES: a privileged port for an unprivileged user, where the kernel says so.
if [ "$(sysctl -n net.ipv4.ip_unprivileged_port_start 2>/dev/null || echo 1024)" -gt 80 ] && command -v setpriv >/dev/null; then
	cp "$T/na.conf" "$T/acc.conf" && chmod 644 "$T/acc.conf"
	bg acc setpriv --reuid=nobody --regid=nogroup --clear-groups env LIBREUSE_CONFIG="$T/acc.conf" LD_PRELOAD="$(preload)" "${SERVER[@]}" --port 80
	wait_exit acc
	check "EACCES reaches the program" grep -q "BINDERR 13" "$T/acc.out"
	check "EACCES is logged" grep -q "bind tcp 127.0.0.1:80 failed: EACCES (Permission denied)" "$T/acc.err"
else
	ok "# SKIP EACCES: unprivileged users may bind low ports here"
fi

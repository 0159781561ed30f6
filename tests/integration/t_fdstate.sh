#!/usr/bin/env bash
# What libreuse knows of an fd follows the number through every call that
# changes what it refers to: a TCP socket's number taken over by a UDP
# socket (dup2, dup3; or close_range, closefrom, fclose of an fdopen'ed
# socket, then a UDP socket put there by F_DUPFD) is a UDP socket to the
# rules: a `proto = "tcp"` deny does not refuse its bind.
. "$(dirname "$0")/../lib.sh"

P=$(free_port)
rules "$T/tcp.conf" "rules = ( { match = { proto = \"tcp\"; port = $P; }; deny = \"EACCES\"; } );"
for how in dup2 dup3 close_range closefrom fclose; do
	out=$(shim "$T/tcp.conf" "$HELPERS/fdreuse" "$how" "$P" 2>&1)
	check "$how: the UDP socket now at a TCP socket's number binds (a tcp deny does not apply): $out" \
		test "$out" = ok
done
# The rule itself still works on a real TCP socket of that port.
check "...while a TCP bind of that port is denied" grep -q -- "-1 EACCES" <(shim "$T/tcp.conf" "$HELPERS/bindprobe" "$P")

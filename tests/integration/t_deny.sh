#!/usr/bin/env bash
# deny: the call fails with the rule's errno and nothing reaches the kernel;
# a program glob limits the rule to the program it names.
. "$(dirname "$0")/../lib.sh"

P=$(free_port)
Q=$(free_port)
rules "$T/deny.conf" "log = { level = \"actions\"; };
rules = (
  { match = { program = \"legacy*\"; port = \"$P-$P\"; }; deny = \"EACCES\"; },
  { match = { proto = \"udp\"; port = $Q; }; deny = \"EPERM\"; }
);"
# exec -a gives the program the name a legacy daemon would have.
bg legacy shim "$T/deny.conf" bash -c 'exec -a legacyd "$@"' _ "${SERVER[@]}" --port "$P"
wait_exit legacy
check "a program matching the glob gets EACCES" grep -q "BINDERR 13 EACCES" "$T/legacy.out"
check "the deny is logged with the program name" grep -q "legacyd: bind tcp 127.0.0.1:$P: deny EACCES; rule 1" "$T/legacy.err"
check "nothing reached the kernel: the port is still free" test -z "$(ss -Htan "( sport = :$P )")"

bg other shim "$T/deny.conf" "${SERVER[@]}" --port "$P"
wait_for "$T/other.out" 'READY|BINDERR'
check "another program is not denied" grep -q "READY" "$T/other.out"

bg udp shim "$T/deny.conf" "${SERVER[@]}" --proto udp --port "$Q"
bg tcp shim "$T/deny.conf" "${SERVER[@]}" --proto tcp --port "$Q"
wait_exit udp
wait_for "$T/tcp.out" 'READY|BINDERR'
check "a UDP-only deny gives EPERM to UDP" grep -q "BINDERR 1 EPERM" "$T/udp.out"
check "...and leaves TCP on the same port alone" grep -q READY "$T/tcp.out"

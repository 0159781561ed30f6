#!/usr/bin/env bash
# libreuse's own calls (reading rules, finding a port's holders, logging)
# never go through its own exported hooks: the dynamic loader binds no
# reference of libreuse.so to a function of libreuse.so.
. "$(dirname "$0")/../lib.sh"

H=$(free_port)
bg holder "${SERVER[@]}" --port "$H"
wait_for "$T/holder.out" READY
rules "$T/r.conf" "log = { level = \"all\"; target = \"syslog\"; };
rules = ( { match = { port = $H; }; reuseaddr = true; } );"
# A conflict: holders (a netlink socket), the explanation, the log line.
LD_DEBUG=bindings LD_DEBUG_OUTPUT=$T/ld shim "$T/r.conf" "$HELPERS/bindprobe" "$H" >"$T/probe.out" 2>&1
check "the probe met the held port (so holders were looked up)" grep -q "EADDRINUSE" "$T/probe.out"
check "the loader's bindings were recorded" test -s "$(ls "$T"/ld.* | head -1)"
self=$(grep -h "libreuse\.so \[0\] to .*libreuse\.so \[0\]" "$T"/ld.* | head -3)
check "no call of libreuse.so binds to libreuse.so's own functions${self:+: $self}" test -z "$self"

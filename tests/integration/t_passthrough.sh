#!/usr/bin/env bash
# What libreuse must not change: awkward calls (NULL or short sockaddrs,
# non-sockets, AF_UNIX, AF_UNSPEC) give the same result and errno with and
# without it; without a rule file it is silent; SOCK_NONBLOCK|SOCK_CLOEXEC
# sockets still count as TCP.
. "$(dirname "$0")/../lib.sh"

P=$(free_port)
H=$(free_port)
bg holder "${SERVER[@]}" --port "$H"
wait_for "$T/holder.out" READY

"$HELPERS/callprobe" "$P" "$H" "$T/u.sock" >"$T/plain.out" 2>&1
# No rule file anywhere: pass-through, silently.
LD_PRELOAD=$(preload) "$HELPERS/callprobe" "$P" "$H" "$T/u.sock" >"$T/none.out" 2>"$T/none.err"
check "no rule file: every result and errno as without libreuse" diff "$T/plain.out" "$T/none.out"
check "no rule file: libreuse prints nothing" test ! -s "$T/none.err"

# A rule that matches every TCP bind and logs everything.
rules "$T/all.conf" "log = { level = \"all\"; };
rules = ( { match = { proto = \"tcp\"; }; reuseaddr = true; } );"
shim "$T/all.conf" "$HELPERS/callprobe" "$P" "$H" "$T/u.sock" >"$T/all.out" 2>"$T/all.err"
check "catch-all rule: every result and errno as without libreuse" diff "$T/plain.out" "$T/all.out"
check "a SOCK_NONBLOCK|SOCK_CLOEXEC socket is matched as TCP" \
	grep -q "callprobe: bind tcp 127.0.0.1:$P: inject SO_REUSEADDR; rule 1" "$T/all.err"
check "the conflict on the held port is logged" \
	grep -q "callprobe: bind tcp 127.0.0.1:$H failed: EADDRINUSE" "$T/all.err"
check "AF_UNIX sockets are never touched or logged" test -z "$(grep -i unix "$T/all.err")"
# Only "bind again" (a complete address on a bound socket) may show EINVAL;
# NULL, short and zero-length sockaddrs and non-sockets are not ours to log.
check "calls with no complete IP sockaddr are not logged" test -z "$(grep -E 'EFAULT|EBADF' "$T/all.err")"
check "...the one EINVAL logged is the bind on a bound socket" \
	test "$(grep -c "EINVAL" "$T/all.err")" = 1

#!/usr/bin/env bash
# Hot reload: a running program picks up a changed rule file within about a
# second, on its next intercepted call; a broken new file keeps the old rules
# and is reported once; a deleted file keeps them too.
. "$(dirname "$0")/../lib.sh"

cat >"$T/driver.py" <<'PY'
import socket, sys
for line in sys.stdin:          # each line: a port to bind; answer where it went
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", int(line)))
        print(s.getsockname()[1], flush=True)
    except OSError as e:
        print("ERR", e.errno, flush=True)
    s.close()
PY
P=$(free_port)
Q1=$(free_port)
Q2=$(free_port)
conf=$T/reload.conf
rules "$conf" "rules = ( { match = { port = $P; }; rewrite = \":$Q1\"; } );"
coproc DRV { shim "$conf" "$PY" -u "$T/driver.py" 2>"$T/driver.err"; }
ask_bind() { echo "$P" >&"${DRV[1]}" && read -r -t 5 answer <&"${DRV[0]}" && echo "$answer"; }

check "the first rules apply (P -> $Q1)" test "$(ask_bind)" = "$Q1"
rules "$conf" "rules = ( { match = { port = $P; }; rewrite = \":$Q2\"; } ); # changed"
sleep 1.2
check "a changed file is picked up by the running program (P -> $Q2)" test "$(ask_bind)" = "$Q2"

printf 'rules = (\n  { match = { port = %s; }; rewrite = ":1"; \n' "$P" >"$conf"
sleep 1.2
check "a broken new file keeps the rules in force" test "$(ask_bind)" = "$Q2"
sleep 1.2
ask_bind >/dev/null
check "the broken file is reported once, with its line" \
	test "$(grep -c "reload.conf:3: syntax error" "$T/driver.err")" = 1

rules "$conf" "rules = ( { match = { port = $P; }; rewrite = \":$Q1\"; } ); # fixed"
sleep 1.2
check "a fixed file is picked up again" test "$(ask_bind)" = "$Q1"

rm -f "$conf"
sleep 1.2
check "a deleted file keeps the rules in force" test "$(ask_bind)" = "$Q1"
check "...and the removal is reported" grep -q "reload.conf: rule file removed; keeping the rules in force" "$T/driver.err"
# `printf ... > file` truncates, then writes: a check that lands in between
# sees an empty file. That must not drop the rules for a second.
sleep 1.2
: >"$conf"
check "an empty file just written (a write in progress) keeps the rules in force" \
	test "$(ask_bind)" = "$Q1"
sleep 1.2
check "...and once it has stayed empty for a whole interval, it clears them" \
	test "$(ask_bind)" = "$P"
exec {DRV[1]}>&-
wait

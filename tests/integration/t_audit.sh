#!/usr/bin/env bash
# The audit trail of a real program: at level "all" every bind, listen,
# connect and reuse setsockopt, with who set which option; one verdict per
# program; dry runs that change nothing; a summary at exit; and a retry loop
# of 2,000 failing binds that cannot flood the log.
. "$(dirname "$0")/../lib.sh"

q() { "${LOGQ[@]}" "$@"; }

# A program that sets SO_REUSEADDR itself, listens twice and connects to
# itself; libreuse injects SO_REUSEPORT on one port.
P=$(free_port)
Q=$(free_port)
rules "$T/all.conf" "log = { level = \"all\"; format = \"json\"; target = \"$T/all.log\"; };
rules = ( { match = { port = $P; }; reuseport = true; } );"
shim "$T/all.conf" "$PY" -c "
import socket
a = socket.socket()
a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
a.bind(('127.0.0.1', $P))
a.listen(4)
b = socket.socket()
b.bind(('127.0.0.1', $Q))
b.listen(4)
c = socket.create_connection(('127.0.0.1', $P))
print('DONE')
" >"$T/all.out" 2>"$T/all.err"
check "level all: the program ran untouched" grep -q DONE "$T/all.out"
check "level all: every line is JSON" q "$T/all.log" --count >/dev/null
check "level all: its setsockopt, with the value" \
	test "$(q "$T/all.log" event=call op=setsockopt message=SO_REUSEADDR=1 --count)" = 1
check "level all: the bind, with what the program set and what libreuse injected" \
	test "$(q "$T/all.log" event=call op=bind port="$P" 'set_by_program=["SO_REUSEADDR"]' 'injected=["SO_REUSEPORT"]' result=0 --count)" = 1
check "level all: the injection itself, as an action" \
	test "$(q "$T/all.log" event=action action=inject message=SO_REUSEPORT port="$P" --count)" = 1
check "level all: both listens" test "$(q "$T/all.log" event=call op=listen result=0 --count)" = 2
check "level all: the connect, to the address asked for" \
	test "$(q "$T/all.log" event=call op=connect addr=127.0.0.1 port="$P" result=0 --count)" = 1
check "level all: one verdict for the program, at its first listener" \
	test "$(q "$T/all.log" event=verdict --count)" = 1
check "...which says it sets SO_REUSEADDR itself and never SO_REUSEPORT" \
	grep -q "^sets SO_REUSEADDR itself: it can restart at once; never sets SO_REUSEPORT: a second instance cannot share its port" <(q "$T/all.log" event=verdict --get message)
check "level all: a summary at exit counting the injection" \
	grep -qF '"injections": 1' <(q "$T/all.log" event=summary --get counts)

# The legacy program's verdict, in text.
P=$(free_port)
rules "$T/legacy.conf" 'log = { level = "all"; }; rules = ();'
bg legacy shim "$T/legacy.conf" "${SERVER[@]}" --port "$P" --serve 1
wait_for "$T/legacy.out" READY
tcp_get 127.0.0.1 "$P" >/dev/null
wait_exit legacy
check "a program that sets nothing: its verdict line" \
	grep -qE "^libreuse\[[0-9]+\]: python3: verdict: never sets SO_REUSEADDR: it cannot restart while TIME_WAIT lingers \(rule: reuseaddr = true\); never sets SO_REUSEPORT" "$T/legacy.err"
check "...and no summary: libreuse did nothing and saw no failure" \
	test "$(grep -c "summary:" "$T/legacy.err")" = 0

# Dry run, for the whole file and for one rule: decided, logged as "would",
# nothing changed — the program binds its own address.
for where in file rule; do
	P=$(free_port)
	R=$(free_port)
	if [ $where = file ]; then
		rules "$T/dry$where.conf" "dry_run = true; log = { level = \"all\"; };
rules = ( { match = { port = $P; }; rewrite = \":$R\"; reuseaddr = true; } );"
	else
		rules "$T/dry$where.conf" "log = { level = \"all\"; };
rules = ( { match = { port = $P; }; rewrite = \":$R\"; reuseaddr = true; dry_run = true; } );"
	fi
	bg dry$where shim "$T/dry$where.conf" "${SERVER[@]}" --port "$P" --serve 0
	wait_exit dry$where
	check "dry run ($where): the program keeps its own address" grep -q "READY 127.0.0.1 $P\$" "$T/dry$where.out"
	check "dry run ($where): would rewrite" grep -q "bind tcp 127.0.0.1:$P -> 127.0.0.1:$R: would rewrite" "$T/dry$where.err"
	check "dry run ($where): would inject" grep -q "bind tcp 127.0.0.1:$P: would inject SO_REUSEADDR" "$T/dry$where.err"
	check "dry run ($where): the bind went through untouched, no option injected" \
		grep -q "bind tcp 127.0.0.1:$P ok; reuse: none; rule 1" "$T/dry$where.err"
	check "dry run ($where): the summary counts decisions, not actions" \
		grep -q "summary: 0 injections, 0 rewrites, 0 denies, 0 source binds, 0 retries, 0 kept sockets, 0 adoptions, 0 conflicts, 2 dry run actions" "$T/dry$where.err"
done

# A retry loop: 2,000 failing binds to a held port in one program.
H=$(free_port)
bg holder "${SERVER[@]}" --port "$H"
wait_for "$T/holder.out" READY
rules "$T/loop.conf" "log = { level = \"actions\"; format = \"json\"; target = \"$T/loop.log\"; }; rules = ();"
shim "$T/loop.conf" "$PY" -c "
import socket
failed = 0
for i in range(2000):
    s = socket.socket()
    try:
        s.bind(('127.0.0.1', $H))
    except OSError:
        failed += 1
    s.close()
print('FAILED', failed)
" >"$T/loop.out" 2>"$T/loop.err"
check "2,000 binds, all refused, each seen by the program" grep -q "FAILED 2000" "$T/loop.out"
check "...5 conflict lines written, each naming the holder" \
	test "$(q "$T/loop.log" event=conflict --get holders | grep -c "\"pid\": $(cat "$T/holder.pid"), \"program\": \"python3\", \"state\": \"LISTEN\"")" = 5
check "...the summary counts 2,000 conflicts and 1,995 lines suppressed" \
	grep -qF '"conflicts": 2000, "dry_run_actions": 0, "suppressed_lines": 1995}' <(q "$T/loop.log" event=summary --get counts)
check "...and nothing went to stderr" test ! -s "$T/loop.err"

# The same flood at the default level (conflicts): 5 lines, and at exit the
# number held back, though the program ended within the window.
rules "$T/loopd.conf" "rules = ();"
shim "$T/loopd.conf" "$PY" -c "
import socket
for i in range(2000):
    s = socket.socket()
    try:
        s.bind(('127.0.0.1', $H))
    except OSError:
        pass
    s.close()
" >"$T/loopd.out" 2>"$T/loopd.err"
check "default level: 5 conflict lines" test "$(grep -c 'failed: EADDRINUSE' "$T/loopd.err")" = 5
check "default level: ...and at exit, how many were held back" \
	grep -qE "^libreuse\[[0-9]+\]: python3: summary: 2000 conflicts, 1995 suppressed lines; 0 lines dropped$" "$T/loopd.err"

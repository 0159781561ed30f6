#!/usr/bin/env bash
# libreuse audit: a legacy daemon (two TCP listeners, a UDP socket, no
# SO_REUSEADDR, a backend connection, a failing bind) audited by running it;
# its report checked field by field from --json and in text; reports from
# the logs of several processes and runs (a forking server, an exec'd
# helper), from stdin, from a truncated and garbled log; a listener the
# trail does not explain named as "not seen by libreuse".
. "$(dirname "$0")/../lib.sh"

LEGACY=("$PY" "$ROOT/tests/helpers/legacyd.py")
# pyq FILE EXPR: EXPR (Python, the document as d) over the JSON in FILE.
pyq() { "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# pylist N...: "[(N1, K), (N2, K)]" for sorted ports N and a suffix K given as SUFFIX=.
pairs() {
	local suffix=$1
	shift
	"$PY" -c 'import sys; print("[" + ", ".join("(%d%s)" % (int(n), sys.argv[1]) for n in sorted(map(int, sys.argv[2:]))) + "]")' "$suffix" "$@"
}
# eq DESC FILE EXPR WANT: ok when EXPR over FILE prints WANT.
eq() {
	local got
	got=$(pyq "$2" "$3" 2>&1)
	if [ "$got" = "$4" ]; then ok "$1"; else not_ok "$1" "$3" "got:  $got" "want: $4"; fi
}

P=$(free_port)
A=$(free_port)
U=$(free_port)
BUSY=$(free_port)
BACK=$(free_port)
# The port the daemon cannot have, and its backend: plain servers, no libreuse.
bg busy "${SERVER[@]}" --port "$BUSY"
bg back "${SERVER[@]}" --port "$BACK"
wait_for "$T/busy.out" READY && wait_for "$T/back.out" READY || not_ok "the helper servers did not start"
BUSY_PID=$(cat "$T/busy.pid")

# --- one run, audited by the audit itself; stopped by --for ---
"$CLI" audit --json --for 3 --save "$T/run1.json" -- \
	"${LEGACY[@]}" --port "$P" --admin "$A" --udp "$U" --busy "$BUSY" --backend "$BACK" \
	>"$T/r1.json" 2>"$T/r1.err"
rc=$?
check "audit -- CMD: exit 0 after the report" test "$rc" = 0
check "...the document is one JSON value" pyq "$T/r1.json" 'd["libreuse_audit"]'
eq "...every line of the trail was a libreuse line" "$T/r1.json" 'd["bad_lines"], d["lines"] > 5' "(0, True)"
eq "...one program, python3, one process" "$T/r1.json" \
	'[(p["name"], len(p["processes"])) for p in d["programs"]]' "[('python3', 1)]"
G='p = d["programs"][0]'
eq "...exactly its three listeners: TCP v4, TCP v6, UDP, at the ports asked" "$T/r1.json" \
	'sorted((s["proto"], s["family"], s["addr"], s["port"], s["effective_port"]) for s in d["programs"][0]["sockets"] if s["listener"])' \
	"[('tcp', 'ipv4', '127.0.0.1', $P, $P), ('tcp', 'ipv6', '::1', $A, $A), ('udp', 'ipv4', '127.0.0.1', $U, $U)]"
eq "...the TCP ones listened on, once each" "$T/r1.json" \
	'sorted((s["port"], s["binds"], s["listens"]) for s in d["programs"][0]["sockets"] if s["proto"] == "tcp" and s["listener"])' \
	"$(pairs ", 1, 1" "$P" "$A")"
eq "...each TCP listener's backlog as it asked (listen(64), listen(8)), none for UDP" "$T/r1.json" \
	'sorted((s["proto"], s["port"], s["backlog"], s["backlog_min"]) for s in d["programs"][0]["sockets"] if s["listener"])' \
	"$("$PY" -c 'import sys; p, a, u = map(int, sys.argv[1:]); print(sorted([("tcp", p, 64, 64), ("tcp", a, 8, 8), ("udp", u, None, None)]))' "$P" "$A" "$U")"
check "...as the trail's listen lines say them" test \
	"$(grep '"op":"listen"' "$T/run1.json" | grep -oE '"port":[0-9]+,.*"backlog":-?[0-9]+' | sed -E 's/"port":([0-9]+),.*"backlog":/\1 /' | sort -n | tr '\n' ' ')" = \
	"$(printf '%s\n' "$P 64" "$A 8" | sort -n | tr '\n' ' ')"
eq "...no reuse option set by the program, none injected" "$T/r1.json" \
	'sorted(set(o for s in d["programs"][0]["sockets"] for o in s["set_by_program"] + s["injected"]))' "[]"
eq "...the failing bind: a socket with one failed bind, not a listener" "$T/r1.json" \
	'[(s["port"], s["binds"], s["failed_binds"], s["listener"]) for s in d["programs"][0]["sockets"] if s["failed_binds"]]' \
	"[($BUSY, 1, 1, False)]"
eq "...its failure: EADDRINUSE, the holder by pid and program, Linux's reason" "$T/r1.json" \
	'[(f["op"], f["proto"], f["port"], f["errno"], f["count"], f["holder"], "SO_REUSEPORT" in f["reason"]) for f in d["programs"][0]["failures"]]' \
	"[('bind', 'tcp', $BUSY, 'EADDRINUSE', 1, 'pid $BUSY_PID (python3) LISTEN', True)]"
eq "...its one connect: the backend, once, succeeded, source port the kernel's" "$T/r1.json" \
	'[(c["proto"], c["addr"], c["port"], c["count"], c["ok"], c["failed"], c["source"]) for c in d["programs"][0]["connects"]]' \
	"[('tcp', '127.0.0.1', $BACK, 1, 1, 0, 'kernel')]"
eq "...no rule acted, nothing denied" "$T/r1.json" \
	'(d["programs"][0]["actions"], d["programs"][0]["verdict"]["denied"])' "([], 0)"
eq "...verdict: cannot restart at once, cannot share, loses connections" "$T/r1.json" \
	'(lambda v: (v["listeners"], v["restart_at_once"], v["can_share"], v["loses_connections"], v["conflicts"]))(d["programs"][0]["verdict"])' \
	"(3, False, False, True, 1)"
eq "...the log's own verdict is carried" "$T/r1.json" \
	'd["programs"][0]["log_verdicts"][0].startswith("never sets SO_REUSEADDR")' "True"
eq "...nothing on its ports now that the trail does not explain" "$T/r1.json" \
	'd["programs"][0]["not_seen"]' "[]"

# The same trail in text: the main lines, within 80 columns.
"$CLI" audit "$T/run1.json" >"$T/r1.txt" 2>&1
check "text: the program and its process (a file holds no path)" grep -q "^python3: 1 process," "$T/r1.txt"
check "text: the TCP listener, asked and used, with the options it sets" \
	grep -qE "^    tcp v4 +127\.0\.0\.1:$P +listen 1x  backlog 64  sets: none$" "$T/r1.txt"
check "text: the IPv6 listener, its backlog padded to the column" \
	grep -qE "^    tcp v6 +\[::1\]:$A +listen 1x  backlog 8   sets: none$" "$T/r1.txt"
check "text: the UDP socket, no backlog" grep -qE "^    udp v4 +127\.0\.0\.1:$U +bound  1x {14}sets: none$" "$T/r1.txt"
check "text: the backend connect" grep -qE "^    tcp 127\.0\.0\.1:$BACK +1x, 1 ok; source port: the kernel's$" "$T/r1.txt"
check "text: the failure with its holder" \
	grep -q "^    bind tcp 127.0.0.1:$BUSY EADDRINUSE 1x, held by pid $BUSY_PID (python3) LISTEN$" "$T/r1.txt"
check "text: ...and why" grep -q "^      why: pid $BUSY_PID (python3) is listening on it" "$T/r1.txt"
check "text: the verdict in plain words" grep -q "^    - it cannot restart at once: 2 of its 2 TCP listeners lack SO_REUSEADDR" "$T/r1.txt"
check "text: ...connections lost on restart" grep -q "^    - it loses connections on restart" "$T/r1.txt"
long=$(awk 'length($0) > 80' "$T/r1.txt")
check "text: no line wider than 80 columns" test -z "$long"
check "text: no colour when not on a terminal" test -z "$(grep -l $'\033' "$T/r1.txt")"
check "text: lines read and skipped" grep -qE "^[0-9]+ lines read, 0 not a libreuse JSON line" "$T/r1.txt"

# --- a ruled run, read from its trail: what was injected, what rules did, what was denied ---
RP=$(free_port)
rules "$T/ruled.conf" "rules = (
	{ match = { port = $RP; proto = \"tcp\"; }; reuseaddr = true; reuseport = true; },
	{ match = { op = \"connect\"; port = $BACK; }; deny = \"EACCES\"; }
);"
bg ruled "$CLI" run -c "$T/ruled.conf" --log all --json --log-file "$T/ruled.log" -- \
	"${LEGACY[@]}" --port "$RP" --admin "$(free_port)" --udp "$(free_port)" --backend "$BACK"
wait_for "$T/ruled.out" READY 10 || not_ok "the ruled daemon did not start" "$(tail -3 "$T/ruled.err")"
kill -TERM "$(cat "$T/ruled.pid")"
wait_exit ruled 10
"$CLI" audit --json --no-kernel "$T/ruled.log" >"$T/ruled.json" 2>&1
"$CLI" audit --no-kernel "$T/ruled.log" >"$T/ruled.txt" 2>&1
eq "ruled run: the options libreuse injected, apart from those the program set" "$T/ruled.json" \
	'[(s["port"], s["set_by_program"], s["injected"]) for s in d["programs"][0]["sockets"] if s["port"] == '"$RP"']' \
	"[($RP, [], ['SO_REUSEADDR', 'SO_REUSEPORT'])]"
eq "...what each rule did, with its count" "$T/ruled.json" \
	'[(a["rule"], a["action"], a["op"], a["port"], a["count"]) for a in d["programs"][0]["actions"]]' \
	"[(1, 'inject', 'bind', $RP, 1), (2, 'deny', 'connect', $BACK, 1)]"
eq "...the denied connect: a failure marked denied, counted in the verdict" "$T/ruled.json" \
	'([(f["op"], f["port"], f["errno"], f["denied"]) for f in d["programs"][0]["failures"]], d["programs"][0]["verdict"]["denied"])' \
	"([('connect', $BACK, 'EACCES', True)], 1)"
check "...in text: the injected options on the listener's line" \
	grep -qE "^    tcp v4 +127\.0\.0\.1:$RP +listen 1x  backlog 64  sets: none, injected: SO_REUSEADDR,SO_REUSEPORT$" "$T/ruled.txt"
check "...and the denial, with the rule that denied it" \
	test "$(grep -A1 "^    connect tcp 127\.0\.0\.1:$BACK denied with EACCES 1x$" "$T/ruled.txt" | tail -1)" = "      why: rule 2 denies it"

check "...the verdict's words agree with one listener in two" \
	grep -q "^    - it cannot restart at once: 1 of its 2 TCP listeners lacks SO_REUSEADDR," "$T/ruled.txt"

# --- a forking server with an exec'd helper, a second run, two files ---
P2=$(free_port)
"$CLI" audit --for 3 --save "$T/run2.json" -- \
	"${LEGACY[@]}" --fork --port "$P" --admin "$A" --udp "$U" --backend "$BACK" \
	--helper "exec $PY -c 'import socket; socket.create_connection((\"127.0.0.1\", $BACK)).recv(64)'" \
	>"$T/r2.txt" 2>"$T/r2.err"
check "forking server: audited, its three processes (server, worker, helper)" \
	grep -qE "^python3 \(/usr/bin/python3\): 3 processes," "$T/r2.txt"
"$CLI" audit --json "$T/run1.json" "$T/run2.json" >"$T/both.json" 2>"$T/both.err"
eq "two runs: four processes (a run; the forking server, its worker, its helper)" "$T/both.json" \
	'len(d["programs"][0]["processes"])' 4
eq "two runs: the same three listeners, each bound twice" "$T/both.json" \
	'sorted((s["port"], s["binds"]) for s in d["programs"][0]["sockets"] if s["listener"])' \
	"$(pairs ", 2" "$P" "$A" "$U")"
eq "two runs: the backend reached 3 times (run 1, the worker, the helper)" "$T/both.json" \
	'[(c["port"], c["count"], c["ok"]) for c in d["programs"][0]["connects"]]' "[($BACK, 3, 3)]"

# --- stdin ---
cat "$T/run1.json" "$T/run2.json" | "$CLI" audit --json - >"$T/stdin.json" 2>"$T/stdin.err"
check "stdin: the same report as from the files" cmp -s "$T/stdin.json" "$T/both.json"

# --- backlogs across runs, and a trail from before the backlog field ---
sed 's/"backlog":64,/"backlog":16,/' "$T/run1.json" >"$T/run1-16.json"
"$CLI" audit --json --no-kernel "$T/run1.json" "$T/run1-16.json" >"$T/bl.json" 2>"$T/bl.err"
eq "backlogs: two runs asking 64 and 16 give the largest and the smallest" "$T/bl.json" \
	'[(s["backlog"], s["backlog_min"]) for s in d["programs"][0]["sockets"] if s["port"] == '"$P"']' "[(64, 16)]"
"$CLI" audit --no-kernel "$T/run1.json" "$T/run1-16.json" >"$T/bl.txt" 2>&1
check "...in text, as a range" grep -qE "^    tcp v4 +127\.0\.0\.1:$P +listen 2x  backlog 16\.\.64  sets: none$" "$T/bl.txt"
sed -E 's/"backlog":-?[0-9]+,//' "$T/run1.json" >"$T/old.json"
"$CLI" audit --json --no-kernel "$T/old.json" >"$T/old.out" 2>&1
eq "a trail with no backlog field: the backlog unknown (null), not 0" "$T/old.out" \
	'sorted(set((s["backlog"], s["backlog_min"]) for s in d["programs"][0]["sockets"]))' "[(None, None)]"
"$CLI" audit --no-kernel "$T/old.json" >"$T/old.txt" 2>&1
check "...and no backlog column in text" grep -qE "^    tcp v4 +127\.0\.0\.1:$P +listen 1x  sets: none$" "$T/old.txt"

# --- a denied connect: under connects too, marked denied, counted ---
DP=$(free_port)
rules "$T/deny.conf" "rules = (
	{ match = { op = \"connect\"; port = $BACK; }; deny = \"EACCES\"; }
);"
"$CLI" run -c "$T/deny.conf" --log all --json --log-file "$T/deny.log" -- \
	"${LEGACY[@]}" --port "$DP" --admin "$(free_port)" --udp "$(free_port)" --backend "$BACK" --serve 0 \
	>"$T/deny.out" 2>"$T/deny.err"
"$CLI" audit --json --no-kernel "$T/deny.log" >"$T/deny.json" 2>&1
"$CLI" audit --no-kernel "$T/deny.log" >"$T/deny.txt" 2>&1
eq "a denied connect: listed under connects, marked denied, never ok" "$T/deny.json" \
	'[(c["port"], c["count"], c["ok"], c["failed"], c["denied"]) for c in d["programs"][0]["connects"]]' \
	"[($BACK, 1, 0, 0, 1)]"
eq "...and still a failure marked denied" "$T/deny.json" \
	'[(f["op"], f["port"], f["errno"], f["denied"]) for f in d["programs"][0]["failures"]]' \
	"[('connect', $BACK, 'EACCES', True)]"
check "...in text: under connects with its count, no source port (it never left)" \
	grep -qE "^    tcp 127\.0\.0\.1:$BACK +1x, 0 ok, 1 denied$" "$T/deny.txt"
check "...not 'connects: none'" test "$(grep -A1 '^  connects:$' "$T/deny.txt" | tail -1)" != "    none"
# A dry run's deny refuses nothing: the connect is made, and is no failure.
rules "$T/drydeny.conf" "rules = (
	{ match = { op = \"connect\"; port = $BACK; }; deny = \"EACCES\"; dry_run = true; }
);"
"$CLI" run -c "$T/drydeny.conf" --log all --json --log-file "$T/drydeny.log" -- \
	"${LEGACY[@]}" --port "$DP" --admin "$(free_port)" --udp "$(free_port)" --backend "$BACK" --serve 0 \
	>"$T/drydeny.out" 2>"$T/drydeny.err"
"$CLI" audit --json --no-kernel "$T/drydeny.log" >"$T/drydeny.json" 2>&1
eq "a dry run's deny: the connect made and ok, nothing denied, no denied failure" "$T/drydeny.json" \
	'([(c["port"], c["count"], c["ok"], c["denied"]) for c in d["programs"][0]["connects"]], [f["op"] for f in d["programs"][0]["failures"] if f["denied"]], d["programs"][0]["verdict"]["denied"], [(a["action"], a["count"]) for a in d["programs"][0]["actions"]])' \
	"([($BACK, 1, 1, 0)], [], 0, [('deny', 1)])"
# The same daemon under the seccomp supervisor: listen's backlog is the
# system call's second argument.
"$CLI" run --seccomp --log all --json --log-file "$T/sup.log" -- \
	"${LEGACY[@]}" --port "$DP" --admin "$(free_port)" --udp "$(free_port)" --serve 0 \
	>"$T/sup.out" 2>"$T/sup.err"
"$CLI" audit --json --no-kernel "$T/sup.log" >"$T/sup.json" 2>&1
eq "supervised: the backlogs from the system call (64, 8)" "$T/sup.json" \
	'sorted(s["backlog"] for s in d["programs"][0]["sockets"] if s["proto"] == "tcp")' "[8, 64]"

# --- a truncated and garbled log ---
{
	head -c -40 "$T/run1.json" # the last line cut short
	echo
	printf '\x00\xff\xfe garbage\n'
	echo '{'
	echo '[1, 2, 3]'
	echo '{"ts":"x"}'
	echo '{"event":"call","pid":"not a number","ts":"t"}'
	"$PY" -c 'print("[" * 100000)'
	"$PY" -c 'print("{\"event\":\"call\",\"pid\":1,\"ts\":\"t\",\"message\":\"" + "a" * 1000000 + "\"")'
	echo '{"ts":"2026-01-01T00:00:00.000Z","pid":7,"event":"call","program":"ok","op":"bind","proto":"tcp","addr":"\u0000\ud800","port":99999999999}'
	cat "$T/run2.json"
} >"$T/garbled.json"
"$CLI" audit --json "$T/garbled.json" >"$T/garbled.out" 2>"$T/garbled.err"
rc=$?
check "garbled log: no crash, exit 0" test "$rc" = 0
eq "garbled log: the 8 bad lines counted (the cut one included)" "$T/garbled.out" 'd["bad_lines"]' 8
eq "garbled log: the good lines still make the report" "$T/garbled.out" \
	'sorted(p["name"] for p in d["programs"])' "['ok', 'python3']"
"$CLI" audit "$T/garbled.json" >"$T/garbled.txt" 2>&1
check "garbled log, text: the skipped lines said" grep -qE "lines read, 8 not a libreuse JSON line \(skipped\)" "$T/garbled.txt"
"$CLI" audit /nonexistent/trail.json >"$T/none.out" 2>"$T/none.err"
rc=$?
check "a missing file: exit 1, said" test "$rc" = 1 -a -s "$T/none.err"

# --- not seen by libreuse: a listener on the daemon's port, no libreuse ---
bg outsider "${SERVER[@]}" --port "$P"
wait_for "$T/outsider.out" READY || not_ok "the outsider did not start"
"$CLI" audit --json "$T/run1.json" >"$T/unseen.json" 2>"$T/unseen.err"
eq "not seen by libreuse: the outsider on its port, by pid and program" "$T/unseen.json" \
	'[(u["proto"], u["port"], u["state"], u["pid"], u["program"]) for u in d["programs"][0]["not_seen"]]' \
	"[('tcp', $P, 'LISTEN', $(cat "$T/outsider.pid"), 'python3')]"
"$CLI" audit "$T/run1.json" >"$T/unseen.txt" 2>&1
check "not seen by libreuse: said in text" \
	grep -qE "^    tcp 127\.0\.0\.1:$P +LISTEN +pid $(cat "$T/outsider.pid") \(python3\)$" "$T/unseen.txt"
XP=$(free_port)
bg stranger "${SERVER[@]}" --port "$XP"
wait_for "$T/stranger.out" READY || not_ok "the stranger did not start"
"$CLI" audit --json --host "$T/run1.json" >"$T/host.json" 2>"$T/host.err"
eq "--host: a listener on a port no trail names, by pid, among the host's not seen" "$T/host.json" \
	'[(u["proto"], u["state"], u["pid"], u["program"]) for u in d["not_seen_host"] if u["port"] == '"$XP"']' \
	"[('tcp', 'LISTEN', $(cat "$T/stranger.pid"), 'python3')]"
eq "--host: ...and not the audited ones' own (none runs now), nor what the trail explains" "$T/host.json" \
	'len([u for u in d["not_seen_host"] if u["port"] == '"$P"'])' 1
"$CLI" audit --json --no-kernel "$T/run1.json" >"$T/nok.json" 2>&1
eq "--no-kernel: the kernel not asked" "$T/nok.json" '(d["programs"][0]["not_seen"], d["not_seen_host"])' "(None, None)"

# --- Ctrl-C: the program stops, the report comes ---
bg intr "$CLI" audit -- "${LEGACY[@]}" --port "$P2" --admin "$A" --udp "$U"
wait_for "$T/intr.out" READY || not_ok "the audited daemon did not start"
kill -INT "$(cat "$T/intr.pid")"
wait_exit intr 10
check "Ctrl-C: the audit ends with the report" grep -qE "^    tcp v4 +127\.0\.0\.1:$P2 +listen" "$T/intr.out"
check "Ctrl-C: the daemon is gone" test -z "$(pgrep -f -- "legacyd.py --port $P2")"

# --- --propose: rules and units from the trail, each line with its evidence ---
PP=$(free_port)
PA=$(free_port)
PU=$(free_port)
"$CLI" audit --for 2 --propose "$T/prop" -- \
	"${LEGACY[@]}" --port "$PP" --admin "$PA" --udp "$PU" --busy "$BUSY" \
	>"$T/prop.txt" 2>"$T/prop.err"
check "--propose: exit 0" test $? = 0
check "--propose: a rule file, a .socket, a whole .service (the command was audited), a runner" \
	test -s "$T/prop/python3.conf" -a -s "$T/prop/python3.socket" -a -s "$T/prop/python3.service" -a -x "$T/prop/python3.run"
"$CLI" check "$T/prop/python3.conf" >"$T/propcheck.out" 2>&1
check "--propose: the rule file passes libreuse check" test $? = 0
rule_count() { grep -cE "$1" "$T/prop/python3.conf"; }
check "--propose: one rule per socket that needs one (3 listeners, 1 held port)" test "$(rule_count '^	\{ match = ')" = 4
check "--propose: reuseaddr only on the two TCP listeners it lacked on" test "$(rule_count 'reuseaddr = true')" = 2
check "--propose: keep on its three listeners" test "$(rule_count 'keep = true')" = 3
check "--propose: retry only where a bind met a held port" \
	grep -qE "port = $BUSY; \};$" <(grep -B0 -A0 "port = $BUSY;" "$T/prop/python3.conf")
check "...and that rule retries, nothing else" test "$(grep -A1 "port = $BUSY;" "$T/prop/python3.conf" | tail -1 | tr -d '\t ')" = "retry=2000;}"
check "--propose: nothing the trail does not show (no reuseport, no rewrite, no deny)" \
	test -z "$(grep -E 'reuseport|rewrite|deny|source' "$T/prop/python3.conf" | grep -v '^\s*#')"
# Every rule is preceded by comments citing its calls (the socket and its counts).
uncited=$("$PY" - "$T/prop/python3.conf" <<'PYEOF'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
for i, l in enumerate(lines):
    if l.startswith("\t{ match = "):
        port = re.search(r"port = (\d+);", lines[i] + lines[i + 1]).group(1)
        j = i - 1
        cites = []
        while j >= 0 and lines[j].startswith("\t#"):
            cites.append(lines[j])
            j -= 1
        text = " ".join(cites)
        if not cites or not (re.search(r":%s: bound \d+x" % port, text) or re.search(r"EADDRINUSE \d+x", text)):
            print(l)
PYEOF
)
check "--propose: every rule cites its evidence (which calls, how many)" test -z "$uncited"
check "--propose: the .socket lists exactly the three listeners" \
	test "$(grep -E '^Listen' "$T/prop/python3.socket" | sort | tr '\n' ' ')" = "ListenDatagram=127.0.0.1:$PU ListenStream=127.0.0.1:$PP ListenStream=[::1]:$PA "
check "--propose: each Listen line cites its calls" \
	test "$(grep -B1 '^Listen' "$T/prop/python3.socket" | grep -cE '^# (tcp|udp) .*: bound 1x')" = 3
check "--propose: ...the TCP ones with the backlog the program asked (no Backlog= proposed)" \
	test "$(grep -oE '^# tcp .*\(backlog [0-9]+\)$' "$T/prop/python3.socket" | sed -E 's/.*:([0-9]+): .*backlog ([0-9]+)\)/\1 \2/' | sort -n | tr '\n' ' ')" = \
	"$(printf '%s\n' "$PP 64" "$PA 8" | sort -n | tr '\n' ' ')" -a -z "$(grep '^Backlog=' "$T/prop/python3.socket")"
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify "$T/prop/python3.socket" "$T/prop/python3.service" >"$T/verify.out" 2>&1
	rc=$?
	check "--propose: the units pass systemd-analyze verify" test "$rc" = 0 -a -z "$(grep python3 "$T/verify.out")"
else
	ok "# SKIP systemd-analyze is not installed"
fi
# A trail without the command line: a drop-in, not a whole unit.
"$CLI" audit --propose "$T/prop2" "$T/run1.json" >/dev/null 2>"$T/prop2.err"
check "--propose from a file: a drop-in for the unit that runs it, no whole unit" \
	test -s "$T/prop2/python3.service.d/libreuse.conf" -a ! -e "$T/prop2/python3.service"
"$CLI" check "$T/prop2/python3.conf" >/dev/null 2>&1
check "...whose rule file passes libreuse check" test $? = 0

# The proposal applied: 10 restarts under load; and the same loop without it.
kill "$BUSY_PID" 2>/dev/null
wait_exit busy 5
bg kept "$T/prop/python3.run"
wait_for "$T/kept.out" READY 10 || not_ok "the daemon under the proposal did not start" "$(tail -3 "$T/kept.err")"
load_start loadp "$PP"
sleep 0.3
restarts kept HUP 10 || not_ok "a restart was not carried out" "$(tail -5 "$T/kept.err")"
sleep 0.3
with=$(load_stop loadp)
kill -TERM "$(cat "$T/kept.pid")"
wait_exit kept 10
check "with the proposal: 10 restarts under load, 0 refused, 0 reset ($with)" \
	test "$(json_get "$with" refused)" = 0 -a "$(json_get "$with" reset)" = 0 -a "$(json_get "$with" ok)" -gt 0

PN=$(free_port)
bg plain0 "${LEGACY[@]}" --port "$PN" --admin "$(free_port)" --udp "$(free_port)"
wait_for "$T/plain0.out" READY 10 || not_ok "the plain daemon did not start"
load_start loadn "$PN"
sleep 0.3
prev=plain0
failed_starts=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	kill -TERM "$(cat "$T/$prev.pid")" 2>/dev/null # gone already when its start failed
	wait_exit "$prev" 5
	bg "plain$i" "${LEGACY[@]}" --port "$PN" --admin "$(free_port)" --udp "$(free_port)"
	wait_for "$T/plain$i.out" READY 2 || failed_starts=$((failed_starts + 1))
	prev=plain$i
	sleep 0.3
done
without=$(load_stop loadn)
check "without it, the same loop refuses connections ($without; $failed_starts of 10 starts failed)" \
	test "$(json_get "$without" refused)" -gt 0

# --- a daemon Debian ships that drops to another user before it binds ---
if command -v memcached >/dev/null; then
	M=$(free_port)
	"$CLI" audit --json --for 2 -- memcached -u nobody -l 127.0.0.1 -p "$M" -U "$M" >"$T/mc.json" 2>"$T/mc.err"
	eq "memcached -u nobody: its trail is written after it drops root; TCP and UDP listeners, SO_REUSEADDR its own" "$T/mc.json" \
		'[(p["name"], p["path"], [(s["proto"], s["port"], s["set_by_program"]) for s in p["sockets"] if s["listener"]]) for p in d["programs"]]' \
		"[('memcached', '/usr/bin/memcached', [('tcp', $M, ['SO_REUSEADDR']), ('udp', $M, ['SO_REUSEADDR'])])]"
	eq "...so it can restart at once, but loses connections" "$T/mc.json" \
		'(lambda v: (v["restart_at_once"], v["loses_connections"]))(d["programs"][0]["verdict"])' "(True, True)"
else
	ok "# SKIP memcached is not installed (make deps installs it)"
fi

# --- a static Go program: audited through the seccomp supervisor ---
if [ -x "$HELPERS/goserver" ] && "$CLI" run --seccomp -- true 2>/dev/null; then
	G=$(free_port)
	"$CLI" audit --json --for 2 -- "$HELPERS/goserver" -port "$G" >"$T/go.json" 2>"$T/go.err"
	eq "a Go program (the supervisor's trail): its listener, by name and path" "$T/go.json" \
		'[(p["name"], p["path"], [(s["proto"], s["port"], s["listens"]) for s in p["sockets"] if s["listener"]]) for p in d["programs"]]' \
		"[('goserver', '$HELPERS/goserver', [('tcp', $G, 1)])]"
else
	ok "# SKIP Go program: no Go helper built or no seccomp user notification here"
fi

# --- the journal target, and audit --journal ---
# A private /run/systemd in a mount namespace, with a stand-in for journald's
# native socket (tests/helpers/journald.py) that writes what it receives the
# way `journalctl -o json` prints it.
rules "$T/journal.conf" 'log = { level = "all"; target = "journal"; }; rules = ();'
JP=$(free_port)
JU=$(free_port)
if unshare -m true 2>/dev/null; then
	cat >"$T/journal.sh" <<EOS
mount --make-rprivate /
mount -t tmpfs none /run/systemd 2>/dev/null || { mkdir -p /run/systemd && mount -t tmpfs none /run/systemd; }
mkdir -p /run/systemd/journal
"$PY" "$ROOT/tests/helpers/journald.py" /run/systemd/journal/socket "$T/entries.json" >"$T/journald.out" &
for i in \$(seq 50); do grep -q READY "$T/journald.out" && break; sleep 0.05; done
"$CLI" run -c "$T/journal.conf" -- "$PY" "$ROOT/tests/helpers/legacyd.py" --port "$JP" --admin "$(free_port)" --udp "$JU" --serve 0
sleep 0.3
kill %1
EOS
	unshare -m bash "$T/journal.sh" >"$T/journal.out" 2>"$T/journal.err"
	jq_lines() { "$PY" -c 'import json, sys; es = [json.loads(l) for l in open(sys.argv[1])]; print(eval(sys.argv[2]))' "$T/entries.json" "$1"; }
	check "journal: entries received, none malformed" \
		test "$(jq_lines 'len(es) > 4 and not [e for e in es if "BAD" in e]')" = True
	check "journal: the bind of the listener with LIBREUSE_OP, LIBREUSE_PORT, LIBREUSE_PROGRAM beside MESSAGE" \
		test "$(jq_lines "[(e['LIBREUSE_PROGRAM'], e['LIBREUSE_PROTO'], e['PRIORITY'], e['SYSLOG_IDENTIFIER'], e['MESSAGE'].endswith('bind tcp 127.0.0.1:$JP ok; reuse: none')) for e in es if e.get('LIBREUSE_OP') == 'bind' and e.get('LIBREUSE_PORT') == '$JP']")" = "[('python3', 'tcp', '6', 'libreuse', True)]"
	check "journal: the whole JSON line in LIBREUSE_JSON" \
		test "$(jq_lines "sorted(set(json.loads(e['LIBREUSE_JSON'])['event'] for e in es))")" = "['call', 'verdict']"
	"$CLI" audit --json "$T/entries.json" >"$T/fromjournal.json" 2>&1
	eq "journal: audit reads journalctl's JSON export, the listeners by program" "$T/fromjournal.json" \
		'sorted((s["proto"], s["port"]) for s in d["programs"][0]["sockets"] if s["listener"] and s["family"] == "ipv4")' \
		"[('tcp', $JP), ('udp', $JU)]"
	# --journal runs journalctl: a stand-in on PATH shows what it was asked.
	mkdir -p "$T/bin"
	printf '#!/bin/sh\necho "$@" >"%s/journalctl.args"\ncat "%s/entries.json"\n' "$T" "$T" >"$T/bin/journalctl"
	chmod +x "$T/bin/journalctl"
	PATH="$T/bin:$PATH" "$CLI" audit --json --journal --since "-1h" >"$T/journal-cmd.json" 2>&1
	eq "audit --journal: the same report" "$T/journal-cmd.json" \
		'len([s for s in d["programs"][0]["sockets"] if s["listener"]])' 3
	check "audit --journal --since: journalctl asked for libreuse's entries, in JSON, since then" \
		grep -qx -- "--no-pager -q -o json SYSLOG_IDENTIFIER=libreuse --since -1h" "$T/journalctl.args"
else
	ok "# SKIP journal: no mount namespaces here"
fi
# No journal at all: the program runs, the lines are dropped and counted.
if [ ! -S /run/systemd/journal/socket ]; then
	"$CLI" run -c "$T/journal.conf" -- "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print("DONE")' \
		>"$T/nojournal.out" 2>"$T/nojournal.err"
	check "no journal: the program runs untouched" grep -qx DONE "$T/nojournal.out"
	check "no journal: the lines dropped are counted (the summary goes to stderr)" \
		grep -qE "summary: .*; [1-9][0-9]* lines dropped" "$T/nojournal.err"
else
	ok "# SKIP no journal: this machine has one"
fi

# --- on a terminal (script(1) gives a pty) ---
if command -v script >/dev/null; then
	TP=$(free_port)
	(sleep 1.5; echo hello; sleep 2) | timeout 20 script -q -c "'$CLI' audit --no-kernel -- '$PY' -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", $TP)); s.listen(); print(\"got\", input())'" /dev/null 2>&1 | tr -d '\r' >"$T/tty1.out"
	check "terminal: CMD reads the terminal (its group is the foreground one)" grep -qx "got hello" "$T/tty1.out"
	check "terminal: the report in colour (a bold program name)" grep -q $'^\033\[1mpython3\033\[0m' "$T/tty1.out"
	(sleep 1.5; printf '\003'; sleep 2) | timeout 20 script -q -c "'$CLI' audit --no-kernel -- '$PY' -c 'import socket, time; s = socket.socket(); s.bind((\"127.0.0.1\", $TP)); s.listen(); time.sleep(30)'" /dev/null 2>&1 | tr -d '\r' >"$T/tty2.out"
	check "terminal: Ctrl-C stops CMD, and the report follows" grep -qE "^    tcp v4 +127\.0\.0\.1:$TP +listen 1x" "$T/tty2.out"
else
	ok "# SKIP terminal: no script(1)"
fi

# --- hostile strings: no terminal escapes in text, valid JSON whatever the bytes ---
printf '{"ts":"t","pid":5,"event":"call","program":"a\\u001b[31m\xff\xfe","op":"bind","proto":"tcp","addr":"1.2.3.4","port":7,"result":0}\n' >"$T/hostile.json"
"$CLI" audit --no-kernel "$T/hostile.json" >"$T/hostile.txt" 2>&1
check "a program name with an escape sequence: printed as '?' in text" \
	test -z "$(grep -l $'\033' "$T/hostile.txt")" -a -n "$(grep '^a?\[31m' "$T/hostile.txt")"
"$CLI" audit --json --no-kernel "$T/hostile.json" >"$T/hostile.out" 2>&1
eq "...and bytes that are not UTF-8: the JSON document stays valid" "$T/hostile.out" 'd["programs"][0]["name"]' "a?[31m??"

# --- a daemon that forks twice (setsid between) and leaves its first process ---
DP=$(free_port)
"$CLI" audit --json --for 6 -- "$PY" "$ROOT/tests/helpers/daemon.py" --double-fork --port "$DP" --out "$T/dd.out" \
	>"$T/dd.json" 2>"$T/dd.err"
check "a double-forking daemon: the audit says it goes on auditing what was left" grep -qE "left [0-9]+ process(es)? running \\(a daemon\\?\\)" "$T/dd.err"
eq "...its listener, bound after its first process exited, is in the report" "$T/dd.json" \
	'[(s["port"], s["listens"]) for s in d["programs"][0]["sockets"] if s["listener"]]' "[($DP, 1)]"
check "...and at the end of --for it is stopped: nothing left running" test -z "$(pgrep -f -- "daemon.py --double-fork --port $DP")"
DQ=$(free_port)
bg ddi "$CLI" audit -- "$PY" "$ROOT/tests/helpers/daemon.py" --double-fork --port "$DQ" --out "$T/ddi.ready"
wait_for "$T/ddi.ready" READY 10 && wait_for "$T/ddi.err" "a daemon" 5 ||
	not_ok "the daemon did not start under the audit" "$(cat "$T/ddi.err" "$T/ddi.out")"
kill -INT "$(cat "$T/ddi.pid")"
wait_exit ddi 10
if grep -qE "^    tcp v4 +127\.0\.0\.1:$DQ +listen 1x" "$T/ddi.out" && ! pgrep -f -- "daemon.py --double-fork --port $DQ" >/dev/null; then
	ok "without --for: the audit waits for Ctrl-C, then stops the daemon and reports"
else
	not_ok "without --for: the audit waits for Ctrl-C, then stops the daemon and reports" \
		"$(cat "$T/ddi.out" "$T/ddi.err"; pgrep -af -- "daemon.py --double-fork --port $DQ")"
fi

# --- a CMD that simply exits: nothing said of daemons, its status said ---
"$CLI" audit -- true >"$T/true.out" 2>"$T/true.err"
check "a CMD that exits 0: exit 0, nothing on stderr (no 'left 0 processes')" \
	test $? = 0 -a ! -s "$T/true.err"
"$CLI" audit -- sh -c 'exit 3' >"$T/three.out" 2>"$T/three.err"
check "a CMD that exits 3: its status said, and only that" \
	test "$(cat "$T/three.err")" = "libreuse audit: sh exited with status 3"

# --- fork fails: said, exit 1, and the run's signal handlers given back ---
# Under a sanitizer build its runtime comes first (preload's prefix).
san=$(preload)
LD_PRELOAD="${san%"$LIB"}$HELPERS/libfailfork.so" "$CLI" audit -- true >"$T/nofork.out" 2>"$T/nofork.err"
check "fork fails: exit 1, said" test $? = 1 -a -n "$(grep -F "fork: Resource temporarily unavailable" "$T/nofork.err")"
check "...and no signal handler of the run left installed" grep -qx "failfork: 0 handlers left at exit" "$T/nofork.err"

# --- usage ---
"$CLI" audit >/dev/null 2>&1
check "no trail named: usage error (2)" test $? = 2
"$CLI" audit --for 1x -- true >/dev/null 2>&1
check "--for: a bad duration is a usage error" test $? = 2
"$CLI" audit --help | grep -q "^usage: libreuse audit"
check "--help: the usage" test "${PIPESTATUS[0]}" = 0

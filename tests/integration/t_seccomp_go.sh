#!/usr/bin/env bash
# Go programs, which make their system calls themselves (LD_PRELOAD never
# sees them), under the seccomp supervisor: a server built here from a small
# source with Debian's golang-go (CGO_ENABLED=0, so static) that sets no
# option of its own, and a client. Quick restart through TIME_WAIT, two
# copies on one port, a connect redirect, a conflict line naming the holder
# and why, 2,000 connects from 8 goroutines under a connect rule.
. "$(dirname "$0")/../lib.sh"
seccomp_or_skip

GOSERVER=$HELPERS/goserver
GOCLIENT=$HELPERS/goclient
check "the Go server is a static Go binary" grep -q "is a Go program" <("$CLI" run -- "$GOSERVER" -port 1 2>&1)

# go_once NAME PREFIX... -- ARGS: a server that answers one connection and
# exits (closing first, so TIME_WAIT stays on its side).
go_once() {
	local name=$1 port=$2
	shift 2
	bg "$name" "$@" "$GOSERVER" -port "$port" -serve 1
	wait_for "$T/$name.out" 'READY|BINDERR' 5 || return 1
	grep -q READY "$T/$name.out" || return 0
	tcp_get 127.0.0.1 "$port" >/dev/null
	wait_exit "$name" 5
}
time_wait_on() { [ -n "$(ss -Htan state time-wait "( sport = :$1 )")" ]; }

# Quick restart through TIME_WAIT. The server closes first, but on a loaded
# machine the client's close can still come first and take the TIME_WAIT:
# then again on a fresh port (the claim is about the server's side).
for try in 1 2 3; do
	P=$(free_port)
	go_once "plain1-$try" "$P"
	time_wait_on "$P" && break
done
go_once plain2 "$P"
check "without libreuse the Go server's restart meets TIME_WAIT (EADDRINUSE)" grep -q "BINDERR 98" "$T/plain2.out"
Q=$(free_port)
go_once sup1 "$Q" "$CLI" run --reuseaddr --log actions --
check "under the supervisor its first run left TIME_WAIT too" time_wait_on "$Q"
go_once sup2 "$Q" "$CLI" run --reuseaddr --log actions --
check "under the supervisor it restarts at once" grep -q "READY 127.0.0.1 $Q" "$T/sup2.out"
line=$(grep -E "^libreuse\[[0-9]+\]: goserver: bind tcp 127\.0\.0\.1:$Q: inject SO_REUSEADDR" "$T/sup2.err")
check "...because SO_REUSEADDR was injected, logged as from the shim" test -n "$line"
check "...naming the program's pid, not the supervisor's" \
	test -n "$line" -a "${line#libreuse\[$(cat "$T/sup2.pid")\]}" = "$line"
check "...by the supervisor, chosen by itself for a Go program" grep -q "is a Go program (Go makes its socket system calls itself, not through libc): applying the rules from outside it" "$T/sup2.err"

# Two copies on one port, connections reaching both.
P=$(free_port)
for n in A B; do
	bg "rp$n" "$CLI" run --reuseport -- "$GOSERVER" -port "$P" -id "$n"
	wait_for "$T/rp$n.out" 'READY|BINDERR' 5
done
check "two Go servers listen on one port (SO_REUSEPORT injected)" all_ready rpA rpB
out=$("$GOCLIENT" -addr "127.0.0.1:$P" -n 200 -g 8 2>&1)
check "...200 connections all answered ($(echo "$out" | head -1))" grep -q "^OK 200 FAILED 0$" <<<"$out"
check "...by both" grep -qE "^IDS (A B|B A)$" <<<"$out"
kill "$(cat "$T/rpA.pid")" "$(cat "$T/rpB.pid")"

# A connect redirected: the Go client asks for a port nobody listens on.
P=$(free_port)
R=$(free_port)
bg target "${SERVER[@]}" --port "$R" --id target
wait_for "$T/target.out" READY
rules "$T/redir.conf" "log = { level = \"actions\"; };
rules = ( { match = { op = \"connect\"; port = $P; }; rewrite = \":$R\"; } );"
out=$("$CLI" run -c "$T/redir.conf" -- "$GOCLIENT" -addr "127.0.0.1:$P" -n 5 2>"$T/redir.err")
check "connect redirect: the Go client's 5 connects to :$P reach :$R" grep -q "^OK 5 FAILED 0" <<<"$out"
check "...answered by the server there" grep -q "^IDS target$" <<<"$out"
check "...and said so" grep -q "goclient: connect tcp 127\.0\.0\.1:$P -> 127\.0\.0\.1:$R: rewrite; rule 1" "$T/redir.err"

# A conflict, naming the holder and why.
H=$(free_port)
bg holder "${SERVER[@]}" --port "$H"
wait_for "$T/holder.out" READY
bg clash "$CLI" run --seccomp -c /dev/null -- "$GOSERVER" -port "$H"
wait_for "$T/clash.out" 'READY|BINDERR' 5
check "conflict: the Go server sees EADDRINUSE, as without libreuse" grep -q "BINDERR 98" "$T/clash.out"
# The bind is the program's own (answered CONTINUE): its line follows the
# call, and is written before run returns.
wait_exit clash 5
check "conflict: one line naming the holder and why" \
	grep -qE "goserver: bind tcp 127\.0\.0\.1:$H failed: EADDRINUSE \(Address already in use\); reuse: none; held by: pid $(cat "$T/holder.pid") \(python3\) LISTEN 127\.0\.0\.1:$H uid $(id -u); why: .+" "$T/clash.err"

# 2,000 connects from 8 goroutines, GOMAXPROCS=4, under a connect rule: Go
# preempts its threads with signals while their calls wait on the supervisor.
P=$(free_port)
bg many "${SERVER[@]}" --port "$P" --id many
wait_for "$T/many.out" READY
rules "$T/many.conf" "log = { level = \"all\"; format = \"json\"; target = \"$T/many.log\"; };
rules = ( { match = { op = \"connect\"; port = $P; }; reuseaddr = true; } );"
out=$(GOMAXPROCS=4 "$CLI" run -c "$T/many.conf" -- "$GOCLIENT" -addr "127.0.0.1:$P" -n 2000 -g 8 2>"$T/many.err")
check "2,000 connects from 8 goroutines: every one succeeds ($(echo "$out" | head -1))" grep -q "^OK 2000 FAILED 0$" <<<"$out"
n=$("${LOGQ[@]}" "$T/many.log" event=call op=connect --count 2>/dev/null)
check "...each logged once at level all ($n lines)" test "$n" = 2000

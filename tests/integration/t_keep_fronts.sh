#!/usr/bin/env bash
# Both front ends keep sockets through one client (src/keep/keeping.c), so
# they say the same words for the same case: the library inside a C server
# (tinyserver, LD_PRELOAD) and the seccomp supervisor outside a static Go
# server (goserver), each given the same rules, and their keep lines
# compared with the program's name, pids and ports taken out. Cases: no
# keeper at all; a keeper named but not reachable; under `run --keep`, a
# listener kept, then adopted by the next instance; systemd's socket of
# the name asked for that does not fit (another protocol); systemd's
# sockets, none of them for the address bound, and no keeper.
. "$(dirname "$0")/../lib.sh"
seccomp_or_skip

C_SERVER=$HELPERS/tinyserver
GO_SERVER=$HELPERS/goserver
SDA=/usr/bin/systemd-socket-activate

# keep_words FILE: the keep lines of a log, as words both front ends share.
keep_words() {
	grep -E ': (keep |kept by|adopt from)' "$1" |
		sed -E 's/^libreuse\[[0-9]+\]: [^:]+: //; s/[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+/ADDR/g;
			s/pid [0-9]+/pid N/g' | sort -u
}
# same CASE EXPECTED: both front ends' keep lines for CASE ($T/CASE-c.err,
# $T/CASE-go.err) say EXPECTED (a pattern), and each the same lines.
same() {
	local c go
	c=$(keep_words "$T/$1-c.err")
	go=$(keep_words "$T/$1-go.err")
	check "$1: the library says \"$2\" ($(wc -l <<<"$c") line(s))" grep -qE -- "$2" <<<"$c"
	check "$1: ...and the supervisor the same words" test -n "$c" -a "$c" = "$go"
	[ "$c" = "$go" ] || { echo "# library:" $c; echo "# supervisor:" $go; }
}
# serve CASE FRONT PORT ENV...: runs the front end's server under plain
# `run` with the rules in LIBREUSE_RULES, until it listens, then stops it.
serve() {
	local name=$1-$2 port=$3
	shift 3
	if [ "$name" = "${name%-go}" ]; then
		bg "$name" env "$@" "$CLI" run --preload -- "$C_SERVER" "$port"
	else
		bg "$name" env "$@" "$CLI" run --seccomp -- "$GO_SERVER" -port "$port"
	fi
	wait_for "$T/$name.out" "READY|BINDERR" 10 || not_ok "$name: the server did not start"
	kill -TERM "$(cat "$T/$name.pid")"
	wait_exit "$name" 10
}

RULES='keep = true; log = { level = "actions"; };'

# Nothing keeps anything: said once, the same way.
for f in c go; do serve nobody "$f" "$(free_port)" LIBREUSE_RULES="$RULES"; done
same nobody "^bind tcp ADDR: keep not possible: no keeper \(libreuse run --keep\) and no socket from systemd"

# A keeper named that nobody answers for: said at the bind and at the listen.
for f in c go; do
	serve gone "$f" "$(free_port)" LIBREUSE_RULES="$RULES" LIBREUSE_KEEPER="libreuse-test-nobody-$$"
done
same gone "^listen tcp ADDR: keep not possible: the keeper is not reachable \(ECONNREFUSED\)"

# Under the keeper: kept at the first instance's listen, adopted at the
# second's bind.
for f in c go; do
	P=$(free_port)
	if [ "$f" = c ]; then
		bg kept-$f "$CLI" run --keep --preload --log actions -- "$C_SERVER" "$P"
	else
		bg kept-$f "$CLI" run --keep --seccomp --log actions -- "$GO_SERVER" -port "$P"
	fi
	wait_for "$T/kept-$f.out" "READY" 10 || not_ok "kept-$f: the server did not start"
	kill -HUP "$(cat "$T/kept-$f.pid")"
	wait_for "$T/kept-$f.err" "took 1 kept socket" 10 || not_ok "kept-$f: no restart"
	kill -TERM "$(cat "$T/kept-$f.pid")"
	wait_exit kept-$f 10
done
same kept "^bind tcp ADDR: adopt from the keeper \(pid N\)"
check "kept: ...and both kept the first listener" \
	test "$(keep_words "$T/kept-c.err" | grep -c '^listen tcp ADDR: kept by the keeper (pid N)')" = 1 -a \
	"$(keep_words "$T/kept-go.err" | grep -c '^listen tcp ADDR: kept by the keeper (pid N)')" = 1

if [ -x "$SDA" ]; then
	# activate CASE FRONT SDA-ARGS -- RULES PORT: the front end's server
	# started by systemd-socket-activate (on a first connection or
	# datagram to $SPORT), binding PORT itself.
	activate() {
		local name=$1-$2 rules=$4 port=$5 sda=($3)
		if [ "$2" = c ]; then
			bg "$name" "$SDA" "${sda[@]}" -E "LD_PRELOAD=$(preload)" -E "LIBREUSE_RULES=$rules" -- \
				"$C_SERVER" "$port"
		else
			bg "$name" "$SDA" "${sda[@]}" -E "LIBREUSE_RULES=$rules" -- \
				"$CLI" run --seccomp -- "$GO_SERVER" -port "$port"
		fi
		wait_for "$T/$name.err" "Listening on" || not_ok "$name: systemd-socket-activate did not listen"
		if [[ " ${sda[*]} " == *" --datagram "* ]]; then
			echo x | timeout 2 socat -u - "UDP:127.0.0.1:$SPORT" 2>/dev/null
		else
			timeout 1 socat -u "TCP:127.0.0.1:$SPORT" - >/dev/null 2>&1
		fi
		wait_for "$T/$name.out" "READY|BINDERR" 10 || not_ok "$name: the server did not start"
		kill -TERM "$(cat "$T/$name.pid")"
		wait_exit "$name" 10
	}
	# keep = "api", and systemd's api is a UDP socket: not for a TCP bind.
	for f in c go; do
		SPORT=$(free_port)
		Q=$(free_port)
		activate misfit "$f" "--datagram -l 127.0.0.1:$SPORT --fdname=api" \
			"log = { level = \"actions\"; }; rules = ( { match = { port = $Q; }; keep = \"api\"; } );" "$Q"
	done
	same misfit "^bind tcp ADDR: keep not taken: systemd fd 3 is of another protocol"
	# systemd passed a socket for another address, and there is no keeper:
	# the listener bound afresh is kept by nobody, said so.
	for f in c go; do
		SPORT=$(free_port)
		activate elsewhere "$f" "-l 127.0.0.1:$SPORT --fdname=web" "$RULES" "$(free_port)"
	done
	same elsewhere "^listen tcp ADDR: keep not possible: no keeper \(libreuse run --keep\), and systemd passed no socket for this address"
else
	ok "# SKIP systemd's sockets: no systemd-socket-activate"
fi

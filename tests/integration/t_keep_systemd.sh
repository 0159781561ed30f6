#!/usr/bin/env bash
# systemd socket activation for a program that knows nothing of it:
# systemd-socket-activate (Debian's systemd package) listens, and on the
# first connection execs the server with LISTEN_FDS; the server's own bind
# of that address gets systemd's socket (keep), or the socket of a name
# (keep = "NAME") whatever address it asks for. LISTEN_PID not ours: ignored.
. "$(dirname "$0")/../lib.sh"

SDA=/usr/bin/systemd-socket-activate
[ -x "$SDA" ] || { not_ok "systemd-socket-activate is missing (make deps installs systemd)"; exit 0; }

# The first connection waits for the program to start (systemd-socket-
# activate execs it then): seconds on an emulated machine (make check-kernel).
first_get() { timeout 30 socat -u -T 20 "TCP:$1:$2" STDOUT 2>/dev/null; }

# activate NAME ADDR RULES FDNAME CMD...: under systemd-socket-activate.
activate() {
	local name=$1 addr=$2 rules=$3 fdname=$4
	shift 4
	bg "$name" "$SDA" -l "$addr" --fdname="$fdname" -E "LD_PRELOAD=$(preload)" -E "LIBREUSE_RULES=$rules" -- "$@"
	wait_for "$T/$name.err" "Listening on" || not_ok "$name: systemd-socket-activate did not listen"
}

P=$(free_port)
activate sd "127.0.0.1:$P" 'keep = true; log = { level = "actions"; };' web "${SERVER[@]}" --port "$P"
answer=$(first_get 127.0.0.1 "$P")
check "the server answers on systemd's socket ($answer)" test -n "$answer"
check "...its bind of 127.0.0.1:$P took systemd's fd 3" \
	grep -q "bind tcp 127\.0\.0\.1:$P: adopt from systemd fd 3 \"web\"" "$T/sd.err"
check "...and a second connection is answered by the same process" \
	test "$(tcp_get 127.0.0.1 "$P" | cut -d' ' -f1)" = "${answer%% *}"

# keep = "NAME": systemd's socket of that name, whatever the program asks for.
P=$(free_port)
Q=$(free_port)
activate named "127.0.0.1:$P" "log = { level = \"actions\"; };
rules = ( { match = { port = $Q; }; keep = \"api\"; } );" api "${SERVER[@]}" --port "$Q"
answer=$(first_get 127.0.0.1 "$P")
check "keep = \"api\": the server asking for port $Q serves on systemd's $P" test -n "$answer"
check "...said so" grep -q "bind tcp 127\.0\.0\.1:$Q: adopt from systemd fd 3 \"api\"" "$T/named.err"

# A daemon that closes every fd at start (close_range over 0-65535), then
# binds: systemd's socket, held by libreuse at a number of its own, is still
# there for its bind.
P=$(free_port)
activate closer "127.0.0.1:$P" "keep = true; log = { level = \"actions\"; target = \"$T/closer.log\"; };" web \
	"$PY" "$ROOT/tests/helpers/daemon.py" --port "$P" --out "$T/closer.ready" --close-all
answer=$(first_get 127.0.0.1 "$P")
check "a daemon that closes every fd first still binds onto systemd's socket ($answer)" test -n "$answer"
check "...said so" grep -q "bind tcp 127\.0\.0\.1:$P: adopt from systemd fd 3 \"web\"" "$T/closer.log"
check "...and systemd's listener is the one it serves on (no second listener on $P)" \
	test "$(ss -Htln "( sport = :$P )" | wc -l)" = 1

# Under the seccomp supervisor (a static Go server, which LD_PRELOAD cannot
# reach): systemd started the supervisor, which holds the sockets and puts
# the one asked for into the program at its bind.
if "$CLI" run --seccomp -- true 2>/dev/null; then
	P=$(free_port)
	Q=$(free_port)
	activate sup "127.0.0.1:$P" "log = { level = \"actions\"; };
rules = ( { match = { port = $Q; }; keep = \"api\"; } );" api "$CLI" run -- "$HELPERS/goserver" -port "$Q"
	answer=$(first_get 127.0.0.1 "$P")
	check "supervised: keep = \"api\" puts systemd's socket ($P) in a Go server asking for $Q ($answer)" test -n "$answer"
	check "...said so" grep -q "bind tcp 127\.0\.0\.1:$Q: adopt from systemd fd 3 \"api\"" "$T/sup.err"
	P=$(free_port)
	activate supk "127.0.0.1:$P" 'keep = true; log = { level = "actions"; };' web "$CLI" run -- "$HELPERS/goserver" -port "$P"
	answer=$(first_get 127.0.0.1 "$P")
	check "supervised: keep = true gives the Go server's bind of $P systemd's socket ($answer)" \
		grep -q "bind tcp 127\.0\.0\.1:$P: adopt from systemd fd 3 \"web\"" "$T/supk.err"
else
	ok "# SKIP supervised keep from systemd: no seccomp user notification here"
fi

# LISTEN_PID names another process (sh, which forks the server): ignored.
P=$(free_port)
activate other "127.0.0.1:$P" 'keep = true;' web sh -c "\"\$0\" \"\$@\"; true" "${SERVER[@]}" --port "$P"
timeout 3 socat -u -T 1 "TCP:127.0.0.1:$P" STDOUT >/dev/null 2>&1
check "LISTEN_PID of another process: systemd's socket is not taken (the bind meets it)" \
	wait_for "$T/other.out" "BINDERR 98"
check "...and the program is told once that nothing keeps its sockets" \
	test "$(grep -c 'keep not possible: no keeper (libreuse run --keep) and no socket from systemd' "$T/other.err")" = 1

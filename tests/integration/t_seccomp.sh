#!/usr/bin/env bash
# The seccomp supervisor's own promises: a bind it makes is checked against
# the program's privileges, not its own; children after fork and exec are
# served; it outlives the program while anything under the filter runs;
# signals and the exit status pass through; where user notification cannot
# be had, it says so. And the aim: a Go daemon restarted under load, under
# the keeper, with nothing refused.
. "$(dirname "$0")/../lib.sh"
seccomp_or_skip

GOSERVER=$HELPERS/goserver

# The privileged-port check: the supervisor runs as root, the program as
# nobody, which may not bind below net.ipv4.ip_unprivileged_port_start.
start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)
low=$("$PY" -c "
import socket
for p in range(1000, 100, -1):
    try:
        s = socket.socket(); s.bind(('127.0.0.1', p)); s.close(); print(p); break
    except OSError: pass")
if [ "$(id -u)" = 0 ] && [ "$low" -lt "$start" ]; then
	out=$("$CLI" run --seccomp --reuseaddr -- setpriv --reuid nobody --regid nogroup --clear-groups \
		"$GOSERVER" -port "$low" -serve 0 2>&1)
	check "a program without CAP_NET_BIND_SERVICE gets EACCES for port $low through the root supervisor" \
		grep -q "BINDERR 13" <<<"$out"
	out=$("$CLI" run --seccomp --reuseaddr -- "$GOSERVER" -port "$low" -serve 0 2>&1)
	check "...while as root it binds it" grep -q "READY 127.0.0.1 $low" <<<"$out"
else
	ok "# SKIP privileged ports: not root, or ip_unprivileged_port_start is $start"
fi

# Children after fork and exec.
P=$(free_port)
bg shell "$CLI" run --seccomp --reuseport -- sh -c "\"$GOSERVER\" -port $P -id one & \"$GOSERVER\" -port $P -id two & wait"
wait_count "$T/shell.out" 'READY|BINDERR' 2 5
check "exec'd children: two Go servers started by a shell share port $P" \
	test "$(grep -c "READY 127.0.0.1 $P" "$T/shell.out")" = 2
sh_pid=$(pgrep -P "$(cat "$T/shell.pid")")
kill -TERM "$(cat "$T/shell.pid")"
sleep 0.3
check "...TERM to the supervisor reaches the shell (the servers it started run on)" \
	test -n "$sh_pid" -a ! -d "/proc/$sh_pid" -a "$(pgrep -fc "$GOSERVER -port $P ")" = 2
pkill -TERM -f "$GOSERVER -port $P "
check "...and once they are gone, so is the supervisor" wait_exit shell 10
P=$(free_port)
"$CLI" run --seccomp --reuseport -- "$PY" -c "
import os, socket, sys
child = os.fork()
s = socket.socket()
s.bind(('127.0.0.1', $P))
print('BOUND', 'child' if child == 0 else 'parent', flush=True)
if child:
    os.waitpid(child, 0)
" >"$T/fork.out" 2>&1
check "a forked child is served too: both processes bind port $P" \
	test "$(grep -c '^BOUND' "$T/fork.out")" = 2

# One slow call never stalls another: a bind that retries for 3 s (its
# port is held) in one thread, a plain bind in another.
H=$(free_port)
F=$(free_port)
bg held "${SERVER[@]}" --port "$H"
wait_for "$T/held.out" READY
rules "$T/retry.conf" "rules = ( { match = { port = $H; }; retry = 3000; } );"
"$CLI" run --seccomp -c "$T/retry.conf" -- "$PY" -c "
import socket, threading, time
t0 = time.monotonic()
def slow():
    s = socket.socket()
    try:
        s.bind(('127.0.0.1', $H))
    except OSError as e:
        print('SLOW %.1f errno %d' % (time.monotonic() - t0, e.errno), flush=True)
th = threading.Thread(target=slow)
th.start()
time.sleep(0.2)
s = socket.socket()
s.bind(('127.0.0.1', $F))
print('FAST %.1f' % (time.monotonic() - t0), flush=True)
th.join()
" >"$T/slow.out" 2>&1
check "a retrying bind waits its 3 s, then fails as it would have" grep -qE "^SLOW (2\.9|3\.[0-9]) errno 98" "$T/slow.out"
check "...while another thread's bind is answered at once" grep -qE "^FAST 0\.[2-5]" "$T/slow.out"

# force, and dry_run, from outside: the same actions as the library's.
P=$(free_port)
rules "$T/force.conf" "log = { level = \"all\"; };
rules = ( { match = { port = $P; }; reuseport = true; force = true; } );"
out=$("$CLI" run --seccomp -c "$T/force.conf" -- "$PY" -c "
import socket
s = socket.socket()
s.bind(('127.0.0.1', $P))
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 0)
print('REUSEPORT', s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT))" 2>&1)
check "force: the program turning an injected option off is ignored (it stays on)" grep -q "^REUSEPORT 1" <<<"$out"
check "force: ...and said so" grep -q "python3: setsockopt tcp 127\.0\.0\.1:$P ok; .*SO_REUSEPORT=0 ignored: forced by rule" <<<"$out"
R=$(free_port)
out=$("$CLI" run --seccomp --dry-run --bind "127.0.0.1:$R" --log actions -- "$GOSERVER" -port "$P" -serve 0 2>&1)
check "dry_run: the Go server binds the port it asked for" grep -q "READY 127.0.0.1 $P" <<<"$out"
check "dry_run: ...and the rewrite is said as what would be done" grep -q "goserver: bind tcp 127\.0\.0\.1:$P -> 127\.0\.0\.1:$R: would rewrite" <<<"$out"

# A broken rule file: one line naming file and line, and the program runs
# untouched.
printf 'rules = (\n { match = { port = 80; }; colour = 1; }\n);\n' >"$T/bad.conf"
out=$(LIBREUSE_CONFIG=$T/bad.conf "$CLI" run --seccomp -- "$GOSERVER" -port 0 -serve 0 2>&1)
check "bad rule file: exactly one line, naming file and line" \
	test "$(grep -c "$T/bad.conf:2: unknown key 'colour'" <<<"$out")" = 1
check "bad rule file: ...and the program runs untouched" grep -q "^READY 127.0.0.1" <<<"$out"

# A set-ID program: no_new_privs stops it gaining privileges, and run says so.
cp /bin/true "$T/suid" && chmod u+s "$T/suid"
"$CLI" run --seccomp -- "$T/suid" 2>"$T/suid.err"
check "set-ID under the supervisor: warned that it runs without its privileges" \
	grep -q "is set-user-ID: under the seccomp supervisor no_new_privs stops it gaining privileges" "$T/suid.err"

# Exit status, signals.
"$CLI" run --seccomp -- sh -c 'exit 7' 2>/dev/null
check "the program's exit status passes through (7)" test $? = 7
"$CLI" run --seccomp -- sh -c 'kill -TERM $$' 2>/dev/null
check "a program killed by SIGTERM: 128+15" test $? = 143
bg usr1 "$CLI" run --seccomp -- sh -c 'trap "echo GOT USR1; exit 5" USR1; echo READY; while :; do sleep 0.05; done'
wait_for "$T/usr1.out" READY
kill -USR1 "$(cat "$T/usr1.pid")"
wait_exit usr1 5
wait "$(cat "$T/usr1.pid")"
check "SIGUSR1 to the supervisor reaches the program (which exits 5)" test $? = 5 -a -n "$(grep 'GOT USR1' "$T/usr1.out")"

# The program exits, what it forked off runs on: the supervisor stays (its
# calls would fail with ENOSYS without it), then returns the program's status.
P=$(free_port)
bg orphan "$CLI" run --seccomp --reuseport -- sh -c "\"$GOSERVER\" -port $P -id orphan & exit 0"
wait_for "$T/orphan.out" READY
sleep 0.3
check "the shell is gone, its server runs on, and the supervisor with it" kill -0 "$(cat "$T/orphan.pid")"
check "...and the server answers" test -n "$(tcp_get 127.0.0.1 "$P")"
pkill -TERM -f "$GOSERVER -port $P -id orphan"
check "once the server is gone, the supervisor returns" wait_exit orphan 10
wait "$(cat "$T/orphan.pid")"
check "...with the program's (the shell's) status, 0" test $? = 0

# Where user notification cannot be had (here: a supervisor's listener is
# already installed), --seccomp says so and runs nothing; the automatic
# choice warns and runs the program untouched.
out=$("$CLI" run --seccomp -- "$CLI" run --seccomp -- true 2>&1)
check "--seccomp without user notification: one clear line, exit 126" \
	grep -q "libreuse: --seccomp: a seccomp listener is already installed for this process .*; true not run" <<<"$out"
out=$("$CLI" run --seccomp -- "$CLI" run -- "$GOSERVER" -port 0 -serve 0 2>&1)
check "automatic choice without it: a warning, and the program runs untouched" \
	grep -q "warning: cannot supervise .*goserver .*: it runs untouched" <<<"$out"
check "...(it ran)" grep -q "^READY" <<<"$out"

# The aim: a Go daemon restarted under load by the keeper, nothing refused.
P=$(free_port)
bg keeper "$CLI" run --keep -- "$GOSERVER" -port "$P"
wait_for "$T/keeper.out" READY 10
load_start load "$P"
sleep 0.3
restarts keeper HUP 10
res=$(load_stop load)
echo "# Go under the keeper and the supervisor, 10 restarts: $res" | cut -c1-240
check "Go + keep: 10 restarts carried out" test "$(grep -cE 'took [0-9]+ kept socket' "$T/keeper.err")" = 10
check "Go + keep: no connection refused or reset ($(json_get "$res" refused) refused, $(json_get "$res" reset) reset)" \
	test "$(json_get "$res" refused)$(json_get "$res" reset)$(json_get "$res" timeout)$(json_get "$res" other)" = 0000
# All 11 here; on an emulated machine (make check-kernel) an instance may be
# stopped before the load reached it.
check "Go + keep: answers from more than one instance ($(json_get "$res" ids | wc -w) of 11)" \
	test "$(json_get "$res" ids | wc -w)" -ge 2
kill -TERM "$(cat "$T/keeper.pid")"
check "Go + keep: TERM to the keeper ends it all" wait_exit keeper 10

# The supervisor reloads as the library does: at most once a second, the
# table compiled again when the rule file changed (it used to read the file
# once per program and keep it).
P=$(free_port)
Q=$(free_port)
R=$(free_port)
rules "$T/reload.conf" "rules = ( { match = { port = $P; }; rewrite = \":$Q\"; } );"
timeout 20 "$CLI" run --seccomp -c "$T/reload.conf" -- "$PY" -c "
import os, socket, time
def where():
    s = socket.socket(); s.bind(('127.0.0.1', $P)); p = s.getsockname()[1]; s.close(); return p
print('FIRST', where(), flush=True)
open('$T/reload.new', 'w').write('rules = ( { match = { port = $P; }; rewrite = \":$R\"; } );\n')
os.replace('$T/reload.new', '$T/reload.conf')
time.sleep(1.2)
print('AFTER', where(), flush=True)
" >"$T/reload.out" 2>"$T/reload.err"
check "supervisor: the first rules in force (P -> $Q)" grep -qx "FIRST $Q" "$T/reload.out"
check "...and after the rule file changed, the new ones (P -> $R), with no word" \
	test "$(grep -x "AFTER $R" "$T/reload.out")" = "AFTER $R" -a -z "$(grep -v '^libreuse: note: ' "$T/reload.err")"
# A reload that adds a connect rule where the first rules had none: the
# filter traps no connect and cannot be widened; said, not silently missed.
rules "$T/widen.conf" "rules = ( { match = { port = $P; }; rewrite = \":$Q\"; } );"
timeout 20 "$CLI" run --seccomp -c "$T/widen.conf" -- "$PY" -c "
import os, socket, time
s = socket.socket(); s.bind(('127.0.0.1', $P)); s.close()
open('$T/widen.new', 'w').write('rules = ( { match = { op = \"connect\"; port = $H; }; deny = \"EACCES\"; } );\n')
os.replace('$T/widen.new', '$T/widen.conf')
time.sleep(1.2)
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.close()
" >/dev/null 2>"$T/widen.err"
check "supervisor: a reload needing connect trapped says it waits for the next run" \
	grep -q "widen.conf: reloaded, but the filter installed at start traps no connect .*take effect at the next libreuse run" "$T/widen.err"

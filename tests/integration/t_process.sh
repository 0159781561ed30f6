#!/usr/bin/env bash
# Life inside a process: hooks reached before libreuse's constructor, a
# program that closes fd 2 and reuses it, fork, and exec.
. "$(dirname "$0")/../lib.sh"

# 1. A library's constructor binds before libreuse's constructor has run.
P=$(free_port)
rules "$T/early.conf" "rules = ( { match = { port = $P; }; deny = \"EPERM\"; } );"
out=$(EARLY_PORT=$P shim "$T/early.conf" "$HELPERS/early" 2>&1)
check "a bind from another library's constructor gets the rules (deny EPERM)" test "$out" = "early bind: -1 EPERM"
out=$(EARLY_PORT=$P "$HELPERS/early" 2>&1)
check "...where without libreuse it binds" test "$out" = "early bind: 0 -"
check "...the table compiled before main by the helper, and cached" \
	test -n "$(ls "$LIBREUSE_CACHE_DIR"/*.table 2>/dev/null)"
# A helper that crashes while the program is still in its constructors: the
# bind goes on without rules, and one line says why.
printf '#!/bin/sh\nkill -SEGV $$\n' >"$T/crash.sh"
chmod 755 "$T/crash.sh"
rm -rf "$LIBREUSE_CACHE_DIR"
out=$(EARLY_PORT=$P LIBREUSE_HELPER=$T/crash.sh shim "$T/early.conf" "$HELPERS/early" 2>"$T/early.err")
check "a helper that crashes before main: the constructor's bind runs without rules ($out)" \
	test "$out" = "early bind: 0 -"
check "...one line names the file and the signal: $(head -c 160 "$T/early.err")" \
	test "$(wc -l <"$T/early.err")" = 1 -a "$(grep -c "early.conf.*SIGSEGV" "$T/early.err")" = 1

# 2. fd 2 closed and reopened by the program onto its own file.
H=$(free_port)
bg holder "${SERVER[@]}" --port "$H"
wait_for "$T/holder.out" READY
rules "$T/fd2.conf" "log = { level = \"actions\"; };
rules = ( { match = { port = $H; }; reuseport = true; } );"
cat >"$T/fd2.py" <<'PY'
import os, socket, sys
os.close(2)
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
assert fd == 2, fd
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError as e:
    print("BINDERR", e.errno)
os.write(2, b"the program's own line\n")
# libreuse's own descriptors: none at 0-2, and all close-on-exec.
for name in os.listdir("/proc/self/fd"):
    n = int(name)
    try:
        target = os.readlink(f"/proc/self/fd/{n}")
    except OSError:
        continue
    flags = 0
    try:
        import fcntl
        flags = fcntl.fcntl(n, fcntl.F_GETFD)
    except OSError:
        pass
    print("FD", n, target, "CLOEXEC" if flags & fcntl.FD_CLOEXEC else "inherit")
PY
shim "$T/fd2.conf" "$PY" "$T/fd2.py" "$H" "$T/own.log" >"$T/fd2.out" 2>"$T/fd2.err"
check "the program's own file at fd 2 has only its own line" test "$(cat "$T/own.log")" = "the program's own line"
check "libreuse's lines went to the original stderr" grep -q "bind tcp 127.0.0.1:$H failed: EADDRINUSE" "$T/fd2.err"
check "the program saw EADDRINUSE" grep -q "BINDERR 98" "$T/fd2.out"
ours=$(awk '$1 == "FD" && $3 ~ /fd2.err$/' "$T/fd2.out")
check "libreuse's copy of stderr is above fd 2 and close-on-exec" \
	test -n "$ours" -a -z "$(awk '$1 == "FD" && $3 ~ /fd2.err$/ && ($2 < 3 || $4 != "CLOEXEC")' "$T/fd2.out")"

# 3. fork: the child uses the rules loaded by the parent, and logs as itself.
rules "$T/fork.conf" "rules = ( { match = { port = 1; }; reuseaddr = true; } );"
cat >"$T/fork.py" <<'PY'
import os, socket, sys
socket.socket().close()          # rules loaded in the parent
held = int(sys.argv[1])
pid = os.fork()
if pid == 0:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", held))
    except OSError as e:
        print("child", os.getpid(), e.errno, flush=True)
    os._exit(0)
os.waitpid(pid, 0)
PY
shim "$T/fork.conf" "$PY" "$T/fork.py" "$H" >"$T/fork.out" 2>"$T/fork.err"
child=$(awk '{print $2}' "$T/fork.out")
check "a forked child's conflict is logged under the child's pid" \
	grep -q "^libreuse\[$child\]: python3: bind tcp 127.0.0.1:$H failed: EADDRINUSE" "$T/fork.err"

# ...without a fork handler of libreuse's in the host (a fork child is
# noticed by a page the kernel wipes in it): a host that counts the
# registrations made through __register_atfork after its main started.
shim "$T/fork.conf" "$HELPERS/atforkprobe" "$H" >"$T/atfork.out" 2>"$T/atfork.err"
check "no pthread_atfork handler registered in the host ($(head -1 "$T/atfork.out"))" grep -qx "atfork 0" "$T/atfork.out"
child=$(awk '/^child/ { print $2 }' "$T/atfork.out")
check "...and its fork child still logs under its own pid" \
	grep -q "^libreuse\[$child\]: atforkprobe: bind tcp 127.0.0.1:$H failed: EADDRINUSE" "$T/atfork.err"

# 4. exec: children inherit LD_PRELOAD and read the rules afresh.
R=$(free_port)
S=$(free_port)
rules "$T/exec.conf" "rules = ( { match = { port = $R; }; rewrite = \"127.0.0.1:$S\"; } );"
cat >"$T/exec.py" <<'PY'
import socket, subprocess, sys
socket.socket().close()
r = subprocess.run([sys.executable] + sys.argv[1:], capture_output=True, text=True, timeout=10)
print(r.stdout, end="")
PY
out=$(shim "$T/exec.conf" "$PY" "$T/exec.py" "${SERVER[1]}" --port "$R" --serve 0)
check "an exec'd child applies the rules (rewrite to $S)" test "$out" = "READY 127.0.0.1 $S"

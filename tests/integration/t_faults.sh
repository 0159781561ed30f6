#!/usr/bin/env bash
# Faults in the host: every allocation of rule loading failing in turn, the
# host out of file descriptors, fd 2 closed. The host keeps running with
# exactly its own results; libreuse says one clear thing or nothing.
# (Log file faults and full disks: t_sinks.sh; rule file removed or
# replaced mid-run: t_reload.sh.)
. "$(dirname "$0")/../lib.sh"

# A failing-malloc walk: allocation N and all after it fail, for N = 1, 2,
# ... until a run needs fewer than N (then nothing failed). libconfig's own
# allocations are let through: libconfig 1.5 does not check them (see
# docs/reliability.md).
if [ -z "${SANITIZE:-}" ]; then
	P=$(free_port)
	rules "$T/oom.conf" "log = { level = \"actions\"; target = \"$T/oom.log\"; format = \"json\"; };
rules = (
  { match = { program = \"nothing-like-this\"; port = 1; }; deny = \"EACCES\"; },
  { match = { port = \"$P-$P\"; address = \"127.0.0.0/8\"; }; reuseaddr = true; }
);"
	crashed=0 reported=0 applied=0 n=0
	while [ $n -lt 400 ]; do
		n=$((n + 1))
		out=$(LIBREUSE_CONFIG=$T/oom.conf LD_PRELOAD="$HELPERS/libfailmalloc.so:$LIB" "$HELPERS/failprobe" $n "$P" 2>"$T/oom.err")
		rc=$?
		if [ $rc != 0 ] || ! grep -q "^bind 0 " <<<"$out"; then
			crashed=$((crashed + 1))
			echo "    allocation $n: exit $rc, $out $(head -c 300 "$T/oom.err")"
		fi
		grep -q "out of memory" "$T/oom.err" && reported=$((reported + 1))
		grep -q "reuseaddr 1" <<<"$out" && applied=$((applied + 1))
		allocs=$(grep -oE 'allocations [0-9]+' <<<"$out" | grep -oE '[0-9]+$')
		[ "${allocs:-0}" -lt $n ] && break # this run hit no failure: all walked
	done
	check "failing each of the $((n - 1)) allocations of a rule load in turn: the host always binds, never crashes" test $crashed = 0
	check "...each failure reported as out of memory ($reported of $((n - 1)))" test $reported = $((n - 1))
	check "...and the run without a failure applies the rules" test $applied -ge 1
else
	ok "# SKIP failing malloc: the sanitizer owns the allocator"
fi

# EMFILE: the host uses up its file descriptors, then its bind meets a held
# port. libreuse cannot open netlink or /proc to name the holder: it says
# so, and the host sees EADDRINUSE as it would have.
P=$(free_port)
bg holder "${SERVER[@]}" --port "$P"
wait_for "$T/holder.out" READY
rules "$T/emfile.conf" 'rules = ();'
shim "$T/emfile.conf" "$PY" -c "
import errno, os, resource, socket
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
s = socket.socket()            # rules are loaded here, with fds to spare
held = []
try:
    while True:
        held.append(os.open('/dev/null', os.O_RDONLY))
except OSError as e:
    assert e.errno == errno.EMFILE
try:
    s.bind(('127.0.0.1', $P))
    print('BOUND')
except OSError as e:
    print('BINDERR', e.errno)
try:
    socket.socket()
except OSError as e:
    print('SOCKETERR', e.errno)
print('ALIVE')
" >"$T/emfile.out" 2>"$T/emfile.err"
check "EMFILE: the host's bind fails with its own EADDRINUSE" grep -q "^BINDERR 98$" "$T/emfile.out"
check "EMFILE: the host's next socket() fails with its own EMFILE" grep -q "^SOCKETERR 24$" "$T/emfile.out"
check "EMFILE: the host runs on" grep -q "^ALIVE$" "$T/emfile.out"
check "EMFILE: the conflict is logged, saying the holders could not be looked up" \
	grep -q "bind tcp 127.0.0.1:$P failed: EADDRINUSE .*why: the sockets holding port $P could not be looked up" "$T/emfile.err"

# fd 2 closed from the start: nothing to log to; a file the host then opens
# as fd 2 never receives a libreuse line.
rules "$T/nofd2.conf" 'log = { level = "all"; }; rules = ();'
LIBREUSE_CONFIG=$T/nofd2.conf LD_PRELOAD=$(preload) "$PY" -c "
import os, socket
fd = os.open('$T/own2', os.O_WRONLY | os.O_CREAT, 0o644)
assert fd == 2, fd
s = socket.socket()
try:
    s.bind(('127.0.0.1', $P))
except OSError as e:
    print('BINDERR', e.errno)
os.write(fd, b'own data\n')
print('ALIVE')
" >"$T/nofd2.out" 2>&-
check "fd 2 closed: the host sees its own EADDRINUSE and runs on" test "$(cat "$T/nofd2.out")" = "BINDERR 98
ALIVE"
check "fd 2 closed: the file the host opened as fd 2 holds only its own data" test "$(cat "$T/own2")" = "own data"

# libconfig missing (hidden under /dev/null in a private mount namespace):
# the host runs untouched and is told once; once libconfig is back, the next
# reload loads it (a failed dlopen is not remembered for good).
libfile=$(readlink -f "$(ldconfig -p | awk '/libconfig\.so\.9 / { print $NF; exit }')")
if [ "$(id -u)" = 0 ] && [ -f "$libfile" ] && unshare -m true 2>/dev/null; then
	P=$(free_port)
	Q=$(free_port)
	rules "$T/nolib.conf" "rules = ( { match = { port = $P; }; rewrite = \":$Q\"; } );"
	cat >"$T/nolib.sh" <<SH
mount --bind /dev/null "$libfile" || exit 3
LIBREUSE_CONFIG=$T/nolib.conf LD_PRELOAD=$(preload) "$PY" -c "
import os, socket, subprocess, time
def where():
    s = socket.socket()
    s.bind(('127.0.0.1', $P))
    port = s.getsockname()[1]
    s.close()
    return port
print('FIRST', where(), flush=True)
subprocess.run(['umount', '$libfile'], check=True)
os.utime('$T/nolib.conf', None)
time.sleep(1.2)
print('AFTER', where(), flush=True)
"
SH
	timeout 30 unshare -m --propagation private bash "$T/nolib.sh" >"$T/nolib.out" 2>"$T/nolib.err"
	check "libconfig missing: the host binds its own address, untouched ($(tr '\n' ' ' <"$T/nolib.out"))" \
		grep -q "^FIRST $P$" "$T/nolib.out"
	check "...and is told once, naming the library" \
		test "$(grep -c "nolib.conf: cannot load libconfig.so.9: .*rules not applied, calls pass through" "$T/nolib.err")" = 1
	check "...and once libconfig is back, the next reload applies the rules (P -> $Q)" \
		grep -q "^AFTER $Q$" "$T/nolib.out"
else
	ok "# SKIP libconfig missing: needs root, unshare -m and libconfig.so.9 in the loader cache"
fi

#!/usr/bin/env bash
# Where log lines go: a file created 0600, never through a symlink, never
# into the host's own fds 0-2; an unwritable path reported once; syslog on a
# test listener in a private /dev (the machine's /dev/log is never touched),
# with the facility in the priority; and a stalled syslog or a full disk
# that costs dropped lines, never a blocked or failed program.
. "$(dirname "$0")/../lib.sh"

# file: created 0600 whatever the umask.
P=$(free_port)
rules "$T/file.conf" "log = { level = \"all\"; target = \"$T/f.log\"; }; rules = ();"
(umask 000 && shim "$T/file.conf" "${SERVER[@]}" --port "$P" --serve 0 >"$T/file.out" 2>"$T/file.err")
check "file sink: the program ran" grep -q READY "$T/file.out"
check "file sink: lines written" grep -q "bind tcp 127.0.0.1:$P ok" "$T/f.log"
check "file sink: created with mode 0600 under umask 000" test "$(stat -c %a "$T/f.log")" = 600
check "file sink: nothing on stderr" test ! -s "$T/file.err"

# A symlink planted at the path: not followed, reported once, program runs.
echo precious >"$T/target"
ln -s "$T/target" "$T/link.log"
rules "$T/link.conf" "log = { level = \"all\"; target = \"$T/link.log\"; }; rules = ();"
shim "$T/link.conf" "${SERVER[@]}" --port "$(free_port)" --serve 0 >"$T/link.out" 2>"$T/link.err"
check "symlink: the program ran" grep -q READY "$T/link.out"
check "symlink: the file it points to is untouched" test "$(cat "$T/target")" = precious
check "symlink: reported once, naming the path" \
	test "$(grep -c "cannot open log file $T/link.log: it is a symbolic link; logging to stderr" "$T/link.err")" = 1

# An unwritable path: reported once, the program runs.
rules "$T/nodir.conf" "log = { target = \"$T/no/such/dir.log\"; }; rules = ();"
shim "$T/nodir.conf" "${SERVER[@]}" --port "$(free_port)" --serve 0 >"$T/nodir.out" 2>"$T/nodir.err"
check "unwritable path: the program ran" grep -q READY "$T/nodir.out"
check "unwritable path: reported once" test "$(grep -c "cannot open log file $T/no/such/dir.log" "$T/nodir.err")" = 1

# A daemon that closes fds 0-2 and opens its own files there: libreuse's
# log file lands above them and its lines never reach the daemon's files.
P=$(free_port)
rules "$T/fd.conf" "log = { level = \"all\"; target = \"$T/fd.log\"; }; rules = ();"
LIBREUSE_CONFIG=$T/fd.conf LD_PRELOAD=$(preload) "$PY" -c "
import os, socket
for fd in (0, 1, 2):
    os.close(fd)
mine = [os.open('$T/own%d' % i, os.O_WRONLY | os.O_CREAT, 0o644) for i in range(3)]
assert mine == [0, 1, 2], mine
s = socket.socket()
s.bind(('127.0.0.1', $P))
s.listen(1)
for fd in mine:
    os.write(fd, b'own data\n')
" </dev/null >/dev/null 2>&1
check "fds 0-2 closed: the daemon's own files hold only its data" \
	test "$(cat "$T/own0" "$T/own1" "$T/own2")" = "own data
own data
own data"
check "fds 0-2 closed: libreuse's lines went to its log file" grep -q "bind tcp 127.0.0.1:$P ok" "$T/fd.log"

# Full disk: a 16 KiB tmpfs in a private mount namespace.
if unshare -m true 2>/dev/null; then
	cat >"$T/full.sh" <<EOS
mount --make-rprivate /
mkdir -p "$T/small"
mount -t tmpfs -o size=16k none "$T/small"
LIBREUSE_CONFIG="$T/full.conf" LD_PRELOAD="$(preload)" "$PY" -c '
import socket
for i in range(400):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.close()
print("DONE")
'
du -k "$T/small/full.log" | cut -f1 >"$T/full.size"
EOS
	rules "$T/full.conf" "log = { level = \"all\"; target = \"$T/small/full.log\"; }; rules = ();"
	unshare -m bash "$T/full.sh" >"$T/full.out" 2>"$T/full.err"
	check "full disk: the program ran to the end" grep -q DONE "$T/full.out"
	check "full disk: the log filled the 16 KiB and stopped" test "$(cat "$T/full.size")" -le 16
	check "full disk: the summary on stderr counts the dropped lines" \
		grep -qE "summary: .*; [1-9][0-9]* lines dropped" "$T/full.err"
else
	ok "# SKIP full disk: no mount namespaces here"
fi

# syslog: a private /dev with a test listener at /dev/log.
if unshare -m true 2>/dev/null; then
	syslog_run() { # NAME CONF [--stall]
		cat >"$T/$1.sh" <<EOS
mount --make-rprivate /
mkdir -p "$T/$1.old"
mount --bind /dev "$T/$1.old"
mount -t tmpfs none /dev
for n in null zero urandom; do touch /dev/\$n; mount --bind "$T/$1.old/\$n" /dev/\$n; done
"$PY" "$ROOT/tests/helpers/syslogd.py" /dev/log "$T/$1.msgs" ${3:-} >"$T/$1.d" &
for i in \$(seq 50); do grep -q READY "$T/$1.d" && break; sleep 0.05; done
start=\$(date +%s%N)
LIBREUSE_CONFIG="$2" LD_PRELOAD="$(preload)" "$PY" -c '
import socket
for i in range(2000):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.close()
print("DONE")
'
echo \$(( (\$(date +%s%N) - start) / 1000000 )) >"$T/$1.ms"
sleep 0.2
kill %1
EOS
		unshare -m bash "$T/$1.sh" >"$T/$1.out" 2>"$T/$1.err"
	}
	devlog_before=$(stat -c '%F %i' /dev/log 2>&1)
	rules "$T/sys.conf" 'log = { level = "all"; target = "syslog"; facility = "local3"; }; rules = ();'
	syslog_run sys "$T/sys.conf"
	check "syslog: the program ran" grep -q DONE "$T/sys.out"
	# local3 (19) * 8 + info (6) = 158: a call of the audit trail
	check "syslog: lines arrive with the facility in the priority" \
		grep -qE '^<158>libreuse\[[0-9]+\]: python3: bind tcp 127.0.0.1:0 ok' "$T/sys.msgs"
	# A burst can outrun the listener: every line is delivered or counted.
	got=$(grep -c 'bind tcp 127.0.0.1:0 ok' "$T/sys.msgs")
	lost=$(grep -oE '[0-9]+ lines dropped' "$T/sys.err" | grep -oE '^[0-9]+' || echo 0)
	check "syslog: one datagram per call, delivered ($got) or counted dropped (${lost:-0}) = 2,000" \
		test $((got + ${lost:-0})) = 2000
	check "syslog: the machine's /dev/log is as it was" test "$(stat -c '%F %i' /dev/log 2>&1)" = "$devlog_before"
	syslog_run stall "$T/sys.conf" --stall
	check "stalled syslog: the program still ran to the end" grep -q DONE "$T/stall.out"
	check "stalled syslog: ...without blocking ($(cat "$T/stall.ms" 2>/dev/null) ms for 2,000 binds)" \
		test "$(cat "$T/stall.ms")" -lt 20000
	check "stalled syslog: the summary on stderr counts the lines dropped" \
		grep -qE "summary: .*; [1-9][0-9]* lines dropped" "$T/stall.err"
else
	ok "# SKIP syslog: no mount namespaces here"
fi

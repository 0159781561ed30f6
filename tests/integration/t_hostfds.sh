#!/usr/bin/env bash
# libreuse's own fds survive what daemons do to theirs: a program that
# closes every fd from 3 on (close_range, closefrom) and puts its own
# socket at fd 3, or dup2s its own socket over every fd from 3 on, still
# gets every audit line on stderr, in the log file and in syslog, and
# nothing of libreuse's ever reaches its socket. Then Debian's sshd, which
# closes every fd at start, with each of the three sinks.
. "$(dirname "$0")/../lib.sh"

P=$(free_port)
Q=$(free_port)
for mode in close_range closefrom dup2; do
	rules "$T/err.conf" "log = { level = \"all\"; }; rules = ( { match = { port = $P; }; rewrite = \":$Q\"; } );"
	shim "$T/err.conf" "$HELPERS/fdclose" "$P" $mode >"$T/$mode.out" 2>"$T/$mode.err"
	check "$mode, stderr: all three binds rewritten" test "$(grep -c "^bound $Q$" "$T/$mode.out")" = 3
	check "...every bind logged, the two after $mode too ($(grep -c "ok; reuse" "$T/$mode.err") of 3)" \
		test "$(grep -c "bind tcp 127.0.0.1:$P (used 127.0.0.1:$Q) ok" "$T/$mode.err")" = 3
	check "...nothing written into the program's fd 3" grep -q "^fd3 clean" "$T/$mode.out"
	check "...and no line dropped" grep -q "; 0 lines dropped" "$T/$mode.err"

	rules "$T/file.conf" "log = { level = \"all\"; target = \"$T/$mode.log\"; }; rules = ( { match = { port = $P; }; rewrite = \":$Q\"; } );"
	shim "$T/file.conf" "$HELPERS/fdclose" "$P" $mode >"$T/$mode-file.out" 2>"$T/$mode-file.err"
	check "$mode, log file: every bind logged ($(grep -c "ok; reuse" "$T/$mode.log" 2>/dev/null) of 3)" \
		test "$(grep -c "bind tcp 127.0.0.1:$P (used 127.0.0.1:$Q) ok" "$T/$mode.log")" = 3
	check "...nothing written into the program's fd 3" grep -q "^fd3 clean" "$T/$mode-file.out"
	check "...and nothing on stderr" test ! -s "$T/$mode-file.err"
done

# syslog: a private /dev with a test listener at /dev/log.
if unshare -m true 2>/dev/null; then
	rules "$T/sys.conf" "log = { level = \"all\"; target = \"syslog\"; }; rules = ( { match = { port = $P; }; rewrite = \":$Q\"; } );"
	cat >"$T/sys.sh" <<EOS
mount --make-rprivate /
mkdir -p "$T/dev.old"
mount --bind /dev "$T/dev.old"
mount -t tmpfs none /dev
for n in null zero urandom; do touch /dev/\$n; mount --bind "$T/dev.old/\$n" /dev/\$n; done
"$PY" "$ROOT/tests/helpers/syslogd.py" /dev/log "$T/sys.msgs" >"$T/sys.d" &
for i in \$(seq 50); do grep -q READY "$T/sys.d" && break; sleep 0.05; done
LIBREUSE_CONFIG="$T/sys.conf" LD_PRELOAD="$(preload)" "$HELPERS/fdclose" $P close_range
sleep 0.2
kill %1
EOS
	unshare -m bash "$T/sys.sh" >"$T/sys.out" 2>"$T/sys.err"
	check "close_range, syslog: every bind logged ($(grep -c "ok; reuse" "$T/sys.msgs" 2>/dev/null) of 3)" \
		test "$(grep -c "bind tcp 127.0.0.1:$P (used 127.0.0.1:$Q) ok" "$T/sys.msgs")" = 3
	check "...nothing written into the program's fd 3" grep -qx "fd3 clean" "$T/sys.out"
else
	ok "# SKIP syslog: no mount namespaces here"
fi

# Debian's sshd (-D -e: in the foreground, logging to stderr) closes every
# fd from 3 on at start, then its listener takes fd 3.
if [ -x /usr/sbin/sshd ] && [ "$(id -u)" = 0 ]; then
	mkdir -p /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
	P=$(free_port)
	bg sshd "$BUILD/libreuse" run --log all --reuseaddr -- /usr/sbin/sshd -D -e -f /dev/null \
		-h "$T/hostkey" -o ListenAddress=127.0.0.1 -o Port="$P" -o PidFile=none -o UsePAM=no
	wait_for "$T/sshd.err" "Server listening on 127.0.0.1 port $P" 10
	banner=$(timeout 5 socat -T 2 - "TCP:127.0.0.1:$P" </dev/null 2>/dev/null | head -c 40)
	check "sshd under run --log all serves ($banner)" grep -q "^SSH-2.0-OpenSSH" <<<"$banner"
	check "...its bind is logged, after it closed every fd" \
		grep -q "sshd: bind tcp 127.0.0.1:$P ok; reuse: SO_REUSEADDR by program" "$T/sshd.err"
	check "...and its listen too" grep -q "sshd: listen tcp 127.0.0.1:$P" "$T/sshd.err"
	check "...with the setsockopt before it and the verdict after it: nothing lost" \
		test "$(grep -cE "sshd: (setsockopt tcp|bind tcp 127.0.0.1:$P|listen tcp 127.0.0.1:$P|verdict:)" "$T/sshd.err")" = 4
	kill "$(cat "$T/sshd.pid")" 2>/dev/null
	wait_exit sshd

	# The same sshd with the file sink, then with syslog.
	P=$(free_port)
	bg sshdf "$BUILD/libreuse" run --log all --log-file "$T/sshd.log" --reuseaddr -- /usr/sbin/sshd -D -e -f /dev/null \
		-h "$T/hostkey" -o ListenAddress=127.0.0.1 -o Port="$P" -o PidFile=none -o UsePAM=no
	wait_for "$T/sshdf.err" "Server listening on 127.0.0.1 port $P" 10
	banner=$(timeout 5 socat -T 2 - "TCP:127.0.0.1:$P" </dev/null 2>/dev/null | head -c 40)
	check "sshd, log file: serves ($banner), and setsockopt, bind, listen and verdict are in the file" \
		test -n "$(grep "^SSH-2.0-OpenSSH" <<<"$banner")" -a \
		"$(grep -cE "sshd: (setsockopt tcp|bind tcp 127.0.0.1:$P|listen tcp 127.0.0.1:$P|verdict:)" "$T/sshd.log")" = 4
	kill "$(cat "$T/sshdf.pid")" 2>/dev/null
	wait_exit sshdf
	if unshare -m true 2>/dev/null; then
		P=$(free_port)
		rules "$T/sshds.conf" 'log = { level = "all"; target = "syslog"; };'
		cat >"$T/sshds.sh" <<EOS
mount --make-rprivate /
mkdir -p "$T/dev.old2"
mount --bind /dev "$T/dev.old2"
mount -t tmpfs none /dev
for n in null zero urandom random; do touch /dev/\$n; mount --bind "$T/dev.old2/\$n" /dev/\$n; done
"$PY" "$ROOT/tests/helpers/syslogd.py" /dev/log "$T/sshd.msgs" >"$T/sshds.d" &
for i in \$(seq 50); do grep -q READY "$T/sshds.d" && break; sleep 0.05; done
LIBREUSE_CONFIG=/dev/null LIBREUSE_RULES='log = { level = "all"; target = "syslog"; };' LD_PRELOAD="$(preload)" \
	/usr/sbin/sshd -D -e -f /dev/null -h "$T/hostkey" -o ListenAddress=127.0.0.1 -o Port=$P -o PidFile=none -o UsePAM=no 2>"$T/sshds.err" &
for i in \$(seq 100); do grep -q "Server listening" "$T/sshds.err" && break; sleep 0.05; done
timeout 5 socat -T 2 - "TCP:127.0.0.1:$P" </dev/null 2>/dev/null | head -c 40
kill %2
wait %2
sleep 0.2
kill %1
EOS
		banner=$(timeout 30 unshare -m bash "$T/sshds.sh" 2>"$T/sshds.sh.err")
		check "sshd, syslog: serves ($banner), and setsockopt, bind, listen and verdict reach syslog" \
			test -n "$(grep "^SSH-2.0-OpenSSH" <<<"$banner")" -a \
			"$(grep -cE "sshd: (setsockopt tcp|bind tcp 127.0.0.1:$P|listen tcp 127.0.0.1:$P|verdict:)" "$T/sshd.msgs")" = 4
	else
		ok "# SKIP sshd and syslog: no mount namespaces here"
	fi
else
	ok "# SKIP sshd: needs root and openssh-server"
fi

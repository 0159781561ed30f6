#!/usr/bin/env bash
# Older kernels, said clearly: what the supervisor and the keeper need is
# probed once at start; each missing feature is one line naming it and the
# Linux version that brought it, then its fallback runs, or `run --seccomp`
# refuses cleanly (126). LIBREUSE_TEST_KERNEL_LACKS makes a probe fail, so
# every message and fallback runs on this kernel too.
. "$(dirname "$0")/../lib.sh"
seccomp_or_skip

GOSERVER=$HELPERS/goserver
lacking() { LIBREUSE_TEST_KERNEL_LACKS=$1 "${@:2}"; }

# On the kernel running: exactly the features newer than it are said
# missing (none on 6.9 and later; on Debian 12's 6.1: SYNC_WAKE_UP, 6.6, and
# PIDFD_THREAD, 6.9).
"$CLI" run --seccomp -- true 2>"$T/real.err"
kv=$(uname -r | grep -oE '^[0-9]+\.[0-9]+')
newer() { [ "$(printf '%s\n%s\n' "$1" "$kv" | sort -V | tail -1)" = "$1" ] && [ "$1" != "$kv" ]; }
expect=
for v in 5.9 5.19 6.6 6.9; do newer "$v" && expect+="Linux $v "; done
said=$(grep -oE 'Linux [0-9]+\.[0-9]+' "$T/real.err" | sort -V | tr '\n' ' ')
check "this kernel ($(uname -r)): the features newer than it, and only those, said missing (${said:-none})" \
	test "$said" = "$expect" -a "$(grep -vc '^libreuse: note: ' "$T/real.err")" = 0

# What the supervisor cannot do without.
for f in user_notif:5.0 pidfd_open:5.3 pidfd_getfd:5.6; do
	name=${f%%:*} since=${f#*:}
	lacking "$name" "$CLI" run --seccomp -- true 2>"$T/$name.err"
	rc=$?
	check "lacks $name: run --seccomp exits 126 ($rc)" test "$rc" = 126
	check "lacks $name: ...said in one line, with the version that brought it" \
		grep -qE "^libreuse: --seccomp: this kernel \($(uname -r)\) has no .* \($name, Linux $since\): run --seccomp cannot .*; true not run$" "$T/$name.err"
	check "lacks $name: ...and nothing else" test "$(wc -l <"$T/$name.err")" = 1
done
# Chosen by run itself (a static program): the program runs untouched.
P=$(free_port)
out=$(lacking pidfd_getfd timeout 10 "$CLI" run --reuseaddr -- "$GOSERVER" -port "$P" -serve 0 2>&1)
check "lacks pidfd_getfd, a Go program run chose the supervisor for: it runs untouched" \
	grep -q "READY 127.0.0.1 $P" <<<"$out"
check "...and says why" grep -q "warning: cannot supervise .*has no pidfd_getfd (pidfd_getfd, Linux 5.6)" <<<"$out"

# Refinements: a note each, and the supervisor's work done with the
# fallback (two Go servers, multithreaded, share a port; Go binds from
# whichever thread runs the goroutine, so a non-leader's pidfd may be found
# the old way, through /proc).
for f in killable_recv:5.19 sync_wake_up:6.6 pidfd_thread:6.9 notif_addfd:5.9; do
	name=${f%%:*} since=${f#*:}
	P=$(free_port)
	bg "fb-$name" env LIBREUSE_TEST_KERNEL_LACKS="$name" "$CLI" run --seccomp --reuseport -- \
		sh -c "\"$GOSERVER\" -port $P -id one -serve 0 & \"$GOSERVER\" -port $P -id two -serve 0 & wait"
	wait_count "$T/fb-$name.out" 'READY|BINDERR' 2 10
	check "lacks $name: a note names it, the version, and the fallback" \
		grep -qE "^libreuse: note: this kernel \($(uname -r)\) has no .* \($name, Linux $since\): .+" "$T/fb-$name.err"
	check "lacks $name: ...two Go servers share port $P under the supervisor" \
		test "$(grep -c "READY 127.0.0.1 $P" "$T/fb-$name.out")" = 2
	wait_exit "fb-$name" 10 || kill -TERM "$(cat "$T/fb-$name.pid")"
done

# Without NOTIF_ADDFD a kept socket cannot be put into a supervised
# program: the restart says so and fails, and the old instance serves on.
P=$(free_port)
bg nofd env LIBREUSE_TEST_KERNEL_LACKS=notif_addfd "$CLI" run --keep --seccomp --ready-timeout 5 -- \
	"$GOSERVER" -port "$P"
wait_for "$T/nofd.out" "READY 127.0.0.1 $P" 10 || not_ok "the Go server did not start"
kill -HUP "$(cat "$T/nofd.pid")"
check "lacks notif_addfd: the new instance is told why keep is not possible" \
	wait_for "$T/nofd.err" "keep not possible: this kernel cannot put a socket into a supervised program \(SECCOMP_IOCTL_NOTIF_ADDFD, Linux 5\.9\)" 10
check "lacks notif_addfd: ...the restart fails, the old instance serves on" \
	wait_for "$T/nofd.err" "restart failed: .*the old instance serves on" 10
check "lacks notif_addfd: ...and answers" test -n "$(tcp_get 127.0.0.1 "$P")"
kill -TERM "$(cat "$T/nofd.pid")"
wait_exit nofd 10

# The keeper without SO_PEERPIDFD: said at start; its peers checked by pid.
P=$(free_port)
bg nopidfd env LIBREUSE_TEST_KERNEL_LACKS=peerpidfd "$CLI" run --keep -- "${SERVER[@]}" --port "$P"
wait_for "$T/nopidfd.out" READY || not_ok "the server did not start"
check "lacks peerpidfd: the keeper says it at start" \
	grep -qE "keeper\[[0-9]+\]: this kernel \($(uname -r)\) has no SO_PEERPIDFD \(peerpidfd, Linux 6\.5\): the keeper checks its peers by pid alone" "$T/nopidfd.err"
kill -HUP "$(cat "$T/nopidfd.pid")"
check "lacks peerpidfd: ...and a restart is carried out" wait_for "$T/nopidfd.err" "took 1 kept socket" 10
kill -TERM "$(cat "$T/nopidfd.pid")"
wait_exit nopidfd 10

# A kernel that has pidfd_getfd, in a sandbox whose filter denies it
# (systemd-nspawn's does): said, not passed over silently.
DENY=$HELPERS/denysys
"$DENY" 438 "$CLI" run --seccomp -- true 2>"$T/denied.err"
check "a sandbox denying pidfd_getfd: run --seccomp exits 126 ($?)" test "$?" = 126
check "...saying it is refused here, not missing, and how nspawn allows it" \
	grep -q "pidfd_getfd is refused here (EPERM on this process's own fd: a sandbox's seccomp filter denies it; systemd-nspawn's does, unless --system-call-filter=pidfd_getfd)" "$T/denied.err"
out=$("$DENY" 438 "$CLI" run -- "$GOSERVER" -port "$(free_port)" -serve 0 2>"$T/denied2.err")
check "...a Go program run chose the supervisor for: runs untouched, with a warning" \
	test -n "$(grep READY <<<"$out")" -a -n "$(grep 'warning: cannot supervise .*pidfd_getfd is refused here' "$T/denied2.err")"

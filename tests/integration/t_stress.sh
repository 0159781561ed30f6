#!/usr/bin/env bash
# Threads, reloads and process life cycle: 32 threads binding and connecting
# while the rule file is rewritten all the time (both by replacing it and in
# place); a threaded parent forking, vforking and posix_spawning while its
# threads bind. Under SANITIZE=thread every report is a failure (lib.sh).
. "$(dirname "$0")/../lib.sh"

A='rules = ( { match = { port = 0; }; reuseaddr = true; } );'
rules "$T/stress.conf" "$A"
# Version A is loaded at the first call; from 0.2 s on the file is rewritten
# every 10 ms — by rename and in place, its size changing each time — with
# variants of version B only. So every reload (one a second) must bring B,
# and a torn in-place write must be reported and never applied.
writer() {
	local i=0 text
	sleep 0.2
	while :; do
		text="rules = ( { match = { port = 0; }; reuseport = true; } ); # $(head -c $((i % 50)) /dev/zero | tr '\0' x)"
		if [ $((i % 2)) = 0 ]; then
			printf '%s\n' "$text" >"$T/stress.new" && mv "$T/stress.new" "$T/stress.conf"
		else
			printf '%s\n' "$text" >"$T/stress.conf"
		fi
		i=$((i + 1))
		sleep 0.01
	done
}
start=$(date +%s%N)
timeout 120 env LIBREUSE_CONFIG="$T/stress.conf" LD_PRELOAD="$(preload)" "$HELPERS/stress" 32 2500 >"$T/stress.out" 2>"$T/stress.err" &
stress=$!
writer &
PIDS+=($!)
writer_pid=$!
wait "$stress"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
kill "$writer_pid" 2>/dev/null
read -r _ binds _ ra _ rp _ badn _ bf _ cf _ <"$T/stress.out"
check "32 threads for 2.5 s under constant rewrites: every bind with exactly one version's options, every connect ok ($(cat "$T/stress.out"), ${ms} ms)" \
	test "$rc" = 0 -a "${binds:-0}" -ge 3200
check "...and both versions were in force: A at first, B after the reloads under load" \
	test "${ra:-0}" -gt 0 -a "${rp:-0}" -gt 0
check "...with no error line (a half-written file is reported, never applied)" \
	test -z "$(grep -v "^libreuse\[[0-9]*\]: $T/stress.conf:[0-9]*: " "$T/stress.err")"

rules "$T/fork.conf" 'rules = ( { match = { port = 0; }; reuseaddr = true; } );'
rounds=150
[ "${SANITIZE:-}" = thread ] && rounds=40
timeout 120 env LIBREUSE_CONFIG="$T/fork.conf" LD_PRELOAD="$(preload)" "$HELPERS/forkstress" "$rounds" >"$T/fork.out" 2>"$T/fork.err"
rc=$?
check "threaded parent: $rounds each of fork, vfork, posix_spawn while 4 threads bind — no deadlock, every child ok ($(cat "$T/fork.out"))" \
	test "$rc" = 0
# Forking while the threads are still loading the rules: the child loads
# them itself, which allocates. glibc's fork makes malloc safe in the
# child; the sanitizers' allocators in gcc 12 are not fork-safe (a child
# can block on a lock another parent thread held), so plain build only.
if [ -z "${SANITIZE:-}" ]; then
	i=0
	for _ in 1 2 3 4 5; do
		timeout 60 env LIBREUSE_CONFIG="$T/fork.conf" LD_PRELOAD="$(preload)" "$HELPERS/forkstress" 20 cold >"$T/cold.out" 2>"$T/cold.err" || break
		i=$((i + 1))
	done
	check "...and forking during the first rule load, 5 times over ($(cat "$T/cold.out"))" test "$i" = 5
else
	ok "# SKIP fork during the first load: the sanitizer allocator is not fork-safe"
fi

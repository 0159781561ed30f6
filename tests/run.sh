#!/usr/bin/env bash
# Runs the unit test binaries given as arguments, then every
# tests/integration/t_*.sh (or those LIBREUSE_TESTS names), and closes with
# "N passed, N failed".
# Integration scripts print one "ok - ..." or "not ok - ..." line per check.
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
failures=()

for bin in "$@"; do
	out=$(timeout 300 "$bin" 2>&1)
	rc=$?
	p=$(grep -oE '^\[  PASSED  \] [0-9]+' <<<"$out" | grep -oE '[0-9]+$')
	f=$(grep -oE '^\[  FAILED  \] [0-9]+ test' <<<"$out" | grep -oE '[0-9]+' | head -1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # crashed or timed out
	passed=$((passed + p))
	failed=$((failed + f))
	printf '%-40s %3d passed, %d failed\n' "$(basename "$bin")" "$p" "$f"
	if [ "$f" -ne 0 ]; then
		failures+=("$(basename "$bin")")
		printf '%s\n' "$out" | grep -vE '^\[ (RUN|      OK) ' | sed 's/^/    /'
	fi
done

# This runner and the processes that started it (make, its shell: their
# command lines name build/ too), never counted as left behind.
ancestors() {
	local p=$$
	while [ -n "$p" ] && [ "$p" -gt 1 ]; do
		echo "$p"
		p=$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null)
	done
}
SELF=$(ancestors | paste -sd'|')

# Processes a test left running: anything started from this checkout's
# tests/ or build/, or from a test's temporary directory.
# Nor this function's own pipeline: a child forked for it shows the
# runner's command line until it has exec'd (a long while under qemu-user).
leftovers() {
	local me=$BASHPID pid rest
	pgrep -af "$(pwd)/(tests|build)/|${TMPDIR:-/tmp}/libreuse-test\." | grep -vE "^($SELF|$me) " | grep -v pgrep |
		while read -r pid rest; do
			[ "$(awk '{ print $4 }' "/proc/$pid/stat" 2>/dev/null)" = "$me" ] || echo "$pid $rest"
		done
}
# stop_leftovers: KILL what leftovers lists.
stop_leftovers() {
	local pids
	pids=$(leftovers | awk '{ print $1 }')
	[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
}

# What an earlier, interrupted run left is not this run's failure.
if [ -n "$(leftovers)" ]; then
	echo "# stopping $(leftovers | wc -l) process(es) an earlier run left behind"
	stop_leftovers
	sleep 0.2
fi

# LIBREUSE_TESTS="t_keep.sh t_seccomp.sh": only those (make check-kernel
# and check-systemd run a chosen few); unset: every one.
for t in tests/integration/t_*.sh; do
	[ -e "$t" ] || continue
	if [ -n "${LIBREUSE_TESTS:-}" ] && ! grep -qwF -- "$(basename "$t")" <<<"$LIBREUSE_TESTS"; then
		continue
	fi
	start=$(date +%s%3N)
	out=$(timeout 300 bash "$t" 2>&1)
	rc=$?
	# A test leaves no process behind: give its cleanup a moment, then
	# count what is left as a failure (and stop it, so the next test
	# starts clean).
	left=
	for _ in $(seq 20); do
		left=$(leftovers)
		[ -z "$left" ] && break
		sleep 0.1
	done
	if [ -n "$left" ]; then
		out+=$'\n'"not ok - $(basename "$t") left processes running:"$'\n'"$left"
		stop_leftovers
	fi
	p=$(grep -cE '^ok( |$)' <<<"$out")
	f=$(grep -cE '^not ok( |$)' <<<"$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		out+=$'\n'"not ok - $(basename "$t") exited with status $rc"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	ms=$(($(date +%s%3N) - start))
	printf '%-40s %3d passed, %d failed (%d.%ds)\n' "$(basename "$t")" "$p" "$f" $((ms / 1000)) $((ms % 1000 / 100))
	if [ "$f" -ne 0 ]; then
		failures+=("$(basename "$t")")
		printf '%s\n' "$out" | sed 's/^/    /'
	elif [ -n "${VERBOSE:-}" ]; then
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
done

[ ${#failures[@]} -eq 0 ] || printf 'failed: %s\n' "${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

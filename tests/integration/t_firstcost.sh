#!/usr/bin/env bash
# What a program's first socket() costs with its table in the cache, in the
# counts that do not depend on timing: its system calls (strace, between two
# getppid marks) and its page faults (getrusage), beside the floor of
# reading that table (open, fstat, mmap, a load from each page, close) in a
# process of the same kind. Issue 27's targets are floor + 4 for both; the
# budgets below are what this tree reaches (see docs/performance.md), so
# that no change brings a cost back unnoticed.
. "$(dirname "$0")/../lib.sh"

if [ -n "${SANITIZE:-}" ]; then
	ok "# SKIP the sanitizer runtime faults in and calls on its own behalf"
	exit 0
fi
FC=$HELPERS/firstcost
# Over the floor, at most (syscalls, faults). The system calls are one
# under the target since neither the real functions nor the load wake a
# futex. The faults: the library's small variables share a page ld.so has
# written (src/base/pages.h), the fork page's first touch is a write, the
# first call's frames fit in the stack the program has, and the bind gate
# is read in place from the table (compiled there, written by no load);
# what is left is the program's lookup of socket in the library, the
# fd's slot, the fork page and the clock's first read (its code and the
# vDSO's data): floor + 4 at 1 rule, + 3 at 10,000. One page of slack, so
# that the budget does not hang on the floor's own noise (2 or 3 at 1
# rule).
SYS_OVER=3
FAULT_OVER_1=5
FAULT_OVER_10K=5

rules "$T/one.conf" 'rules = ( { match = { port = 20001; }; reuseaddr = true; } );'
"$PY" -c '
import sys
print("rules = (" + ",\n".join("{ match = { port = %d; }; reuseaddr = true; reuseport = true; }" % (20001 + i)
                              for i in range(10000)) + ");")' >"$T/many.conf"

# The syscalls between the marks, one per line of strace's.
between() { awk '/^getppid\(/ { n++; next } n == 1' "$1"; }

median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

for set in one many; do
	conf=$T/$set.conf
	LIBREUSE_CONFIG=$conf "$BUILD/libreuse" compile -c "$conf" >"$T/compile.out" 2>&1
	table=$(ls -t "$LIBREUSE_CACHE_DIR"/*.table | head -1)
	check "$set: compiled into the cache ($(stat -c %s "$table") bytes)" test -s "$table"
	# Warm: the page cache holds the table, as for every start but the first.
	LIBREUSE_CONFIG=$conf LD_PRELOAD=$LIB "$FC" first >/dev/null
	f=() g=()
	for i in 1 2 3; do
		f+=("$(LIBREUSE_CONFIG=$conf LD_PRELOAD=$LIB "$FC" first)")
		g+=("$("$FC" floor "$table")")
	done
	faults=$(median3 "${f[@]}") floor=$(median3 "${g[@]}")
	over=$([ $set = one ] && echo $FAULT_OVER_1 || echo $FAULT_OVER_10K)
	check "$set: the first socket() faults $faults pages, the floor $floor (budget floor + $over; target floor + 4)" \
		test "$faults" -le $((floor + over))
	check "$set: ...and it faults the table in, not nothing (floor $floor > 0)" test "$floor" -gt 0
	timeout 30 strace -o "$T/lib.st" env LIBREUSE_CONFIG="$conf" LD_PRELOAD="$LIB" "$FC" first >/dev/null
	timeout 30 strace -o "$T/floor.st" "$FC" floor "$table" >/dev/null
	calls=$(between "$T/lib.st" | wc -l) fcalls=$(between "$T/floor.st" | wc -l)
	# The floor's own: open, fstat, mmap, close; the call's own: socket.
	check "$set: the floor makes its 4 calls ($fcalls)" test "$fcalls" = 4
	check "$set: the first socket() makes $calls system calls, the floor $((fcalls + 1)) with the socket (budget + $SYS_OVER; target + 4)" \
		test "$calls" -le $((fcalls + 1 + SYS_OVER))
	check "$set: ...the table mapped read-only from the cache, not read" \
		grep -q "^mmap(NULL, $(stat -c %s "$table"), PROT_READ, MAP_PRIVATE, [0-9]" "$T/lib.st"
	check "$set: ...the rule file looked at once ($(between "$T/lib.st" | grep -c "\"$conf\""))" \
		test "$(between "$T/lib.st" | grep -c "\"$conf\"")" = 1
	check "$set: ...no readlink of /proc/self/exe (no rule names a program)" \
		sh -c "! grep -q 'readlink(\"/proc/self/exe\"' '$T/lib.st'"
	check "$set: ...no futex wake (the real functions resolve without pthread_once, the load's once wakes no one when no one waits: $(between "$T/lib.st" | grep -c '^futex('))" \
		test "$(between "$T/lib.st" | grep -c '^futex(')" -eq 0
done

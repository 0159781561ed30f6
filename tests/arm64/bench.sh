#!/usr/bin/env bash
# make bench-arm64 (issue 29): the arm64 build's costs, each as a ratio to
# its floor, under qemu-aarch64 (user mode, TCG) with the arm64 root as its
# sysroot. Emulated: guest code is translated the first time it runs, so
# absolute times say nothing about an arm64 machine and only ratios of
# variants run the same way mean something. To tell what the emulator adds
# to a ratio from what arm64 does, the same variants of this machine's own
# build run in the same rounds under qemu-x86_64 (when build/ has them).
#
# Three measures, variants alternating in each round (each round starting
# one variant later), medians over the rounds, one CPU:
#   first socket()  the first socket() of a fresh process, 1 rule, its
#                   table cached, against the floor: open, fstat, mmap,
#                   touch and close that table (workload first-floor)
#   bind cycle      socket, SO_REUSEADDR, bind 127.0.0.1, close, with a rule
#                   injecting SO_REUSEPORT, against no library (and the bare
#                   interposer, whose ratio shows the noise)
#   start-up        a process that opens no socket (true), whole process,
#                   with libreuse against the bare interposer and no library
# Prints the section for docs/performance.md and, with --write, puts it
# there between its markers. Not part of make check. Exit 0 with one line
# "skipped" where it cannot run.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=${BENCH_ROUNDS:-21}
CYCLES=${BENCH_CYCLES:-10000}
WRITE=0
[ "${1:-}" = --write ] && WRITE=1

skip() {
	echo "bench-arm64: skipped: $*"
	exit 0
}
A64=$ROOT/build/arm64
SYSROOT=$ROOT/build/arm64-root
[ -d "$SYSROOT/usr" ] || SYSROOT=${LIBREUSE_ARM64_CACHE:-/var/cache/libreuse-tests}/arm64-root
[ -d "$SYSROOT/usr" ] || skip "no arm64 root (make arm64-deps builds it)"
command -v qemu-aarch64-static >/dev/null || skip "no qemu-aarch64-static (make arm64-deps)"
for f in libreuse libreuse.so bench/workload bench/passthru.so; do
	[ -e "$A64/$f" ] || skip "$A64/$f missing (make bench-arm64 builds it)"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/libreuse-bench-arm64.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
# A free port below the ephemeral range, as make bench binds: a port the
# kernel hands out for other tests' connections would be taken midway.
PORT=$(python3 -c '
import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(100):
    p = random.randrange(max(1024, lo - 20000), lo)
    try:
        socket.socket().bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p)
    break')
[ -n "$PORT" ] || { echo "bench-arm64: no free port" >&2; exit 1; }
# The rule names the port every bind variant binds, so each asks the
# kernel for the same work; libreuse adds SO_REUSEPORT to it.
printf 'rules = ( { match = { port = %s; proto = "tcp"; }; reuseaddr = true; reuseport = true; } );\n' \
	"$PORT" >"$TMP/one.conf"
CPU=$(python3 -c 'import os; print(max(os.sched_getaffinity(0)))')
PIN=(taskset -c "$CPU")
command -v taskset >/dev/null || PIN=()

# Per column: the emulator's command line, the build, the table.
declare -A QEMU BUILD TRUE TABLEOF
QEMU[arm64]="qemu-aarch64-static -L $SYSROOT"
BUILD[arm64]=$A64
TRUE[arm64]=$SYSROOT/usr/bin/true
ARCHES=(arm64)
if command -v qemu-x86_64-static >/dev/null && [ -e "$ROOT/build/bench/workload" ] &&
	[ -e "$ROOT/build/bench/passthru.so" ] && [ -e "$ROOT/build/libreuse.so" ]; then
	QEMU[x86_64]="qemu-x86_64-static"
	BUILD[x86_64]=$ROOT/build
	TRUE[x86_64]=/usr/bin/true
	ARCHES+=(x86_64)
	# And natively, no emulator: the yardstick the two emulated columns
	# are read against.
	QEMU[native]=""
	BUILD[native]=$ROOT/build
	TRUE[native]=/usr/bin/true
	TABLEOF[native]=""
	ARCHES+=(native)
fi

# Each architecture's table compiled by its own command (under the same
# emulator), into a cache of its own, as `libreuse run` does before a start.
for a in "${ARCHES[@]}"; do
	[ "$a" = native ] && { TABLEOF[native]=${TABLEOF[x86_64]}; continue; }
	mkdir -p "$TMP/cache-$a"
	env -i PATH="$PATH" LIBREUSE_CACHE_DIR="$TMP/cache-$a" ${QEMU[$a]} "${BUILD[$a]}/libreuse" compile \
		-c "$TMP/one.conf" >/dev/null || { echo "bench-arm64: $a: libreuse compile failed" >&2; exit 1; }
	TABLEOF[$a]=$(ls "$TMP/cache-$a"/*.table)
done

START_PY='import os, sys, time
t0 = time.monotonic_ns()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], {})
_, st, ru = os.wait4(pid, 0)
t1 = time.monotonic_ns()
sys.exit(st) if st else print(t1 - t0, round((ru.ru_utime + ru.ru_stime) * 1e9))'

# One run of variant $1 ("arch measure who"); prints its figure: ns.
run_one() {
	local a=$1 m=$2 who=$3 w=${BUILD[$1]}/bench/workload
	local -a env=(/usr/bin/env -i PATH="$PATH" LIBREUSE_CONFIG="$TMP/none.conf")
	case $who in
	lib) env=(/usr/bin/env -i PATH="$PATH" LD_PRELOAD="${BUILD[$a]}/libreuse.so" LIBREUSE_CONFIG="$TMP/one.conf"
		LIBREUSE_CACHE_DIR="${TABLEOF[$a]%/*}") ;;
	bare) env+=(LD_PRELOAD="${BUILD[$a]}/bench/passthru.so") ;;
	esac
	case $m in
	first)
		if [ "$who" = floor ]; then
			"${PIN[@]}" "${env[@]}" ${QEMU[$a]} "$w" first-floor "${TABLEOF[$a]}"
		else
			"${PIN[@]}" "${env[@]}" ${QEMU[$a]} "$w" first-socket
		fi | cut -d' ' -f1 ;;
	bind) "${PIN[@]}" "${env[@]}" ${QEMU[$a]} "$w" bind "$CYCLES" "$PORT" ;;
	start)
		# The whole process, from outside: its wall time and its CPU time
		# (user and system, the kernel's account of the reaped child).
		"${PIN[@]}" python3 -c "$START_PY" "${env[@]}" ${QEMU[$a]} "${TRUE[$a]}" ;;
	esac
}

VARIANTS=()
for a in "${ARCHES[@]}"; do
	VARIANTS+=("$a first none" "$a first lib" "$a first floor"
		"$a bind none" "$a bind bare" "$a bind lib"
		"$a start none" "$a start bare" "$a start lib")
done
declare -A SAMPLES
n=${#VARIANTS[@]}
for ((r = 0; r <= ROUNDS; r++)); do
	for ((k = 0; k < n; k++)); do
		v=${VARIANTS[$(((k + r) % n))]}
		# shellcheck disable=SC2086
		# One retry: a test of someone else's may hold the port a moment.
		x=$(run_one $v) && [ -n "$x" ] || x=$(run_one $v) && [ -n "$x" ] ||
			{ echo "bench-arm64: $v failed" >&2; exit 1; }
		# Round 0 is a warm-up: the page cache, the emulator's own pages.
		[ "$r" = 0 ] && continue
		SAMPLES[$v]+="${x%% *} "
		# shellcheck disable=SC2086
		[ "${v#* start }" = "$v" ] || SAMPLES[${v/ start / startcpu }]+="${x#* } "
	done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A MED
for v in "${!SAMPLES[@]}"; do
	MED[$v]=$(echo "${SAMPLES[$v]}" | median)
done
us() { awk -v x="$1" 'BEGIN { printf "%\047.1f", x / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

row() { # measure, what, variant, its floor's variant, floor name
	local line="| $2 |" a
	for a in "${ARCHES[@]}"; do
		line+=" $(us "${MED[$a $1 $3]}") | $(ratio "${MED[$a $1 $3]}" "${MED[$a $1 $4]}")×${5:+ $5} |"
	done
	echo "$line"
}

{
	echo "<!-- bench-arm64 begin: tests/arm64/bench.sh --write replaces this section -->"
	echo "## arm64, emulated (qemu-user TCG on x86-64): ratios only are meaningful, absolute times are not"
	echo
	echo "Measured by \`make bench-arm64\` (tests/arm64/bench.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'):" \
		"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//' | cut -d' ' -f1-2), $(nproc) cores," \
		"$(qemu-aarch64-static --version | head -1 | sed 's/ *Copyright.*//'), the arm64 programs of" \
		"\`make ARCH=arm64\` over Debian $(cat "$SYSROOT/etc/debian_version")'s arm64 libc (the root of" \
		"\`make arm64-deps\`). Medians of $ROUNDS rounds in which every variant ran once, in turn, each round" \
		"starting one variant later, after one warm-up round; one CPU. Under TCG, guest code costs most" \
		"the first time it runs (it is translated then), so a measure that runs code once (the first" \
		"socket(), start-up) weighs how much code runs more than what it costs on arm64; a loop (the bind" \
		"cycle, $CYCLES cycles a run after a tenth of that as warm-up) is mostly the host kernel's system calls."
	if [ "${#ARCHES[@]}" = 3 ]; then
		echo "The x86-64 columns are this machine's own build, run the same way under qemu-x86_64 and natively," \
			"in the same rounds: how far the emulator moves a ratio, beside the ratio it moves."
	fi
	echo
	line="| measure |" sep="|---|"
	declare -A TITLE=([arm64]="arm64 under qemu-aarch64" [x86_64]="x86-64 under qemu-x86_64" [native]="x86-64 native")
	for a in "${ARCHES[@]}"; do
		line+=" ${TITLE[$a]}: µs (median) | ratio |"
		sep+="---:|---:|"
	done
	echo "$line"
	echo "$sep"
	row first "first socket(), no library" none floor "the floor"
	row first "first socket(), libreuse 1 rule, table cached" lib floor "the floor"
	row first "floor: open, fstat, mmap, touch, close the table" floor floor ""
	row bind "bind cycle, no library (per cycle)" none none ""
	row bind "bind cycle, bare interposer" bare none "no library"
	row bind "bind cycle, libreuse injecting SO_REUSEPORT" lib none "no library"
	row start "start-up of true (whole process), no library" none bare "bare interposer"
	row start "start-up of true, bare interposer" bare bare ""
	row start "start-up of true, libreuse (1-rule file, never read)" lib bare "bare interposer"
	row startcpu "start-up of true, CPU time (user + system), no library" none bare "bare interposer"
	row startcpu "start-up of true, CPU time, bare interposer" bare bare ""
	row startcpu "start-up of true, CPU time, libreuse" lib bare "bare interposer"
	echo
	echo "- The floor of the first socket() is the same workload without the library opening, fstatting," \
		"mapping, touching each page of and closing the cached table (8 KiB at 1 rule); the library's" \
		"first socket() also runs its hooks, the table's checks and the bind gate for the first time," \
		"each translated by the emulator there."
	echo "- The bind cycle is the ratio an arm64 machine would come closest to: every variant runs warm" \
		"translated code, and the system calls are this machine's kernel's; the bare interposer's ratio" \
		"to no library, in each column, is the noise of this run."
	echo "- Start-up: read the CPU rows. Under qemu-user the wall time of a start with libreuse carries a" \
		"wait of its own: the constructor's copy of stderr (fcntl F_DUPFD_CLOEXEC to fd 512) grows the" \
		"file table, and the kernel waits for an RCU grace period to grow the table of a process that" \
		"has more than one thread, which qemu-user's process always has (its RCU thread): 11 ms in" \
		"strace when this section was first written. A native program's constructors run before it" \
		"starts threads, so the native column does not pay it."
	echo "<!-- bench-arm64 end -->"
} >"$TMP/section.md"
cat "$TMP/section.md"

if [ "$WRITE" = 1 ]; then
	doc=$ROOT/docs/performance.md
	python3 - "$doc" "$TMP/section.md" <<'EOF'
import re, sys
doc, sec = sys.argv[1], open(sys.argv[2]).read()
text = open(doc).read()
pat = re.compile(r"<!-- bench-arm64 begin.*?<!-- bench-arm64 end -->\n", re.S)
text = pat.sub(lambda m: sec, text) if pat.search(text) else text.rstrip("\n") + "\n\n" + sec
open(doc, "w").write(text)
EOF
	echo "bench-arm64: section written to docs/performance.md"
fi

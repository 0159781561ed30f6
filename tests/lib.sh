# Sourced by every integration test: a private temp dir, background
# processes that are always reaped, free ports chosen at run time, the shim
# preloaded (after a sanitizer runtime when built with one), and ok/not ok.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${LIBREUSE_BUILD:-$ROOT/build}
LIB=$BUILD/libreuse.so
PY=/usr/bin/python3
SERVER=("$PY" "$ROOT/tests/helpers/server.py")
# Queries a JSON log (every line must parse): see tests/helpers/logq.py.
LOGQ=("$PY" "$ROOT/tests/helpers/logq.py")
HELPERS=$BUILD/helpers
# Under ${TMPDIR:-/tmp}: two runs side by side (worktrees) each stop only
# what their own tests left.
T=$(mktemp -d "${TMPDIR:-/tmp}/libreuse-test.XXXXXX")
chmod 755 "$T"
# Compiled tables go to the test's own cache, so no test sees another's.
export LIBREUSE_CACHE_DIR=$T/cache
PIDS=()

# Under a sanitizer build, reports go to files here; any report is a
# failure. Leaks are not looked for in host programs (python3, nginx leak by
# design at exit); libreuse's own are checked by the unit tests and valgrind.
if [ -n "${SANITIZE:-}" ]; then
	export ASAN_OPTIONS="detect_leaks=0:log_path=$T/sanitizer"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$T/sanitizer"
	export TSAN_OPTIONS="log_path=$T/sanitizer"
fi

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if compgen -G "$T/sanitizer.*" >/dev/null; then
		echo "not ok - sanitizer reports in $(basename "$0")"
		cat "$T"/sanitizer.* | head -60 | sed 's/^/    /'
	fi
	rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok - $*"; }
not_ok() {
	echo "not ok - $1"
	shift
	local line
	for line in "$@"; do printf '    %s\n' "$line"; done
}
# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc" "failed: $*"; fi
}

preload() {
	local pre=
	case "${SANITIZE:-}" in
	*address*) pre="$(cc -print-file-name=libasan.so):" ;;
	*thread*) pre="$(cc -print-file-name=libtsan.so):" ;;
	*undefined*) pre="$(cc -print-file-name=libubsan.so):" ;;
	esac
	echo "$pre$LIB"
}

# precompile CONF: under qemu-user (make check-arm64 sets
# LIBREUSE_PRECOMPILE), the table compiled into the test's cache first, as
# `libreuse run` does: qemu-user emulates no clone whose exit signal is not
# SIGCHLD, so the library cannot start its own compiler there.
precompile() {
	[ -z "${LIBREUSE_PRECOMPILE:-}" ] || LIBREUSE_CONFIG=$1 "$BUILD/libreuse" compile >/dev/null 2>&1 || true
}

# shim CONF COMMAND...: run COMMAND with libreuse and rule file CONF.
shim() {
	local conf=$1
	shift
	precompile "$conf"
	LIBREUSE_CONFIG=$conf LD_PRELOAD=$(preload) "$@"
}

# A port free for TCP and UDP on both 127.0.0.1 and ::1 right now.
free_port() {
	"$PY" - <<'PYEOF'
import socket
for _ in range(200):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    try:
        for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                x = socket.socket(fam, kind)
                x.bind((addr, port))
                x.close()
        print(port)
        break
    except OSError:
        pass
PYEOF
}

# bg NAME COMMAND...: start in the background; output in $T/NAME.out and
# $T/NAME.err, pid (the program's own) in $T/NAME.pid; always killed at exit.
# COMMAND may be `shim CONF PROGRAM...`.
bg() {
	local name=$1
	shift
	# exec, so the pid recorded is the program's own (a shell function
	# such as shim would otherwise leave a subshell in between, and
	# killing that would orphan the program).
	(
		if [ "$1" = shim ]; then
			precompile "$2"
			export LIBREUSE_CONFIG=$2 LD_PRELOAD=$(preload)
			shift 2
		fi
		exec "$@"
	) >"$T/$name.out" 2>"$T/$name.err" &
	PIDS+=($!)
	echo $! >"$T/$name.pid"
}

# wait_for FILE PATTERN [SECONDS]: until FILE has a line matching PATTERN.
wait_for() {
	local file=$1 pattern=$2 tries=$((${3:-5} * 20))
	while [ "$tries" -gt 0 ]; do
		grep -qE -- "$pattern" "$file" 2>/dev/null && return 0
		sleep 0.05
		tries=$((tries - 1))
	done
	return 1
}

# wait_exit NAME [SECONDS]: until the background process NAME has exited.
wait_exit() {
	local pid tries=$((${2:-5} * 20))
	pid=$(cat "$T/$1.pid")
	while kill -0 "$pid" 2>/dev/null && [ "$tries" -gt 0 ]; do
		sleep 0.05
		tries=$((tries - 1))
	done
	! kill -0 "$pid" 2>/dev/null
}

# tcp_get HOST PORT: one connection, prints what the server sent. HOST is
# 127.0.0.1 or [::1].
# -u: read only, so the server closes first and TIME_WAIT stays on its side.
tcp_get() { timeout 5 socat -u -T 2 "TCP:$1:$2" STDOUT 2>/dev/null; }

# rules FILE TEXT: write a rule file.
rules() { printf '%s\n' "$2" >"$1"; }

# ask PROTO HOST PORT N: N requests from fresh sockets, one answer a line.
ask() { timeout 30 "$PY" "$ROOT/tests/helpers/client.py" --proto "$1" --host "$2" --port "$3" -n "$4" 2>/dev/null; }
# ask_none PROTO HOST PORT: one request where no answer is expected (short wait).
ask_none() { timeout 5 "$PY" "$ROOT/tests/helpers/client.py" --proto "$1" --host "$2" --port "$3" --timeout 0.5 2>/dev/null; }

# all_ready NAME...: every named background server printed READY.
all_ready() {
	local n
	for n in "$@"; do grep -q READY "$T/$n.out" || return 1; done
}

# nginx_conf DIR LISTEN: a minimal nginx configuration in DIR/nginx.conf
# (all paths inside DIR, no daemon) whose one server has `listen LISTEN`
# and answers "hello from nginx".
nginx_conf() {
	mkdir -p "$1/tmp"
	cat >"$1/nginx.conf" <<CONF
daemon off;
worker_processes 2;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $1/tmp;
    proxy_temp_path $1/tmp;
    fastcgi_temp_path $1/tmp;
    uwsgi_temp_path $1/tmp;
    scgi_temp_path $1/tmp;
    server {
        listen $2;
        location / { return 200 "hello from nginx\n"; }
    }
}
CONF
}

# wait_count FILE PATTERN N [SECONDS]: until FILE has at least N lines
# matching PATTERN.
wait_count() {
	local file=$1 pattern=$2 n=$3 tries=$((${4:-10} * 20))
	while [ "$tries" -gt 0 ]; do
		[ "$(grep -cE -- "$pattern" "$file" 2>/dev/null)" -ge "$n" ] && return 0
		sleep 0.05
		tries=$((tries - 1))
	done
	return 1
}

# json_get JSON KEY: one value of a flat JSON object (lists come out as
# space-separated words).
json_get() {
	"$PY" -c 'import json, sys; v = json.loads(sys.argv[1])[sys.argv[2]]; print(" ".join(map(str, v)) if isinstance(v, list) else v)' "$1" "$2"
}

# The libreuse command of this build.
CLI=$BUILD/libreuse

# wait_count_exact N PATTERN [SECONDS]: until exactly N processes' command
# lines match PATTERN.
wait_count_exact() {
	local n=$1 pattern=$2 tries=$((${3:-5} * 20))
	while [ "$tries" -gt 0 ]; do
		[ "$(pgrep -fc -- "$pattern")" -eq "$n" ] && return 0
		sleep 0.05
		tries=$((tries - 1))
	done
	return 1
}

# tw_table_full: succeeds where the machine's TIME_WAIT table is (nearly)
# full: the kernel then makes no TIME_WAIT socket at all, and a check about
# TIME_WAIT says nothing (seen beside load tests that left 127,000 of them).
tw_table_full() {
	local max n
	max=$(cat /proc/sys/net/ipv4/tcp_max_tw_buckets 2>/dev/null) || return 1
	n=$(ss -Htan state time-wait | wc -l)
	[ "$n" -ge $((max * 9 / 10)) ]
}

# seccomp_or_skip: ends the test, skipping with the reason, where this
# kernel (or a sandbox) gives no seccomp user notification.
seccomp_or_skip() {
	local why
	why=$("$CLI" run --seccomp -- true 2>&1)
	if [ $? = 126 ]; then
		ok "# SKIP seccomp user notification is not available here: $why"
		exit 0
	fi
}

# no_i386: prints why this kernel runs no 32-bit x86 program, and succeeds;
# fails where it runs them. The probe is a static i386 program of ours (a
# sanitizer build has only the Go one): a kernel without IA32 emulation
# (ia32_emulation=0, or a virtual machine with no 32-bit mode) refuses it
# with ENOEXEC. Such a kernel faults an `int $0x80` too, so no call reaches
# it that way.
no_i386() {
	local probe=$HELPERS/i386/bindprobe-static out
	[ -x "$probe" ] || probe=$HELPERS/goserver386
	out=$( ("$probe" -h) 2>&1)
	case $out in
	*"Exec format error"*) echo "this kernel runs no i386 program (IA32 emulation off or absent: $(uname -r))" ;;
	*) return 1 ;;
	esac
}

# load_start NAME PORT [LOADGEN ARGS...]: 4 threads connecting to PORT in a
# loop (tests/helpers/loadgen.py) until load_stop NAME, which prints the
# counts, one JSON line.
load_start() {
	local name=$1 port=$2
	shift 2
	bg "$name" "$PY" "$ROOT/tests/helpers/loadgen.py" --port "$port" --threads 4 \
		--until "$T/$name.stop" --seconds 60 "$@"
}
load_stop() {
	touch "$T/$1.stop"
	wait_exit "$1" 20
	cat "$T/$1.out"
}

# restarts KEEPER SIGNAL N: SIGNAL to the background keeper KEEPER, N times,
# each once the previous restart was carried out (the new instance took its
# sockets); false when one was not.
restarts() {
	local name=$1 sig=$2 n=$3 i
	for ((i = 1; i <= n; i++)); do
		kill -"$sig" "$(cat "$T/$name.pid")"
		wait_count "$T/$name.err" 'took [0-9]+ kept socket' "$i" 10 || return 1
		sleep 0.3
	done
}

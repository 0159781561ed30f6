#!/usr/bin/env bash
# valgrind memcheck over programs under the shim — awkward calls with every
# action and level "all", conflicts with holder lookup, threads with reloads,
# forks — and over the libreuse command: no invalid access, no use of
# uninitialised memory, no definite leak (libconfig's own parse-error leak
# is suppressed, tests/valgrind.supp). Slow, so each run is small.
. "$(dirname "$0")/../lib.sh"
if [ -n "${SANITIZE:-}" ] || ! command -v valgrind >/dev/null; then
	ok "# SKIP valgrind: not with a sanitizer build, or valgrind not installed (make bench-deps)"
	exit 0
fi
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
	--show-leak-kinds=definite --suppressions="$ROOT/tests/valgrind.supp" --track-fds=no)
vg() { # NAME COMMAND...: under memcheck; ok when it reports nothing
	local name=$1
	shift
	timeout 300 "${VG[@]}" --log-file="$T/$name.vg" "$@" >"$T/$name.out" 2>"$T/$name.err"
	local rc=$?
	if [ $rc = 99 ] || [ -s "$T/$name.vg" ]; then
		not_ok "memcheck: $name" "$(head -40 "$T/$name.vg")"
	elif [ $rc = 124 ]; then
		not_ok "memcheck: $name timed out"
	else
		ok "memcheck: $name clean (exit $rc)"
	fi
}

P=$(free_port)
H=$(free_port)
bg holder "${SERVER[@]}" --port "$H"
wait_for "$T/holder.out" READY
rules "$T/all.conf" "log = { level = \"all\"; format = \"json\"; };
rules = (
  { match = { port = $P; }; reuseaddr = true; reuseport = true; force = true; },
  { match = { port = $H; }; retry = 50; },
  { match = { op = \"connect\"; port = $H; }; rewrite = \":$H\"; }
);"
vg callprobe env LIBREUSE_CONFIG="$T/all.conf" LD_PRELOAD="$LIB" "$HELPERS/callprobe" "$P" "$H" "$T/u.sock"
check "...callprobe logged conflicts with holders under memcheck" grep -q '"holders":\[{"pid":' "$T/callprobe.err"
rules "$T/stress.conf" 'rules = ( { match = { port = 0; }; reuseaddr = true; } );'
vg stress env LIBREUSE_CONFIG="$T/stress.conf" LD_PRELOAD="$LIB" "$HELPERS/stress" 4 1500
vg forkstress env LIBREUSE_CONFIG="$T/stress.conf" LD_PRELOAD="$LIB" "$HELPERS/forkstress" 5
printf 'rules = (\n  { match = { port = "80; }; }\n);\n' >"$T/broken.conf"
vg brokenfile env LIBREUSE_CONFIG="$T/broken.conf" LD_PRELOAD="$LIB" "$HELPERS/callprobe" "$P" "$H" "$T/u2.sock"
vg check "$BUILD/libreuse" check "$ROOT/config/rewrite.conf"
vg who "$BUILD/libreuse" who "$H"
vg matrix "$BUILD/libreuse" matrix

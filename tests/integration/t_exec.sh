#!/usr/bin/env bash
# Every program of the tree under `libreuse run` is ruled, whatever its libc
# or linking and whatever its parent does to the environment; where one
# cannot be, one line names it. Musl programs (built here with musl-gcc)
# take the musl build of the library; a glibc parent's musl child takes it
# too under run, and outside run the glibc library steps aside in it with
# one line; static and Go children of a shell and of python3 are started
# under the supervisor; children exec'd with an empty environment (python's
# os.execve with {}, env -i, system() and popen() after os.environ.clear())
# get back what run set; a set-user-ID child says that it escapes; outside
# run, a child that leaves the rules behind is named.
. "$(dirname "$0")/../lib.sh"
seccomp_or_skip

MUSL=$HELPERS/musl
STATIC=$HELPERS/static/bindprobe
PROBE=$HELPERS/bindprobe
GOSERVER=$HELPERS/goserver
if [ ! -x "$MUSL/bindprobe" ]; then
	echo "ok - skipped: no musl-gcc here (make deps installs musl-tools), so no musl programs"
	exit 0
fi
check "the musl helpers are dynamic musl programs" \
	grep -q "interpreter /lib/ld-musl-" <(file -L "$MUSL/bindprobe" "$MUSL/tinyserver")
check "the glibc library refers to no glibc-only symbol (no __*_chk, *_np, __register_atfork strongly)" \
	test -z "$(nm -D --undefined-only "$LIB" | grep -E ' U (__[a-z_]+_chk|[a-z_]+_np|__register_atfork)@')"

# 1. A musl server under run: the musl build, rewrite and audit lines.
P=$(free_port)
bg muslsrv "$CLI" run --bind 127.0.0.2 --log all -- "$MUSL/tinyserver" "$P"
wait_for "$T/muslsrv.out" 'READY|BINDERR' 5
check "musl server under run: it starts" grep -q READY "$T/muslsrv.out"
check "...with the musl build preloaded" grep -q "$BUILD/musl/libreuse.so" "/proc/$(cat "$T/muslsrv.pid")/maps"
out=$(tcp_get 127.0.0.2 "$P")
check "...and listens where the rule moved it (127.0.0.2:$P answers: '$out')" test -n "$out"
check "...its bind rewritten, said as the glibc build says it" \
	grep -q "tinyserver: bind tcp 127\.0\.0\.1:$P -> 127\.0\.0\.2:$P: rewrite; rule 1" "$T/muslsrv.err"
check "...its listen logged at level all" grep -q "tinyserver: listen tcp 127\.0\.0\.2:$P" "$T/muslsrv.err"
kill "$(cat "$T/muslsrv.pid")"

# 2. A glibc parent with rules exec'ing a musl child.
spawn_child() { "$PY" -c 'import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))' "$@"; }
out=$(LIBREUSE_RULES='rules = ( { match = { op = "bind"; }; rewrite = "127.0.0.2"; } );' \
	LD_PRELOAD=$(preload) spawn_child "$MUSL/bindprobe" 0 2>"$T/outside.err")
rc=$?
check "outside run, a musl child of a ruled glibc parent starts (status $rc: $out)" \
	test "$rc" = 0 -a "${out#ok 127.0.0.1 }" != "$out"
check "...and the glibc library steps aside in it with one line" \
	grep -q "bindprobe: a musl program; this libreuse.so is built for glibc: its calls are not ruled" "$T/outside.err"
check "...one line only" test "$(grep -c libreuse "$T/outside.err")" = 1
out=$("$CLI" run --bind 127.0.0.2 --log all -- "$PY" -c 'import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))' \
	"$MUSL/bindprobe" 0 2>"$T/inside.err")
check "under run, the musl child is ruled: it bound 127.0.0.2 ($out)" test "${out#ok 127.0.0.2 }" != "$out"
check "...by the musl build, with its audit line" grep -q "bindprobe: bind tcp 127\.0\.0\.1:0 -> 127\.0\.0\.2:0: rewrite; rule 1" "$T/inside.err"
check "...and no line of stepping aside" test -z "$(grep "built for glibc" "$T/inside.err")"

# valgrind's tool is static and hands the library to the program it
# loads: a musl program under valgrind gets the musl build, not the tool's;
# a static one, which no library reaches, is ruled by supervising the tool.
if command -v valgrind >/dev/null && [ -z "${SANITIZE:-}" ]; then
	out=$(timeout 120 "$CLI" run --bind 127.0.0.2 --log all -- valgrind -q --error-limit=no "$STATIC" 0 2>"$T/vgstatic.err")
	check "under run, a static program under valgrind is ruled: it bound 127.0.0.2 ($out)" test "${out#ok 127.0.0.2 }" != "$out"
	check "...with its audit line (by the supervisor, in the tool's name)" \
		grep -q "valgrind.bin: bind tcp 127\.0\.0\.1:0 -> 127\.0\.0\.2:0: rewrite" "$T/vgstatic.err"
	out=$(timeout 120 "$CLI" run --bind 127.0.0.2 --log all -- valgrind -q "$MUSL/bindprobe" 0 2>"$T/vgmusl.err")
	check "under run, a musl program under valgrind is ruled: it bound 127.0.0.2 ($out)" test "${out#ok 127.0.0.2 }" != "$out"
	check "...with its audit line, and no line of stepping aside" \
		eval 'grep -q "bindprobe: bind tcp 127\.0\.0\.1:0 -> 127\.0\.0\.2:0: rewrite" "$T/vgmusl.err" && ! grep -q "built for glibc" "$T/vgmusl.err"'
else
	ok "# SKIP valgrind: not installed, or a sanitizer build"
fi

out=$("$CLI" run --bind 127.0.0.2 --log all -- "$MUSL/execprobe" -e "$PROBE" 0 2>"$T/muslparent.err")
check "under run, a musl parent's glibc child, exec'd with an empty environment, is ruled ($out)" \
	grep -q "^ok 127.0.0.2 " <<<"$out"
check "...by the glibc build, with its audit line" \
	grep -q "bindprobe: bind tcp 127\.0\.0\.1:0 -> 127\.0\.0\.2:0: rewrite; rule 1" "$T/muslparent.err"
out=$(LIBREUSE_RULES='rules = ( { match = { op = "bind"; }; rewrite = "127.0.0.2"; } );' \
	LD_PRELOAD=$BUILD/musl/libreuse.so "$MUSL/execprobe" "$PROBE" 0 2>"$T/muslout.err")
rc=$?
check "outside run, a glibc child that inherits the musl build starts (status $rc: $out)" \
	test "$rc" = 0 -a "${out#ok 127.0.0.1 }" != "$out"
check "...and the musl build steps aside in it with one line" \
	grep -q "bindprobe: a glibc program; this libreuse.so is built for musl: its calls are not ruled" "$T/muslout.err"

# 3. Static and Go children of a shell and of python3, ruled as alone.
for parent in sh python3; do
	case $parent in
	sh) start=(sh -c '"$0" 0; exit $?') ;;
	python3) start=("$PY" -c 'import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:] + ["0"]))') ;;
	esac
	out=$("$CLI" run --bind 127.0.0.2 --log all -- "${start[@]}" "$STATIC" 2>"$T/static-$parent.err")
	check "$parent parent under run: its static child bound 127.0.0.2 ($out)" test "${out#ok 127.0.0.2 }" != "$out"
	check "...said by the supervisor's audit line" \
		grep -q "bindprobe: bind tcp 127\.0\.0\.1:0 -> 127\.0\.0\.2:0: rewrite; rule 1" "$T/static-$parent.err"
	P=$(free_port)
	case $parent in
	sh) bg "go-$parent" "$CLI" run --bind 127.0.0.2 --log all -- sh -c '"$0" -port "$1" -serve 1; exit $?' "$GOSERVER" "$P" ;;
	python3) bg "go-$parent" "$CLI" run --bind 127.0.0.2 --log all -- "$PY" -c 'import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))' "$GOSERVER" -port "$P" -serve 1 ;;
	esac
	wait_for "$T/go-$parent.out" 'READY|BINDERR' 10
	check "$parent parent under run: its Go child listens on 127.0.0.2:$P" grep -q "READY 127.0.0.2 $P" "$T/go-$parent.out"
	tcp_get 127.0.0.2 "$P" >/dev/null
	wait_exit "go-$parent" 5
	check "...said by the supervisor's audit line" \
		grep -q "goserver: bind tcp 127\.0\.0\.1:$P -> 127\.0\.0\.2:$P: rewrite; rule 1" "$T/go-$parent.err"
done
out=$("$CLI" run --bind 127.0.0.2 --log all -- "$PY" -c 'import subprocess, sys; sys.exit(subprocess.call(["my-name", "0"], executable=sys.argv[1]))' \
	"$STATIC" 2>"$T/argv0.err")
check "a static child keeps the argv[0] its parent gave it (the rules and log see my-name)" \
	grep -q "my-name: bind tcp 127\.0\.0\.1:0 -> 127\.0\.0\.2:0: rewrite" "$T/argv0.err"

# 4. Exec with an empty environment under run.
for target in "$PROBE" "$STATIC" "$MUSL/bindprobe"; do
	kind=$(basename "$(dirname "$target")")
	out=$("$CLI" run --bind 127.0.0.2 -- "$PY" -c 'import os, sys; os.execve(sys.argv[1], ["bindprobe", "0"], {})' "$target" 2>&1)
	check "os.execve with {} under run ($kind bindprobe): still ruled ($out)" grep -q "^ok 127.0.0.2 " <<<"$out"
	out=$("$CLI" run --bind 127.0.0.2 -- env -i "$target" 0 2>&1)
	check "env -i under run ($kind bindprobe): still ruled ($out)" grep -q "^ok 127.0.0.2 " <<<"$out"
done
# A long argument list (xargs) to a program the library reaches: nothing to
# rebuild, so no line (argv is rebuilt only for a supervised start).
out=$("$CLI" run --bind 127.0.0.2 -- "$PY" -c 'import os, sys; os.execv(sys.argv[1], ["bindprobe", "0"] + ["x"] * 40000)' "$PROBE" 2>&1)
check "an exec with 40,000 arguments under run: ruled, and no line ($(head -c 300 <<<"$out"))" \
	test "$(grep -c . <<<"$out")" = 1 -a -n "$(grep "^ok 127.0.0.2 " <<<"$out")"
out=$("$CLI" run --bind 127.0.0.2 -- "$PY" -c 'import os, subprocess, sys; os.environ.clear(); sys.exit(subprocess.call(["bindprobe", "0"], executable=sys.argv[1], env={"PATH": "/bin"}))' "$PROBE" 2>&1)
check "a child given a rebuilt environment under run: still ruled ($out)" grep -q "^ok 127.0.0.2 " <<<"$out"

out=$("$CLI" run --bind 127.0.0.2 -- "$PY" -c 'import os, sys; os.environ.clear(); os.system(sys.argv[1] + " 0")' "$PROBE" 2>&1)
check "system() after the environment was cleared, under run: still ruled ($out)" grep -q "^ok 127.0.0.2 " <<<"$out"
out=$("$CLI" run --bind 127.0.0.2 -- "$PY" -c 'import os, sys; os.environ.clear(); print(os.popen(sys.argv[1] + " 0").read(), end="")' "$STATIC" 2>&1)
check "popen() of a static program after the environment was cleared, under run: still ruled ($out)" grep -q "^ok 127.0.0.2 " <<<"$out"

# 5. A set-user-ID child cannot be ruled: it says so.
cp "$PROBE" "$T/setid-probe"
chown nobody "$T/setid-probe" && chmod 4755 "$T/setid-probe"
out=$("$CLI" run --bind 127.0.0.2 -- "$PY" -c 'import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))' "$T/setid-probe" 0 2>"$T/setid.err")
check "a set-user-ID child runs ($out)" grep -q "^ok " <<<"$out"
check "...and one line names it as escaping, and why" \
	grep -q "python3: exec of $T/setid-probe: it is set-user-ID: the loader ignores LD_PRELOAD in it, and the supervisor cannot run it with its privileges; its calls are not ruled" "$T/setid.err"

# 6. Outside run a child starts as asked (no supervisor); for a process
# given rules of its own, one line names a child that leaves them behind.
RULES='rules = ( { match = { op = "bind"; }; rewrite = "127.0.0.2"; } );'
out=$(LIBREUSE_RULES=$RULES LD_PRELOAD=$(preload) spawn_child "$STATIC" 0 2>"$T/plain.err")
check "outside run a static child runs as asked ($out)" grep -q "^ok 127.0.0.1 " <<<"$out"
check "...and one line says LD_PRELOAD cannot reach it" \
	grep -q "python3: exec of $STATIC: it is statically linked or a Go program, which LD_PRELOAD cannot reach (libreuse run would rule it through the supervisor); its calls are not ruled" "$T/plain.err"
out=$(LIBREUSE_RULES=$RULES LD_PRELOAD=$(preload) env -i "$PROBE" 0 2>"$T/plainenv.err")
check "outside run env -i starts its child as asked ($out)" grep -q "^ok 127.0.0.1 " <<<"$out"
check "...and one line says its environment no longer preloads libreuse" \
	grep -q "env: exec of $PROBE: its environment no longer preloads libreuse (libreuse run would put it back); its calls are not ruled" "$T/plainenv.err"
out=$(LD_PRELOAD=$(preload) spawn_child "$STATIC" 0 2>"$T/norules.err")
check "without rules of its own (a system-wide preload) no line is said" test ! -s "$T/norules.err"
out=$(LIBREUSE_RULES=$RULES LD_PRELOAD=$(preload) spawn_child "$PROBE" 0 2>"$T/dyn.err")
check "...nor for a dynamic child that keeps the library, which rules it ($out)" \
	test "${out#ok 127.0.0.2 }" != "$out" -a -z "$(grep 'exec of' "$T/dyn.err")"

# 7. Another library preloaded after libreuse that hooks exec (snoopy,
# fakechroot, bear) sees every exec, as it does alone: the exec hooks
# reach it through the real functions, looked up at load in such a
# process (not between vfork and exec, where no lookup may be made).
NOTE=$HELPERS/libexecnote.so
for how in "env /bin/true" "sh -c /bin/true;:" "nice /bin/true"; do
	rm -f "$T/note"
	EXECNOTE_FILE=$T/note LD_PRELOAD="$NOTE" $how
	alone=$(grep -c '^EXEC ' "$T/note" 2>/dev/null)
	rm -f "$T/note"
	EXECNOTE_FILE=$T/note LD_PRELOAD="$LIB:$NOTE" $how
	both=$(grep -c '^EXEC ' "$T/note" 2>/dev/null)
	check "$how: an exec interposer preloaded after libreuse sees its execs as alone ($both, alone $alone)" \
		test "${both:-0}" -ge 1 -a "${both:-0}" = "${alone:-0}"
done
rm -f "$T/note"
out=$(EXECNOTE_FILE=$T/note "$CLI" run --bind 127.0.0.2 -- env LD_PRELOAD="$NOTE" sh -c "$PROBE 0;:" 2>&1)
check "...and under run, which puts libreuse first: the shell's exec of its child seen" \
	grep -q "^EXEC $PROBE" "$T/note"
check "...and that child ruled ($out)" grep -q "^ok 127.0.0.2 " <<<"$out"

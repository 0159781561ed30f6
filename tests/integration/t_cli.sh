#!/usr/bin/env bash
# The libreuse command: help and version, exit codes, check's normalised
# rules and FILE:LINE errors, run with a file and with quick flags (real
# python3 servers), its warnings for programs LD_PRELOAD cannot reach, who
# naming a port's holders, and matrix measuring the kernel.
. "$(dirname "$0")/../lib.sh"
CLI=$BUILD/libreuse
# A sanitizer build of `run` puts its runtime first: allow for it.
SANRT=
[ -n "${SANITIZE:-}" ] && SANRT="$(preload | cut -d: -f1):"

check "--version prints the version" grep -qE '^libreuse [0-9]+\.[0-9]+\.[0-9]+$' <("$CLI" --version)
for sub in "" run check who matrix; do
	check "libreuse $sub --help: usage on stdout, exit 0" grep -q "^usage: libreuse" <("$CLI" $sub --help)
done
"$CLI" >/dev/null 2>&1
check "no command: usage error, exit 2" test $? = 2
"$CLI" frobnicate >/dev/null 2>"$T/unknown.err"
check "unknown command: exit 2 and says so" test $? = 2 -a -s "$T/unknown.err"

# check: every example loads, and prints lines that load back the same.
for f in "$ROOT"/config/*.conf; do
	name=$(basename "$f")
	"$CLI" check "$f" >"$T/$name.out" 2>"$T/$name.err"
	check "check $name: valid (exit 0)" test $? = 0
	{ echo "rules = ("; grep '^{' "$T/$name.out" | sed 's/  # rule.*$/,/' | sed '$ s/,$//'; echo ");"; } >"$T/$name.again"
	"$CLI" check "$T/$name.again" >"$T/$name.again.out" 2>&1
	check "check $name: the normalised rules load back to the same rules" \
		diff <(grep '^{' "$T/$name.out" | sed 's/  # rule.*//') <(grep '^{' "$T/$name.again.out" | sed 's/  # rule.*//')
done
printf 'rules = (\n  { match = { port = 80; };\n    colour = "red"; }\n);\n' >"$T/bad.conf"
"$CLI" check "$T/bad.conf" >"$T/bad.out" 2>"$T/bad.err"
check "check of a bad file: exit 1" test $? = 1
check "check of a bad file: FILE:LINE: message" grep -q "^$T/bad.conf:3: unknown key 'colour'" "$T/bad.err"
"$CLI" check "$T/none.conf" >/dev/null 2>"$T/none.err"
check "check of a missing file: exit 1, said" test $? = 1 -a -s "$T/none.err"
LIBREUSE_CONFIG="$ROOT/config/workers.conf" "$CLI" check >"$T/default.out"
check "check without FILE: the file the shim would load (LIBREUSE_CONFIG)" grep -q "^# $ROOT/config/workers.conf: 1 rule" "$T/default.out"

# run with quick flags: two unmodified servers share a port.
P=$(free_port)
bg one "$CLI" run --reuseport -- "${SERVER[@]}" --port "$P" --id one
bg two "$CLI" run --reuseport -- "${SERVER[@]}" --port "$P" --id two
wait_for "$T/one.out" READY && wait_for "$T/two.out" READY
check "run --reuseport: two servers listen on one port" all_ready one two
answers=$(ask tcp 127.0.0.1 "$P" 40 | awk '{print $1}' | sort -u | tr '\n' ' ')
check "run --reuseport: both answer ($answers)" test "$answers" = "one two "

# run --bind moves a hard-coded address; --log all --json --log-file audit it.
P=$(free_port)
R=$(free_port)
(cd "$T" && "$CLI" run --bind "127.0.0.1:$R" --log all --json --log-file rel.log -- "${SERVER[@]}" --addr 0.0.0.0 --port "$P" --serve 0 >"$T/bind.out" 2>"$T/bind.err")
check "run --bind: the server bound where the flag said" grep -q "READY 127.0.0.1 $R\$" "$T/bind.out"
check "run --log-file (relative): JSON lines in that file, made absolute" \
	test "$("${LOGQ[@]}" "$T/rel.log" event=action action=rewrite port="$P" effective_port="$R" --count)" = 1

# run -c FILE: the rule file is checked first, then exported absolute.
P=$(free_port)
rules "$T/rp.conf" "rules = ( { match = { port = $P; }; reuseport = true; } );"
# Not in a subshell: bg records the pids for the cleanup to stop.
cd "$T" || exit 1
bg f1 "$CLI" run -c rp.conf "${SERVER[@]}" --port "$P" --id f1
bg f2 "$CLI" run -c rp.conf "${SERVER[@]}" --port "$P" --id f2
cd - >/dev/null || exit 1
wait_for "$T/f1.out" READY
wait_for "$T/f2.out" READY
check "run -c FILE (relative): the rules apply to both servers" all_ready f1 f2
"$CLI" run -c "$T/bad.conf" true 2>"$T/runbad.err"
check "run -c BADFILE: exit 1 with FILE:LINE, the command not run" test $? = 1
check "...the message" grep -q "bad.conf:3: unknown key" "$T/runbad.err"
"$CLI" run --bind nonsense true 2>"$T/runflag.err"
check "run --bind nonsense: usage error (exit 2), explained" test $? = 2 -a -s "$T/runflag.err"
"$CLI" run /no/such/program 2>/dev/null
check "run of a missing program: exit 127" test $? = 127
"$CLI" run sh -c 'exit 7'
check "run: the command's own exit status" test $? = 7
check "run: prepends to an existing LD_PRELOAD, absolute" \
	grep -qE "^$SANRT$BUILD/libreuse\.so:/x\.so$" <(LD_PRELOAD=/x.so "$CLI" run sh -c 'echo "$LD_PRELOAD"' 2>/dev/null)
check "run: a sanitizer runtime first in LD_PRELOAD stays first" \
	grep -qE "^$SANRT/usr/lib/libasan\.so\.8:$BUILD/libreuse\.so:/x\.so$" <(LD_PRELOAD="/usr/lib/libasan.so.8 /x.so" "$CLI" run sh -c 'echo "$LD_PRELOAD"' 2>/dev/null)

# What LD_PRELOAD cannot reach goes to the seccomp supervisor, said so.
printf 'int main(void) { return 0; }\n' >"$T/p.c"
if cc -static -o "$T/static" "$T/p.c" 2>/dev/null; then
	"$CLI" run "$T/static" 2>"$T/static.err"
	check "run of a static binary: supervised from outside, said in plain words" \
		grep -q "is statically linked (there is no dynamic loader to preload libreuse): applying the rules from outside it, by seccomp user notification" "$T/static.err"
	"$CLI" run --preload "$T/static" 2>"$T/static2.err"
	check "run --preload of a static binary: warned that LD_PRELOAD cannot reach it" \
		grep -q "is statically linked (there is no dynamic loader to preload libreuse): LD_PRELOAD cannot change or see its calls (--seccomp can)" "$T/static2.err"
else
	ok "# SKIP static warning: no static libc to build a static program"
fi
cc -o "$T/gox" "$T/p.c" && printf 'Go\0\0buildid' >"$T/note" &&
	objcopy --add-section .note.go.buildid="$T/note" "$T/gox" 2>/dev/null
"$CLI" run "$T/gox" 2>"$T/go.err"
check "run of a Go binary (a .note.go.buildid section): supervised, said so" \
	grep -q "is a Go program (Go makes its socket system calls itself, not through libc): applying the rules from outside it" "$T/go.err"
cp /bin/true "$T/suid" && chmod u+s "$T/suid"
"$CLI" run "$T/suid" 2>"$T/suid.err"
check "run of a set-user-ID program: warned" grep -q "is set-user-ID: the dynamic loader ignores LD_PRELOAD" "$T/suid.err"
"$CLI" run true 2>"$T/true.err"
check "run of an ordinary dynamic program: no warning" test ! -s "$T/true.err"

# who: the holders of a port, and what a bind would meet.
P=$(free_port)
bg held "${SERVER[@]}" --port "$P"
bg heldu "${SERVER[@]}" --proto udp --port "$P"
wait_for "$T/held.out" READY && wait_for "$T/heldu.out" READY
"$CLI" who "$P" >"$T/who.out"
check "who: exit 0 when held" test $? = 0
check "who: the TCP listener, pid and program" grep -qE "^tcp +LISTEN +127\.0\.0\.1:$P +$(id -u) +$(cat "$T/held.pid") +python3$" "$T/who.out"
check "who: the UDP socket, pid and program" grep -qE "^udp +UNCONN +127\.0\.0\.1:$P +$(id -u) +$(cat "$T/heldu.pid") +python3$" "$T/who.out"
check "who: the explanation the shim would log" grep -q "^why (plain bind): a wildcard and a specific address overlap: 0.0.0.0:$P asked for, 127.0.0.1:$P held by pid $(cat "$T/held.pid") (python3)" "$T/who.out"
check "who: a bind to [::] is tried too" grep -qE "^a bind to \[::\]:$P/tcp as uid $(id -u) now: plain [A-Z]+" "$T/who.out"
"$CLI" who "$P/udp" >"$T/whou.out"
check "who PORT/udp: UDP only" test "$(grep -c '^tcp ' "$T/whou.out")" = 0 -a "$(grep -c '^udp ' "$T/whou.out")" = 1
Q=$(free_port)
"$CLI" who "$Q/tcp" >"$T/free.out"
check "who of a free port: exit 1, a bind would succeed" test $? = 1
check "...says a plain bind is ok" grep -q "plain ok" "$T/free.out"
"$CLI" who 70000 2>/dev/null
check "who 70000: usage error" test $? = 2

# A socket shared by a parent and its child is named by the parent (a
# keeper, a master), even when pids have wrapped and the child's is lower:
# in a pid namespace of its own, where ns_last_pid can be set.
P=$(free_port)
timeout 20 unshare --pid --fork --mount-proc bash -c '
	echo 5000 >/proc/sys/kernel/ns_last_pid
	"$1" -c "
import os, socket, sys, time
s = socket.socket()
s.bind((\"127.0.0.1\", int(sys.argv[1])))
s.listen()
open(\"/proc/sys/kernel/ns_last_pid\", \"w\").write(\"100\")
child = os.fork()
if child == 0:
    time.sleep(20)
    os._exit(0)
print(os.getpid(), child, flush=True)
time.sleep(20)
" "$2" >"$3/tree.pids" &
	for _ in $(seq 100); do [ -s "$3/tree.pids" ] && break; sleep 0.05; done
	"$4" who "$2" >"$3/tree.who"
	kill -9 -1' tree "$PY" "$P" "$T" "$CLI" 2>"$T/tree.err"
read -r tparent tchild <"$T/tree.pids"
echo "# pid namespace: parent $tparent, child $tchild"
check "who: a shared socket named by the parent, not the child of lower pid ($tchild < $tparent)" \
	test "${tchild:-0}" -lt "${tparent:-0}" -a -n "$(grep -E "^tcp +LISTEN +127\.0\.0\.1:$P +0 +$tparent +python3$" "$T/tree.who")"

# matrix: measured grids, with the kernel; a few cells every Linux agrees on.
"$CLI" matrix >"$T/matrix.out"
check "matrix: exit 0, every cell measured" test $? = 0 -a "$(grep -c 'not measured' "$T/matrix.out")" = 0
check "matrix: names the running kernel" grep -q "^kernel: Linux $(uname -r) " "$T/matrix.out"
row() { awk -v t="$1" -v r="$2" 'index($0, t) == 1 { on = 1; next } on && $1 == r { print; exit }' "$T/matrix.out"; }
check "matrix: TCP listeners share with SO_REUSEPORT on both, not otherwise" \
	test "$(row 'same address, IPv4 — TCP, first 127.0.0.1 listening' PORT | awk '{print $2, $4}')" = "EADDRINUSE ok"
check "matrix: UDP shares with SO_REUSEADDR on both" \
	test "$(row 'same address, IPv4 — UDP' ADDR | awk '{print $2, $3}')" = "EADDRINUSE ok"
if tw_table_full; then
	ok "# SKIP matrix's TIME_WAIT row: this machine's TIME_WAIT table is full, so the kernel makes none"
else
	check "matrix: TIME_WAIT gives way only when old and new had SO_REUSEADDR" \
		test "$(row 'after TIME_WAIT' none | awk '{print $3}') $(row 'after TIME_WAIT' ADDR | awk '{print $3}')" = "EADDRINUSE ok"
fi

#!/usr/bin/env bash
# The Debian package, as a user meets it: `make deb` builds it (lintian finds
# no error), it installs on this machine, `libreuse run --reuseport` from the
# installed paths lets two real servers share a port, the manual pages and
# the bash completion are found, the example systemd units pass
# `systemd-analyze verify` — and a purge leaves nothing of it behind.
. "$(dirname "$0")/../lib.sh"

if [ -n "${SANITIZE:-}" ]; then
	ok "# SKIP the package: the sanitizer build is not for installing"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	ok "# SKIP the package: installing it needs root"
	exit 0
fi
if dpkg -s libreuse >/dev/null 2>&1; then
	ok "# SKIP the package: libreuse is installed on this machine already; this test would remove it"
	exit 0
fi

make -s -C "$ROOT" deb >"$T/deb.log" 2>&1
check "make deb builds the package, lintian finds no error" test $? = 0
DEB=$(ls "$ROOT"/build/libreuse_*_*.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || { not_ok "no .deb in build/" "$(tail -20 "$T/deb.log")"; exit 0; }

purge() { dpkg --purge libreuse >/dev/null 2>&1; }
trap 'purge; cleanup' EXIT
dpkg -i "$DEB" >"$T/install.log" 2>&1
check "dpkg -i installs it" test $? = 0
LIBDIR=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libreuse
check "the command is /usr/bin/libreuse" test -x /usr/bin/libreuse
check "its copyright file says the license: Expat (MIT), as LICENSE" \
	sh -c "grep -qx 'License: Expat' /usr/share/doc/libreuse/copyright && grep -q '^MIT License' '$ROOT/LICENSE'"
check "the library is under the multiarch libdir: $LIBDIR/libreuse.so" test -f "$LIBDIR/libreuse.so"
if [ -x "$BUILD/i386/libreuse.so" ]; then
	check "the i386 library is under i386's multiarch libdir, and lib32 for libc6-i386" \
		test -f /usr/lib/i386-linux-gnu/libreuse/libreuse.so -a -e /usr/lib32/libreuse/libreuse.so
	probes=("$HELPERS/bindprobe" "$HELPERS/i386/bindprobe")
	if no32=$(no_i386); then
		ok "# SKIP the installed library in an i386 program: $no32"
		probes=("$HELPERS/bindprobe")
	fi
	for bp in "${probes[@]}"; do
		Q=$(free_port)
		out=$(env -u LIBREUSE_HELPER LD_PRELOAD='/usr/$LIB/libreuse/libreuse.so' \
			LIBREUSE_RULES="rules = ( { match = { op = \"bind\"; }; rewrite = \"127.0.0.1:$Q\"; } );" \
			"$bp" "$(free_port)" 2>"$T/one.err")
		check "installed: LD_PRELOAD='/usr/\$LIB/libreuse/libreuse.so' reaches a $(file -b "$bp" | cut -d, -f2 | sed 's/^ //') program" \
			test "$out" = "ok 127.0.0.1 $Q" -a ! -s "$T/one.err"
	done
fi
check "the example units name no arch-specific library path" \
	test -z "$(grep -l 'x86_64-linux-gnu/libreuse' /usr/share/doc/libreuse/examples/systemd/*)"
check "/etc/libreuse.conf is a conffile" grep -qx " */etc/libreuse.conf [0-9a-f]*" <(dpkg-query -W -f='${Conffiles}\n' libreuse)
check "...that applies no rule" grep -qx "# /etc/libreuse.conf: 0 rules" <(/usr/bin/libreuse check /etc/libreuse.conf 2>&1)

# Two servers that never set SO_REUSEPORT, one port, from the installed paths.
P=$(free_port)
for n in a b; do
	bg "srv$n" env -u LIBREUSE_CONFIG /usr/bin/libreuse run --reuseport -- "${SERVER[@]}" --port "$P" --id "$n"
	wait_for "$T/srv$n.out" 'READY|BINDERR'
done
check "installed libreuse run --reuseport: both servers listen on port $P" all_ready srva srvb
check "...with the installed library preloaded" \
	grep -q "$LIBDIR/libreuse.so" <(tr '\0' '\n' <"/proc/$(cat "$T/srvb.pid")/environ")
ask tcp 127.0.0.1 "$P" 200 >"$T/answers"
check "...and connections reach both" test "$(cut -d' ' -f1 "$T/answers" | sort -u | tr '\n' ' ')" = "a b "
kill "$(cat "$T/srva.pid")" "$(cat "$T/srvb.pid")"

# The musl build, beside the glibc one, chosen by run for a musl program.
if [ -x "$HELPERS/musl/bindprobe" ]; then
	check "the musl library is installed beside the glibc one: $LIBDIR/musl/libreuse.so" \
		test -f "$LIBDIR/musl/libreuse.so"
	out=$(env -u LIBREUSE_CONFIG /usr/bin/libreuse run --bind 127.0.0.2 -- "$HELPERS/musl/bindprobe" 0 2>&1)
	check "installed libreuse run rules a musl program with it ($out)" grep -q "^ok 127.0.0.2 " <<<"$out"
fi

check "man libreuse finds the page" grep -q "libreuse run" <(MANWIDTH=80 man libreuse 2>/dev/null)
check "man 5 libreuse.conf finds the page" grep -q "keep" <(MANWIDTH=80 man 5 libreuse.conf 2>/dev/null)
check "man 7 libreuse finds the page" grep -q "LIBREUSE_CONFIG" <(MANWIDTH=80 man 7 libreuse 2>/dev/null)
completed=$(bash -c '. /usr/share/bash-completion/bash_completion
	_completion_loader libreuse
	COMP_WORDS=(libreuse r); COMP_CWORD=1; COMP_LINE="libreuse r"; COMP_POINT=10
	$(complete -p libreuse | sed "s/.*-F \([^ ]*\) .*/\1/") libreuse r libreuse
	echo "${COMPREPLY[*]}"' 2>/dev/null)
check "bash completes libreuse r to run ($completed)" test "$completed" = run

# The example units, with the package installed (the drop-in on a service).
mkdir -p "$T/units/demo.service.d"
cp "$ROOT"/config/systemd/*.service "$ROOT"/config/systemd/*.socket "$T/units/"
cp "$ROOT/config/systemd/libreuse.conf" "$T/units/demo.service.d/"
printf '[Service]\nExecStart=/usr/bin/python3 -m http.server\n' >"$T/units/demo.service"
value=$(sed -n 's/^Environment=LD_PRELOAD=//p' "$ROOT/config/systemd/libreuse.conf")
check "the drop-in's LD_PRELOAD ($value) loads the installed library" \
	grep -q "$LIBDIR/libreuse.so" <(LD_PRELOAD=$value cat /proc/self/maps)
for u in demo.service libreuse-example.service libreuse-keep-example.service libreuse-web.socket libreuse-web.service; do
	out=$(cd "$T/units" && SYSTEMD_UNIT_PATH="$T/units:" systemd-analyze verify "$T/units/$u" 2>&1)
	rc=$?
	# What it says of the machine's own units (loaded as dependencies: a
	# freeradius.service with MemoryLimit=) is not about ours.
	out=$(grep -vE '^/(usr/)?lib/systemd/system/|^/etc/systemd/system/' <<<"$out")
	check "systemd-analyze verify $u${out:+: $out}" test $rc = 0 -a -z "$out"
done

purge
check "dpkg --purge removes it" test "$(dpkg-query -W -f='${Status}' libreuse 2>/dev/null)" != "install ok installed"
left=$(ls -d /usr/bin/libreuse "$LIBDIR" /etc/libreuse.conf /usr/share/man/man1/libreuse.1.gz \
	/usr/share/man/man5/libreuse.conf.5.gz /usr/share/man/man7/libreuse.7.gz \
	/usr/share/bash-completion/completions/libreuse /usr/share/doc/libreuse 2>/dev/null)
check "...and nothing of it is left${left:+: $left}" test -z "$left"

#!/usr/bin/env bash
# make check-systemd, the audit's part: a real systemd as PID 1 of a
# container (systemd-nspawn --volatile=yes over this machine's /usr, a
# private network, the machine's own services masked, as boot.sh boots it),
# with a build of libreuse made for /opt/lr and bound there read-only —
# nothing of this machine's /etc or /usr is written, its /etc/ld.so.preload
# least of all.
#   1. `libreuse audit --propose` of a legacy daemon, inside the container;
#      the proposed .socket and .service installed, `systemctl restart` x10
#      under load: nothing refused, nothing reset.
#   2. The container booted again with /etc/ld.so.preload naming
#      /opt/lr/$LIB/libreuse.so (journal target, level all, no rules): every
#      service active without it is active with it, and no unit fails that
#      did not; a dynamically linked server and a static one started;
#      `libreuse audit --journal` names the first's listener by program and
#      path, and the second's (which libreuse cannot see) as not seen, as ss
#      shows them both.
# Prints "ok"/"not ok" lines and "N passed, N failed"; exit 0 only when none
# failed. Where no container can boot, one line says "skipped".
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CHECK_NAME="check-systemd (audit)"
. "$ROOT/tests/systemd/harness.sh"

T=$(mktemp -d /tmp/libreuse-audit-systemd.XXXXXX)
chmod 755 "$T"
NSPAWN=
PID1=
BOOTED=()
stop_container() {
	if [ -n "$NSPAWN" ] && kill -0 "$NSPAWN" 2>/dev/null; then
		[ -n "$PID1" ] && nsenter -t "$PID1" -a -- systemctl poweroff >/dev/null 2>&1
		for _ in $(seq 300); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.1; done
		kill -TERM "$NSPAWN" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$NSPAWN" 2>/dev/null
	fi
	NSPAWN=
	PID1=
}
# Every container booted, whatever stopped the script.
finish() {
	stop_container
	local p
	for p in "${BOOTED[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for _ in $(seq 50); do
		alive=
		for p in "${BOOTED[@]}"; do kill -0 "$p" 2>/dev/null && alive=yes; done
		[ -z "$alive" ] && break
		sleep 0.1
	done
	for p in "${BOOTED[@]}"; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap finish EXIT

# libreuse for /opt/lr: its rule file, compiler and libraries there; $LIB
# picks the library of each program's class.
make -s -C "$ROOT" B="$T/build" sysconfdir=/opt/lr/etc bindir=/opt/lr/bin \
	libdir=/opt/lr/lib/x86_64-linux-gnu libdir32=/opt/lr/lib32 all >"$T/build.log" 2>&1 ||
	{ not_ok "a build for /opt/lr" "$(tail -20 "$T/build.log")"; echo "$passed passed, $failed failed"; exit 1; }
mkdir -p "$T/lr/bin" "$T/lr/etc" "$T/lr/lib/x86_64-linux-gnu" "$T/lr/lib32" "$T/lr/lib/i386-linux-gnu"
cp "$T/build/libreuse" "$T/lr/bin/"
cp "$T/build/libreuse.so" "$T/lr/lib/x86_64-linux-gnu/"
if [ -f "$T/build/i386/libreuse.so" ]; then
	cp "$T/build/i386/libreuse.so" "$T/lr/lib32/"
	cp "$T/build/i386/libreuse.so" "$T/lr/lib/i386-linux-gnu/"
fi
printf '%s\n' 'log = { level = "all"; target = "journal"; };' 'rules = ();' >"$T/lr/etc/libreuse.conf"
printf '%s\n' '/opt/lr/$LIB/libreuse.so' >"$T/ld.so.preload"

# The machine's own services would start in the container too: masked, as
# boot.sh masks them.
masks=()
for u in $(grep -l "WantedBy=multi-user.target" /lib/systemd/system/*.service 2>/dev/null) \
	systemd-networkd-wait-online.service ssh.socket; do
	u=$(basename "$u")
	case $u in *@.service) continue ;; esac
	masks+=("systemd.mask=$u")
done

# boot NAME [--preload]: a container, until its manager is running; its
# state in STATE. (Not in a subshell: NSPAWN and PID1 are the script's.)
boot() {
	local name=$1 extra=()
	STATE=
	[ "${2:-}" = --preload ] && extra=(--bind-ro="$T/ld.so.preload:/etc/ld.so.preload")
	systemd-nspawn --quiet --register=no --keep-unit --volatile=yes -D / --machine="lraudit$$$name" \
		--private-network --bind-ro="$ROOT" --bind-ro="$T/lr:/opt/lr" "${extra[@]}" --boot -- \
		systemd.firstboot=no "${masks[@]}" >"$T/$name.console" 2>&1 </dev/null &
	NSPAWN=$!
	BOOTED+=("$NSPAWN")
	for _ in $(seq 100); do
		PID1=$(pgrep -P "$NSPAWN" | head -1)
		[ -n "$PID1" ] && [ "$(cat "/proc/$PID1/comm" 2>/dev/null)" = systemd ] && break
		sleep 0.1
	done
	[ -n "$PID1" ] || return 1
	for _ in $(seq 240); do
		STATE=$(timeout 5 nsenter -t "$PID1" -a -- systemctl is-system-running 2>/dev/null)
		case $STATE in running | degraded) return 0 ;; esac
		sleep 0.5
	done
	return 1
}
inside() { nsenter -t "$PID1" -a -- "$@"; }
services() { inside systemctl list-units --type=service --state=active --no-legend --plain | awk '{ print $1 }' | sort; }
failed_units() { inside systemctl list-units --state=failed --no-legend --plain | awk '{ print $1 }' | sort; }

LOADGEN="/usr/bin/python3 $ROOT/tests/helpers/loadgen.py"
field() { sed -nE "s/.*\"$2\": ([0-9]+).*/\1/p" <<<"$1"; }

# --- 1. the proposal, applied under systemd ---
boot plain || skip "the container's systemd did not start ($STATE; $(tail -3 "$T/plain.console" | tr '\n' ' '))"
ok "systemd is PID 1 of the container ($STATE), without /etc/ld.so.preload"
services >"$T/plain.services"
failed_units >"$T/plain.failed"
inside /opt/lr/bin/libreuse audit --for 2 --propose /tmp/prop -- \
	/usr/bin/python3 "$ROOT/tests/helpers/legacyd.py" --port 8093 --admin 8094 --udp 8095 >"$T/prop.report" 2>&1
check "audit --propose inside the container: a .socket and a .service" \
	inside test -s /tmp/prop/python3.socket -a -s /tmp/prop/python3.service
inside sh -c 'cp /tmp/prop/python3.socket /tmp/prop/python3.service /etc/systemd/system/ && systemctl daemon-reload && systemctl start python3.socket'
for _ in $(seq 50); do inside bash -c 'exec 3<>/dev/tcp/127.0.0.1/8093' 2>/dev/null && break; sleep 0.1; done
check "the proposed units start (python3.socket, python3.service on its first connection)" \
	inside systemctl is-active -q python3.socket
inside sh -c "exec $LOADGEN --port 8093 --threads 4 --until /tmp/load.stop --seconds 120 >/tmp/load.json 2>&1" &
lp=$!
sleep 1
for _ in $(seq 10); do
	inside systemctl restart python3.service
	sleep 0.7
done
sleep 0.5
inside touch /tmp/load.stop
wait "$lp" 2>/dev/null
res=$(inside cat /tmp/load.json)
echo "# systemctl restart x10 of the proposed python3.service: $res" | cut -c1-200
check "the proposal under systemd: systemctl restart x10 under load, none refused, none reset ($(field "$res" ok) answered)" \
	test "$(field "$res" refused)$(field "$res" reset)" = 00 -a "$(field "$res" ok)" -gt 100
sockets=$(inside ss -Hltnp '( sport = :8093 )')
check "...its bind took systemd's socket: one listener on 8093, systemd's and python3's both" \
	test "$(wc -l <<<"$sockets")" = 1 -a -n "$(grep systemd <<<"$sockets" | grep python3)"
# The recipe's one-step removal, in this container's own /etc (a tmpfs):
# written, every new process loads the library; removed, none does.
inside sh -c "printf '%s\n' '/opt/lr/\$LIB/libreuse.so' >/etc/ld.so.preload"
with=$(inside sh -c 'grep -c /opt/lr/ /proc/self/maps')
inside rm /etc/ld.so.preload
without=$(inside sh -c 'grep -c /opt/lr/ /proc/self/maps')
check "the recipe: with /etc/ld.so.preload a new process loads libreuse ($with mappings); after rm, none ($without)" \
	test "${with:-0}" -gt 0 -a "${without:-1}" = 0
stop_container

# --- 2. the whole host through /etc/ld.so.preload ---
boot preload --preload || { not_ok "the container boots with /etc/ld.so.preload ($STATE)" "$(tail -5 "$T/preload.console")"; echo "$passed passed, $failed failed"; exit 1; }
ok "the container boots with libreuse in /etc/ld.so.preload ($STATE)"
check "/etc/ld.so.preload names /opt/lr/\$LIB/libreuse.so, and PID 1 has it loaded" \
	grep -q /opt/lr/lib/x86_64-linux-gnu/libreuse.so "/proc/$PID1/maps"
services >"$T/preload.services"
failed_units >"$T/preload.failed"
missing=$(comm -23 "$T/plain.services" "$T/preload.services" | tr '\n' ' ')
check "every service active without it is active with it ($(wc -l <"$T/plain.services") services${missing:+; missing: $missing})" test -z "$missing"
newfail=$(comm -13 "$T/plain.failed" "$T/preload.failed" | tr '\n' ' ')
check "no unit fails that did not fail without it${newfail:+ ($newfail)}" test -z "$newfail"
inside systemd-run --unit=lrdyn /usr/bin/python3 -m http.server 8091 --bind 127.0.0.1 >/dev/null 2>&1
inside systemd-run --unit=lrstatic /bin/busybox httpd -f -p 127.0.0.1:8092 >/dev/null 2>&1
# A 32-bit program (netcat-traditional:i386, where make deps could add it):
# its loader's $LIB names the i386 library.
nc32=
if [ -f "$T/lr/lib/i386-linux-gnu/libreuse.so" ] && file -L /bin/nc.traditional 2>/dev/null | grep -q '32-bit.*80386'; then
	nc32=yes
	inside systemd-run --unit=lr32 /bin/nc.traditional -l -p 8096 -s 127.0.0.1 >/dev/null 2>&1
fi
for _ in $(seq 50); do
	[ "$(inside ss -Hltn '( sport = :8091 or sport = :8092 )' | wc -l)" = 2 ] && break
	sleep 0.1
done
check "ss shows both servers listening (8091 python3, 8092 static busybox)" \
	test "$(inside ss -Hltn '( sport = :8091 or sport = :8092 )' | wc -l)" = 2
check "journalctl LIBREUSE_PORT=8091 finds the listener's lines" \
	sh -c "nsenter -t $PID1 -a -- journalctl -q LIBREUSE_PORT=8091 -o cat | grep -q 'listen tcp 127.0.0.1:8091 ok'"
if [ -n "$nc32" ]; then
	for _ in $(seq 50); do inside ss -Hltn '( sport = :8096 )' | grep -q . && break; sleep 0.1; done
	pid32=$(inside systemctl show -P MainPID lr32.service)
	check "a 32-bit program (nc.traditional, i386) has the i386 library from \$LIB loaded, and its listen is in the journal" \
		sh -c "nsenter -t $PID1 -a -- grep -qE '/opt/lr/lib(32|/i386-linux-gnu)/libreuse.so' /proc/$pid32/maps &&
			nsenter -t $PID1 -a -- journalctl -q LIBREUSE_PORT=8096 -o cat | grep -q 'nc.traditional: listen tcp 127.0.0.1:8096 ok'"
else
	ok "# SKIP 32-bit: no i386 library built or no netcat-traditional:i386 here"
fi
inside /opt/lr/bin/libreuse audit --journal --json >"$T/journal.json" 2>"$T/journal.err"
q() { /usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/journal.json" "$1" 2>&1; }
got=$(q '[(p["name"], p["path"]) for p in d["programs"] if any(s["port"] == 8091 and s["listener"] for s in p["sockets"])]')
check "audit --journal: the dynamically linked server's listener, by program and path ($got)" \
	test "$got" = "[('python3', '/usr/bin/python3.11')]" -o "$got" = "[('python3', '/usr/bin/python3')]"
got=$(q '[(u["port"], u["program"]) for u in d["not_seen_host"] if u["port"] == 8092]')
check "audit --journal: the static server's listener named as not seen by libreuse ($got)" \
	test "$got" = "[(8092, 'busybox')]"
stop_container
alive=
for p in "${BOOTED[@]}"; do kill -0 "$p" 2>/dev/null && alive+=" $p"; done
check "both containers powered off, nothing of them left${alive:+ (alive:$alive)}" test -z "$alive"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

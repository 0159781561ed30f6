#!/usr/bin/env bash
# make check-systemd: a real systemd as PID 1 of a container
# (systemd-nspawn --volatile=yes over this machine's /usr, on a private
# network: the machine's enabled services start there too, and meet nothing
# of ours), with the package built here installed on the machine, its
# example units installed in the container where a user puts them. Under
# it, with load from inside the container:
#   - libreuse-web.socket + .service, `systemctl restart` x10: nothing refused;
#   - the same without StartLimitIntervalSec=0: systemd's start limit fails
#     the service and closes the socket (shown, not hidden);
#   - the keeper service, `systemctl reload` x10: nothing refused;
#   - libreuse's lines in the journal (journalctl -t libreuse) with their
#     priorities;
#   - a daemon that closes every fd at start, behind a .socket unit;
#   - keep = "NAME" under the supervisor (a static Go server);
#   - and the container gone afterwards.
# Prints "ok"/"not ok" lines and "N passed, N failed"; exit 0 only when none
# failed. Where no container can boot, one line says "skipped".
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${LIBREUSE_BUILD:-$ROOT/build}
MACHINE=lrcheck$$
CHECK_NAME="check-systemd"
. "$ROOT/tests/systemd/harness.sh"

# The package, installed as a user installs it (and purged afterwards, if
# this script installed it).
installed_here=
if ! dpkg -s libreuse >/dev/null 2>&1; then
	DEB=$(ls "$ROOT"/build/libreuse_*_*.deb 2>/dev/null | head -1)
	if [ -z "$DEB" ] || [ -n "$(find "$ROOT/src" -newer "$DEB" -name '*.[ch]' | head -1)" ]; then
		make -s -C "$ROOT" deb >/tmp/check-systemd-deb.log 2>&1 || {
			not_ok "make deb" "$(tail -20 /tmp/check-systemd-deb.log)"
			echo "$passed passed, $failed failed"
			exit 1
		}
		DEB=$(ls "$ROOT"/build/libreuse_*_*.deb | head -1)
	fi
	dpkg -i "$DEB" >/dev/null 2>&1 || {
		not_ok "dpkg -i $DEB"
		echo "$passed passed, $failed failed"
		exit 1
	}
	installed_here=yes
fi

T=$(mktemp -d /tmp/libreuse-systemd.XXXXXX)
NSPAWN=
finish() {
	if [ -n "$NSPAWN" ] && kill -0 "$NSPAWN" 2>/dev/null; then
		kill -TERM "$NSPAWN" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$NSPAWN" 2>/dev/null
	fi
	[ -n "$installed_here" ] && dpkg --purge libreuse >/dev/null 2>&1
	rm -rf "$T"
}
trap finish EXIT

# Units of this script's own, written here, read-only in the container.
# Each is named lrtest-*: a name no Debian package's unit has, since the
# machine's services are masked by name below (bind9's named.service once
# masked a unit of ours called named.service).
mkdir -p "$T/units"
cat >"$T/units/lrtest-closer.socket" <<'EOF'
[Socket]
ListenStream=127.0.0.1:8084
FileDescriptorName=closer
EOF
cat >"$T/units/lrtest-closer.service" <<EOF
[Unit]
Requires=lrtest-closer.socket
After=lrtest-closer.socket
[Service]
Environment=LD_PRELOAD=/usr/\$LIB/libreuse/libreuse.so
Environment="LIBREUSE_RULES=keep = true;"
ExecStart=/usr/bin/python3 $ROOT/tests/helpers/daemon.py --port 8084 --out /tmp/lrtest-closer.ready --close-all
EOF
# The server the restarts are measured on: one that finishes the connection
# in hand on SIGTERM (python's http.server resets it: that would be the
# server's own loss, not a restart's). Drop-ins, as a user would write them.
mkdir -p "$T/units/web.d" "$T/units/keep.d"
cat >"$T/units/web.d/graceful.conf" <<EOF
[Service]
Environment="LIBREUSE_RULES=keep = true; log = { level = \\"actions\\"; };"
ExecStart=
ExecStart=/usr/bin/python3 $ROOT/tests/helpers/server.py --port 8082 --graceful
EOF
cat >"$T/units/keep.d/graceful.conf" <<EOF
[Service]
ExecStart=
ExecStart=/usr/bin/libreuse run --keep -- /usr/bin/python3 $ROOT/tests/helpers/server.py --port 8081 --graceful
EOF
cat >"$T/units/lrtest-named.socket" <<'EOF'
[Socket]
ListenStream=127.0.0.1:8085
FileDescriptorName=api
EOF
cat >"$T/units/lrtest-named.service" <<EOF
[Unit]
Requires=lrtest-named.socket
After=lrtest-named.socket
[Service]
Environment="LIBREUSE_RULES=rules = ( { match = { port = 9999; }; keep = \\"api\\"; } ); log = { level = \\"actions\\"; };"
ExecStart=/usr/bin/libreuse run -- $BUILD/helpers/goserver -port 9999
EOF

# Boot (--keep-unit, --register=no: no system bus needed, none is asked;
# nspawn's own seccomp filter denies pidfd_getfd, which the supervisor needs:
# allowed, as a user running the supervisor in a container must). The build
# tree comes in read-only, for the load generator and the
# test servers; everything else is the machine's /usr and a fresh tmpfs.
# The machine's own services would start in the container too (its /etc is
# fresh, so systemd presets them): each is masked, and so is the wait for a
# network the private one never brings.
masks=()
for u in $(grep -l "WantedBy=multi-user.target" /lib/systemd/system/*.service 2>/dev/null) \
	systemd-networkd-wait-online.service ssh.socket; do
	u=$(basename "$u")
	case $u in *@.service) continue ;; esac
	masks+=("systemd.mask=$u")
done
systemd-nspawn --quiet --register=no --keep-unit --volatile=yes -D / --machine="$MACHINE" --private-network \
	--system-call-filter=pidfd_getfd --bind-ro="$ROOT" --bind-ro="$BUILD" --bind-ro="$T/units:/run/lrcheck" --boot -- systemd.firstboot=no \
	"${masks[@]}" >"$T/console" 2>&1 </dev/null &
NSPAWN=$!
PID1=
for _ in $(seq 100); do
	PID1=$(pgrep -P "$NSPAWN" | head -1)
	[ -n "$PID1" ] && [ "$(cat "/proc/$PID1/comm" 2>/dev/null)" = systemd ] && break
	sleep 0.1
done
[ -n "$PID1" ] || skip "systemd-nspawn did not start a container ($(tail -3 "$T/console" | tr '\n' ' '))"
inside() { nsenter -t "$PID1" -a -- "$@"; }
# Until its manager answers, systemctl fails at once: ask again.
state=
for _ in $(seq 240); do
	state=$(timeout 5 nsenter -t "$PID1" -a -- systemctl is-system-running 2>/dev/null)
	case $state in running | degraded) break ;; esac
	sleep 0.5
done
case $state in
running | degraded) ok "systemd $(inside systemctl --version | awk 'NR == 1 { print $2 }') is PID 1 of the container ($state)" ;;
*) skip "the container's systemd did not finish booting ($state)" ;;
esac

# The example units, from where the package put them, to where a user
# installs them.
EX=/usr/share/doc/libreuse/examples/systemd
inside sh -c "cp $EX/libreuse-web.socket $EX/libreuse-web.service $EX/libreuse-keep-example.service /etc/systemd/system/ &&
	mkdir -p /etc/systemd/system/libreuse-web.service.d /etc/systemd/system/libreuse-keep-example.service.d &&
	cp /run/lrcheck/web.d/* /etc/systemd/system/libreuse-web.service.d/ &&
	cp /run/lrcheck/keep.d/* /etc/systemd/system/libreuse-keep-example.service.d/ && systemctl daemon-reload"
inside systemctl start libreuse-web.socket libreuse-keep-example.service
check "libreuse-web.socket, installed from $EX, starts" inside systemctl is-active -q libreuse-web.socket
check "libreuse-keep-example.service starts" inside systemctl is-active -q libreuse-keep-example.service

LOADGEN="/usr/bin/python3 $ROOT/tests/helpers/loadgen.py"
# load NAME PORT: a load generator inside the container, until NAME.stop.
load() { inside sh -c "exec $LOADGEN --port $2 --threads 4 --until /tmp/$1.stop --seconds 120 >/tmp/$1.json 2>&1" & }
load_stop() {
	inside touch "/tmp/$1.stop"
	wait "$2" 2>/dev/null
	for _ in $(seq 50); do
		inside grep -q '"ok"' "/tmp/$1.json" 2>/dev/null && break
		sleep 0.1
	done
	inside cat "/tmp/$1.json"
}
field() { sed -nE "s/.*\"$2\": ([0-9]+).*/\1/p" <<<"$1"; }
# ten VERB UNIT NAME PORT: systemctl VERB UNIT ten times, 0.7 s apart, under
# load on PORT; prints "systemctl VERB x10: refused=N reset=N" and checks it.
ten() {
	local verb=$1 unit=$2 name=$3 port=$4 lp res
	load "$name" "$port"
	lp=$!
	sleep 1
	for _ in $(seq 10); do
		inside systemctl "$verb" "$unit"
		sleep 0.7
	done
	sleep 0.5
	res=$(load_stop "$name" "$lp")
	echo "systemctl $verb x10: refused=$(field "$res" refused) reset=$(field "$res" reset)"
	check "systemctl $verb x10 of $unit under load: none refused, none reset ($(field "$res" ok) answered)" \
		test "$(field "$res" refused)$(field "$res" reset)" = 00 -a "$(field "$res" ok)" -gt 100
}

# 1. systemctl restart x10 of the socket-activated service.
for _ in $(seq 50); do inside bash -c 'exec 3<>/dev/tcp/127.0.0.1/8082' 2>/dev/null && break; sleep 0.1; done
ten restart libreuse-web.service web 8082
check "...the service still running, on systemd's socket" inside systemctl is-active -q libreuse-web.service
check "...its bind took systemd's socket (journal: adopt from systemd fd 3)" \
	sh -c "nsenter -t $PID1 -a -- journalctl -q -u libreuse-web.service -o cat | grep -q 'adopt from systemd fd 3'"

# 2. The trap: the same units on 8083, without StartLimitIntervalSec=0.
inside sh -c "sed 's/8082/8083/' /etc/systemd/system/libreuse-web.socket >/etc/systemd/system/lrtest-limited.socket
	sed 's/8082/8083/; s/libreuse-web.socket/lrtest-limited.socket/g; /^StartLimitIntervalSec=0/d' /etc/systemd/system/libreuse-web.service >/etc/systemd/system/lrtest-limited.service
	mkdir -p /etc/systemd/system/lrtest-limited.service.d
	sed 's/8082/8083/' /run/lrcheck/web.d/graceful.conf >/etc/systemd/system/lrtest-limited.service.d/graceful.conf
	systemctl daemon-reload && systemctl start lrtest-limited.socket"
load lim 8083
lp=$!
sleep 1
n=0
for i in $(seq 10); do
	inside systemctl restart lrtest-limited.service 2>/dev/null
	n=$i
	inside systemctl is-failed -q lrtest-limited.service && break
	sleep 0.3
done
sleep 1
res=$(load_stop lim "$lp")
result=$(inside systemctl show -P Result lrtest-limited.service)
echo "# limited: $res" | cut -c1-200
echo "# start limit (systemd's default, 5 starts in 10 s): restart $n failed the service ($result); refused=$(field "$res" refused)"
check "the start-limit trap: without StartLimitIntervalSec=0 a quick restart fails the service (start-limit-hit)" \
	test "$result" = start-limit-hit
check "...and systemd closes the socket: connections refused ($(field "$res" refused)), by systemd, not libreuse" \
	test "$(field "$res" refused)" -gt 0 -a "$(inside systemctl is-active lrtest-limited.socket)" != active

# 3. The keeper service: systemctl reload x10.
ten reload libreuse-keep-example.service keep 8081

# 4. The journal: libreuse's lines with their priorities, from one program
# under the library: an action (an injection), a refused bind, and a line of
# level errors (keep asked for, with neither keeper nor systemd's socket).
cat >"$T/units/journal.py" <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 8090))
s.listen()
t = socket.socket()
try:
    t.bind(("127.0.0.1", 8090))
except OSError:
    pass
EOF
inside env LD_PRELOAD='/usr/$LIB/libreuse/libreuse.so' \
	LIBREUSE_RULES='keep = true; log = { level = "actions"; target = "syslog"; }; rules = ( { match = { op = "bind"; port = 8090; }; reuseaddr = true; } );' \
	python3 /run/lrcheck/journal.py
sleep 1
inside journalctl -q -t libreuse -o json --output-fields=PRIORITY,MESSAGE >"$T/journal" 2>/dev/null
pri() { grep -F "$1" "$T/journal" | grep -oE '"PRIORITY":"[0-9]"' | head -1 | grep -oE '[0-9]'; }
inject=$(pri 'inject SO_REUSEADDR')
conflict=$(pri 'failed: EADDRINUSE')
error=$(pri 'keep not possible')
check "journalctl -t libreuse: an action at notice (5: $inject), a refused bind at warning (4: $conflict), a line of level errors at err (3: $error)" \
	test "$inject$conflict$error" = 543

# 5. A daemon that closes every fd at start, behind a .socket unit.
inside sh -c "cp /run/lrcheck/lrtest-closer.* /run/lrcheck/lrtest-named.* /etc/systemd/system/ && systemctl daemon-reload"
inside systemctl start lrtest-closer.socket lrtest-named.socket
got=$(inside python3 -c 'import socket; s = socket.create_connection(("127.0.0.1", 8084), timeout=10); print(s.recv(64).decode().strip())' 2>&1)
check "a daemon that closes every fd at start serves on systemd's socket ($got)" \
	sh -c "nsenter -t $PID1 -a -- systemctl is-active -q lrtest-closer.service && test -n '$got' && nsenter -t $PID1 -a -- grep -q READY /tmp/lrtest-closer.ready"

# 6. keep = "NAME" under the supervisor: a static Go server asking for
# another port gets systemd's socket of that name.
got=$(inside python3 -c 'import socket; s = socket.create_connection(("127.0.0.1", 8085), timeout=10); print(s.recv(64).decode().strip())' 2>&1)
[ -n "$got" ] && ! grep -q Traceback <<<"$got" || inside journalctl -q -u lrtest-named.service -o cat | tail -5 | sed 's/^/# /'
check "keep = \"api\" under the supervisor: the Go server asking for 9999 serves on systemd's 8085 ($got)" \
	sh -c "test -n '$got' && nsenter -t $PID1 -a -- journalctl -q -u lrtest-named.service -o cat | grep -q 'adopt from systemd fd 3 \"api\"'"

# The container, gone.
inside systemctl poweroff >/dev/null 2>&1
for _ in $(seq 300); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.1; done
check "the container powers off, and nothing of it is left" \
	sh -c "! kill -0 $NSPAWN 2>/dev/null && ! kill -0 $PID1 2>/dev/null"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

#!/usr/bin/env bash
# A compatibility sweep: programs from Debian's packages doing their real
# job on loopback, each run three times — without libreuse, with it under a
# rule file that loads and logs every call (level all), and under a rule
# its hooks settle on their short way — and checked to give the same
# result. Servers and their clients both run under it; sslh, which links
# libconfig and reads its own libconfig file, among them.
. "$(dirname "$0")/../lib.sh"

if [ -n "${SANITIZE:-}" ]; then
	# A sanitizer runtime preloaded into the JVM, node or sshd tests the
	# runtime, not libreuse: the sweep is the release library's.
	ok "# SKIP compatibility sweep: the release library's, not the sanitizer build's"
	exit 0
fi

# A rule that loads and matches nothing these programs do: every hook runs
# its whole path (level all), nothing is changed.
rules "$T/sweep.conf" 'log = { level = "all"; target = "'"$T"'/sweep.log"; };
rules = ( { match = { port = 1; }; deny = "EACCES"; } );'

# And a rule at the default level that the hooks settle on their short way
# (verdicts.h): SO_REUSEADDR into every TCP bind above 1023, UDP untouched.
rules "$T/short.conf" 'rules = ( { match = { port = "1024-65535"; proto = "tcp"; }; reuseaddr = true; } );'

# wait_port PORT: until something listens on 127.0.0.1:PORT (5 s at most),
# asked of the kernel, not by connecting (servers here accept only once).
wait_port() {
	local i
	for i in $(seq 100); do
		[ -n "$(ss -Hltn "sport = :$1")" ] && return 0
		sleep 0.05
	done
	return 1
}
# serve NAME PORT SERVER-COMMAND...: start it, wait for its port.
serve() {
	local name=$1 port=$2
	shift 2
	"$@" >"$T/$name.srv.out" 2>"$T/$name.srv.err" &
	SRV=$!
	PIDS+=($SRV)
	wait_port "$port"
}
stop() { kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; }

# Each job prints its result; a job gets a fresh port in $P.
job_python_curl() { echo hello >"$T/www/index.html"; serve py "$P" "$PY" -m http.server -b 127.0.0.1 -d "$T/www" "$P"; curl -s "http://127.0.0.1:$P/index.html"; stop; }
job_python_urllib() { serve py2 "$P" "$PY" -m http.server -b 127.0.0.1 -d "$T/www" "$P"; "$PY" -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$P/index.html').read().decode().strip())"; stop; }
job_wget() { serve py3 "$P" "$PY" -m http.server -b 127.0.0.1 -d "$T/www" "$P"; wget -q -O - "http://127.0.0.1:$P/index.html"; stop; }
job_redis() { serve redis "$P" redis-server --port "$P" --bind 127.0.0.1 --save '' --appendonly no --dir "$T"; redis-cli -p "$P" set k v; redis-cli -p "$P" get k; redis-cli -p "$P" incr n; stop; }
job_memcached() { serve mc "$P" memcached -l 127.0.0.1 -p "$P" -U 0 -u root; printf 'set k 0 0 2\r\nhi\r\nget k\r\nquit\r\n' | nc -q 2 127.0.0.1 "$P" | tr -d '\r'; stop; }
job_lighttpd() { printf 'server.document-root = "%s"\nserver.bind = "127.0.0.1"\nserver.port = %s\n' "$T/www" "$P" >"$T/l.conf"; serve light "$P" lighttpd -D -f "$T/l.conf"; curl -s "http://127.0.0.1:$P/index.html"; stop; }
job_nginx() { nginx_conf "$T/ngx" "127.0.0.1:$P"; serve nginx "$P" nginx -p "$T/ngx" -c "$T/ngx/nginx.conf"; curl -s "http://127.0.0.1:$P/"; stop; }
job_socat() { serve socat "$P" socat "TCP-LISTEN:$P,bind=127.0.0.1,reuseaddr" EXEC:'tr a-z A-Z'; echo socat | socat - "TCP:127.0.0.1:$P"; stop; }
job_nc() { serve nc "$P" nc -l 127.0.0.1 "$P"; echo netcat | nc -q 1 127.0.0.1 "$P"; wait "$SRV" 2>/dev/null; cat "$T/nc.srv.out"; }
job_perl() {
	serve perl "$P" perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], Listen => 5, ReuseAddr => 1) or die; $c = $s->accept; $l = <$c>; print $c uc $l; close $c' "$P"
	perl -MIO::Socket::INET -e '$c = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ARGV[0]) or die; print $c "perl\n"; print scalar <$c>' "$P"
	stop
}
job_ruby() {
	serve ruby "$P" ruby -rsocket -e 's = TCPServer.new("127.0.0.1", ARGV[0].to_i); c = s.accept; c.puts c.gets.upcase; c.close' "$P"
	ruby -rsocket -e 'c = TCPSocket.new("127.0.0.1", ARGV[0].to_i); c.puts "ruby"; puts c.gets' "$P"
	stop
}
job_node() {
	serve node "$P" node -e 'require("net").createServer(c => c.on("data", d => { c.end(d.toString().toUpperCase()); })).listen(+process.argv[1], "127.0.0.1")' "$P"
	node -e 'const c = require("net").connect(+process.argv[1], "127.0.0.1", () => c.write("node\n")); c.on("data", d => process.stdout.write(d.toString()))' "$P"
	stop
}
job_java() {
	cat >"$T/Echo.java" <<'JAVA'
import java.io.*; import java.net.*;
public class Echo { public static void main(String[] a) throws Exception {
  int p = Integer.parseInt(a[1]);
  if (a[0].equals("server")) { try (ServerSocket s = new ServerSocket(p, 5, InetAddress.getByName("127.0.0.1")); Socket c = s.accept()) {
      BufferedReader r = new BufferedReader(new InputStreamReader(c.getInputStream())); c.getOutputStream().write((r.readLine().toUpperCase() + "\n").getBytes()); } }
  else { try (Socket c = new Socket("127.0.0.1", p)) { c.getOutputStream().write("java\n".getBytes());
      System.out.println(new BufferedReader(new InputStreamReader(c.getInputStream())).readLine()); } } } }
JAVA
	[ -d "$T/java" ] || javac -d "$T/java" "$T/Echo.java" 2>/dev/null
	serve java "$P" java -cp "$T/java" Echo server "$P"
	java -cp "$T/java" Echo client "$P"
	stop
}
job_tcl() {
	serve tcl "$P" tclsh <(printf 'proc on {c a p} { gets $c l; puts $c [string toupper $l]; close $c; set ::done 1 }\nsocket -server on -myaddr 127.0.0.1 %s\nvwait done\n' "$P")
	printf 'set c [socket 127.0.0.1 %s]\nputs $c tcl\nflush $c\nputs [gets $c]\n' "$P" | tclsh
	stop
}
job_sshd() {
	[ -f "$T/hostkey" ] || ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
	mkdir -p /run/sshd
	serve sshd "$P" /usr/sbin/sshd -D -e -f /dev/null -h "$T/hostkey" -o ListenAddress=127.0.0.1 -o Port="$P" -o PidFile=none -o UsePAM=no
	timeout 5 socat -T 2 - "TCP:127.0.0.1:$P" </dev/null 2>/dev/null | head -c 7; echo
	stop
}
job_keyscan() {
	[ -f "$T/hostkey" ] || ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
	mkdir -p /run/sshd
	serve sshd2 "$P" /usr/sbin/sshd -D -e -f /dev/null -h "$T/hostkey" -o ListenAddress=127.0.0.1 -o Port="$P" -o PidFile=none -o UsePAM=no
	ssh-keyscan -t ed25519 -p "$P" 127.0.0.1 2>/dev/null | awk '{ print $2 }'
	stop
}
job_haproxy() {
	printf 'global\n  master-worker\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\nfrontend f\n  bind 127.0.0.1:%s\n  http-request return status 200 content-type text/plain string haproxy\n' "$P" >"$T/haproxy.cfg"
	serve haproxy "$P" haproxy -W -db -f "$T/haproxy.cfg"
	curl -s "http://127.0.0.1:$P/"
	stop
}
job_dnsmasq() {
	serve dnsmasq "$P" dnsmasq -k -C /dev/null --port="$P" --listen-address=127.0.0.1 --bind-interfaces \
		--no-resolv --no-hosts --address=/sweep.test/10.1.2.3 --pid-file= --user=nobody --group=nogroup
	dig +short +tries=1 +time=3 @127.0.0.1 -p "$P" sweep.test
	stop
}
job_openssl() {
	[ -f "$T/tls.key" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T/tls.key" -out "$T/tls.crt" -days 1 -subj /CN=localhost 2>/dev/null
	serve tls "$P" openssl s_server -quiet -naccept 1 -www -accept "127.0.0.1:$P" -cert "$T/tls.crt" -key "$T/tls.key"
	printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -quiet -connect "127.0.0.1:$P" 2>/dev/null |
		grep -o -m1 's_server'
	stop
}
job_rsync() {
	printf 'use chroot = no\nuid = root\ngid = root\npid file = %s/rsyncd.pid\n[sweep]\n  path = %s/www\n  read only = yes\n' \
		"$T" "$T" >"$T/rsyncd.conf"
	rm -f "$T/rsyncd.pid" "$T/rsync.out"
	serve rsyncd "$P" rsync --daemon --no-detach --address=127.0.0.1 --port="$P" --config="$T/rsyncd.conf"
	rsync "rsync://127.0.0.1:$P/sweep/index.html" "$T/rsync.out" && cat "$T/rsync.out"
	stop
}
# sslh links libconfig itself and reads its own libconfig file while
# libreuse is in it: a multiplexer in front of an HTTP server.
job_sslh() {
	printf 'foreground: true;\nnumeric: true;\nlisten: ( { host: "127.0.0.1"; port: "%s"; } );\nprotocols: ( { name: "http"; host: "127.0.0.1"; port: "%s"; } );\n' \
		"$P" "$Q" >"$T/sslh.cfg"
	serve sslhweb "$Q" "$PY" -m http.server -b 127.0.0.1 -d "$T/www" "$Q"
	local web=$SRV
	serve sslh "$P" sslh-select -F"$T/sslh.cfg"
	curl -s "http://127.0.0.1:$P/index.html"
	stop
	SRV=$web
	stop
}
job_libconfig() { printf 'name = "own";\nport = %s;\n' "$P" >"$T/own.cfg"; "$HELPERS/configuser" "$T/own.cfg"; }

# LIBREUSE_SWEEP names servers of the second part to run alone.
[ -n "${LIBREUSE_SWEEP:-}" ] && SKIP_FIRST=yes || SKIP_FIRST=
mkdir -p "$T/www"
echo hello >"$T/www/index.html"
# What each job must print, and does without libreuse.
declare -A want=(
	[python_curl]="hello" [python_urllib]="hello" [wget]="hello" [redis]="OK v 1"
	[memcached]="STORED VALUE k 0 2 hi END" [lighttpd]="hello"
	[nginx]="hello from nginx" [socat]="SOCAT" [nc]="netcat" [keyscan]="ssh-ed25519"
	[perl]="PERL" [ruby]="RUBY" [node]="NODE" [java]="JAVA" [tcl]="TCL" [sshd]="SSH-2.0"
	[libconfig]="name own bind ok" [haproxy]="haproxy" [dnsmasq]="10.1.2.3" [openssl]="s_server"
	[rsync]="hello" [sslh]="hello"
)
# The programs whose own lines must be in the log: libreuse ran inside each.
declare -A progs=(
	[python_curl]="python3 curl" [python_urllib]="python3" [wget]="python3 wget"
	[redis]="redis-server redis-cli" [memcached]="memcached nc" [lighttpd]="lighttpd"
	[nginx]="nginx curl" [socat]="socat" [nc]="nc" [perl]="perl" [ruby]="ruby" [node]="node"
	[java]="java" [tcl]="tclsh" [sshd]="sshd" [keyscan]="sshd ssh-keyscan" [libconfig]="configuser"
	[haproxy]="haproxy curl" [dnsmasq]="dnsmasq dig" [openssl]="openssl" [rsync]="rsync"
	[sslh]="sslh-select python3 curl"
)
# run_job J [VAR=VALUE...]: job J in a bash of its own, with the variables
# given (the preload) and two fresh ports, P and Q; at most 60 s.
run_job() {
	local j=$1
	shift
	timeout 60 env "$@" bash -c "$(declare -f job_$j serve stop wait_port nginx_conf 2>/dev/null)
		T='$T' PY='$PY' HELPERS='$HELPERS' P=$(free_port) Q=$(free_port) PIDS=(); job_$j"
}
JOBS=(python_curl python_urllib wget redis memcached lighttpd nginx socat nc perl ruby node java tcl sshd keyscan
	haproxy dnsmasq openssl rsync sslh libconfig)
[ -n "$SKIP_FIRST" ] && JOBS=()
for j in "${JOBS[@]}"; do
	plain=$(run_job "$j" 2>/dev/null)
	: >"$T/sweep.log"
	shimmed=$(run_job "$j" LIBREUSE_CONFIG="$T/sweep.conf" LD_PRELOAD="$(preload)" 2>/dev/null)
	lines=$(grep -c "" "$T/sweep.log")
	short=$(run_job "$j" LIBREUSE_CONFIG="$T/short.conf" LD_PRELOAD="$(preload)" 2>"$T/short.err")
	plain=$(echo $plain)
	shimmed=$(echo $shimmed)
	short=$(echo $short)
	check "$j: does its job without libreuse ($plain)" test "$plain" = "${want[$j]}"
	missing=
	for p in ${progs[$j]}; do grep -q "]: $p: " "$T/sweep.log" || missing="$missing $p"; done
	check "...and the same under libreuse at level all ($shimmed; $lines lines logged)" \
		test "$shimmed" = "${want[$j]}"
	check "...libreuse ran in ${progs[$j]}${missing:+ (no line from$missing)}" test -z "$missing"
	check "...and the same with SO_REUSEADDR injected into its TCP binds on the short way ($short)" \
		test "$short" = "${want[$j]}"
done

# The second part: Debian's servers (tests/helpers/sweep_servers.sh), each
# under `libreuse run` with a rule that moves its bind to another loopback
# address and port, and --log all: where it listens (ss), that it answers
# there, its audit line, and that it stops. Three at a time.
# LIBREUSE_SWEEP="unbound nsd": only those (and not the first part).
. "$ROOT/tests/helpers/sweep_servers.sh"
# The slow starters first, so that the quick ones fill in beside them.
SERVERS=(mariadb postgresql varnish squid tor
	unbound nsd knot bind9 dnsmasq pdns_recursor
	exim4 dovecot
	redis memcached mosquitto beanstalkd nats nats_under_python
	freeradius openvpn chrony coturn snmpd
	nginx lighttpd apache2 h2o caddy haproxy tinyproxy privoxy busybox_httpd busybox_under_sh
	stunnel openssl ncat socat iperf3 icecast2 prosody ngircd
	sshd dropbear vsftpd rsync git_daemon)
[ -n "${LIBREUSE_SWEEP:-}" ] && read -ra SERVERS <<<"$LIBREUSE_SWEEP"
mkdir -p "$T/sweep"
running=0
for s in "${SERVERS[@]}"; do
	sweep_one "$s" >"$T/sweep/$s.result" 2>&1 &
	running=$((running + 1))
	if [ "$running" -ge 3 ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
for s in "${SERVERS[@]}"; do cat "$T/sweep/$s.result"; done

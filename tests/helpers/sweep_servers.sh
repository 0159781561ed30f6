# Sourced by tests/integration/t_compat.sh (after tests/lib.sh): Debian's
# server programs for the sweep's second part, each started under
# `libreuse run` with a rule that moves its bind elsewhere and `--log all`.
#
# srv_NAME prepares one server in its own directory $D (world-writable:
# many of these switch to their own user before they write a pid or a log),
# told to listen on 127.0.0.1:$P, a port chosen at run time. The rule moves
# that bind to $A:$R (another loopback address, another port). srv_NAME sets
#   CMD    the server, in the foreground (no daemon: the test stops it);
#   ENV    optional: variables for it (VAR=VALUE; not through env(1), which
#          would be the program `run` looks at);
#   PROTO  tcp or udp: the listener ss must show at $A:$R;
#   PROG   the program's name in libreuse's lines (its comm);
#   WANT   what the client's answer must contain;
#   WAIT   seconds the server gets to listen (20; slow starters say more);
#   WHY    optional: what the program does that libreuse must survive.
# cli_NAME asks the server at $A:$R and prints its answer.
#
# Programs from issue 31's list that are not here, and why:
#   postfix, opensmtpd: each conflicts with exim4 (Debian lets one MTA be
#     installed), and exim4 is the one that clears its environment;
#   proftpd: conflicts with vsftpd (ftp-server), which is here;
#   ntpsec: conflicts with chrony (time-daemon), which is here;
#   rabbitmq, ejabberd: not tried; each brings an Erlang VM, whose start
#     the sweep's time budget (~90 s with the first part) was kept from.

# ---- DNS -------------------------------------------------------------------
dns_zone() { # FILE: the zone every DNS server here serves
	printf '$ORIGIN sweep.test.\n$TTL 60\n@ IN SOA ns hostmaster 1 60 60 60 60\n@ IN NS ns\nns IN A 10.1.2.3\nwww IN A 10.1.2.3\n' >"$1"
}
cli_dns() { dig +short +tries=1 +time=3 @"$A" -p "$R" www.sweep.test; }

srv_unbound() {
	cat >"$D/unbound.conf" <<EOF
server:
  interface: 127.0.0.1
  port: $P
  do-ip6: no
  chroot: ""
  username: "unbound"
  directory: "$D"
  pidfile: "$D/unbound.pid"
  use-syslog: no
  logfile: ""
  access-control: 127.0.0.0/8 allow
  local-zone: "sweep.test." static
  local-data: "www.sweep.test. A 10.1.2.3"
remote-control:
  control-enable: no
EOF
	CMD=(unbound -d -c "$D/unbound.conf") PROTO=udp PROG=unbound WANT=10.1.2.3 WHY="switches to user unbound"
}
cli_unbound() { cli_dns; }

srv_nsd() {
	dns_zone "$D/sweep.zone"
	cat >"$D/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@$P
  do-ip6: no
  username: "nsd"
  chroot: ""
  zonesdir: "$D"
  database: ""
  pidfile: "$D/nsd.pid"
  xfrdfile: "$D/xfrd.state"
  zonelistfile: "$D/zone.list"
  xfrdir: "$D"
  logfile: "$D/nsd.log"
remote-control:
  control-enable: no
zone:
  name: sweep.test
  zonefile: "$D/sweep.zone"
EOF
	CMD=(nsd -d -c "$D/nsd.conf") PROTO=udp PROG=nsd WANT=10.1.2.3 WHY="forks its servers, switches to user nsd"
}
cli_nsd() { cli_dns; }

srv_knot() {
	dns_zone "$D/sweep.zone"
	cat >"$D/knot.conf" <<EOF
server:
  rundir: "$D"
  listen: 127.0.0.1@$P
database:
  storage: "$D/db"
log:
  - target: stderr
    any: info
zone:
  - domain: sweep.test
    file: "$D/sweep.zone"
    storage: "$D"
EOF
	CMD=(knotd -c "$D/knot.conf") PROTO=udp PROG=knotd WANT=10.1.2.3
}
cli_knot() { cli_dns; }

srv_bind9() {
	dns_zone "$D/sweep.zone"
	cat >"$D/named.conf" <<EOF
options {
  directory "$D";
  pid-file "$D/named.pid";
  listen-on port $P { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
};
controls { };
zone "sweep.test" { type primary; file "$D/sweep.zone"; };
EOF
	CMD=(named -g -n 1 -u bind -c "$D/named.conf") PROTO=udp PROG=named WANT=10.1.2.3 WHY="switches to user bind"
}
cli_bind9() { cli_dns; }

srv_dnsmasq() {
	CMD=(dnsmasq -k -C /dev/null --port="$P" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts
		--address=/sweep.test/10.1.2.3 --pid-file="$D/dnsmasq.pid" --user=nobody --group=nogroup)
	PROTO=udp PROG=dnsmasq WANT=10.1.2.3 WHY="switches to user nobody"
}
cli_dnsmasq() { cli_dns; }

srv_pdns_recursor() {
	dns_zone "$D/sweep.zone"
	cat >"$D/recursor.conf" <<EOF
local-address=127.0.0.1
local-port=$P
socket-dir=$D
daemon=no
write-pid=no
setuid=pdns
setgid=pdns
threads=1
auth-zones=sweep.test=$D/sweep.zone
EOF
	CMD=(pdns_recursor --config-dir="$D") PROTO=udp PROG=pdns_recursor WANT=10.1.2.3 
}
cli_pdns_recursor() { cli_dns; }

# ---- web servers and proxies -------------------------------------------------
www() { mkdir -p "$D/www" && echo "sweep page" >"$D/www/index.html"; }
cli_http() { curl -s -m 5 "http://$A:$R/index.html"; }

srv_nginx() { nginx_conf "$D/ngx" "127.0.0.1:$P"; CMD=(nginx -p "$D/ngx" -c "$D/ngx/nginx.conf") PROG=nginx WANT="hello from nginx" WHY="a master and worker processes"; }
cli_nginx() { cli_http; }

srv_lighttpd() {
	www
	printf 'server.document-root = "%s"\nserver.bind = "127.0.0.1"\nserver.port = %s\nserver.pid-file = "%s"\n' "$D/www" "$P" "$D/l.pid" >"$D/l.conf"
	CMD=(lighttpd -D -f "$D/l.conf") PROG=lighttpd WANT="sweep page"
}
cli_lighttpd() { cli_http; }

srv_apache2() {
	www
	cat >"$D/httpd.conf" <<EOF
ServerRoot "$D"
ServerName sweep.test
PidFile "$D/httpd.pid"
Mutex file:$D default
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
User www-data
Group www-data
Listen 127.0.0.1:$P
DocumentRoot "$D/www"
ErrorLog "$D/error.log"
StartServers 1
EOF
	ENV=(APACHE_RUN_DIR="$D")
	CMD=(apache2 -DFOREGROUND -d "$D" -f "$D/httpd.conf") PROG=apache2 WANT="sweep page" WHY="forks children that switch to www-data"
}
cli_apache2() { cli_http; }

srv_h2o() {
	www
	printf 'listen:\n  host: 127.0.0.1\n  port: %s\npid-file: %s/h2o.pid\nerror-log: %s/h2o.err\nhosts:\n  default:\n    paths:\n      /:\n        file.dir: %s/www\n' \
		"$P" "$D" "$D" "$D" >"$D/h2o.conf"
	CMD=(h2o -c "$D/h2o.conf") PROG=h2o WANT="sweep page" WHY="a master that starts its server"
}
cli_h2o() { cli_http; }

srv_caddy() {
	printf '{\n  admin off\n  auto_https off\n  storage file_system %s/caddy\n}\nhttp://:%s {\n  bind 127.0.0.1\n  respond "caddy here"\n}\n' "$D" "$P" >"$D/Caddyfile"
	ENV=(HOME="$D" XDG_CONFIG_HOME="$D" XDG_DATA_HOME="$D")
	CMD=(caddy run --config "$D/Caddyfile" --adapter caddyfile)
	PROG=caddy WANT="caddy here" WHY="a Go program: the supervisor rules it"
}
cli_caddy() { curl -s -m 5 "http://$A:$R/"; }

srv_haproxy() {
	printf 'global\n  master-worker\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\nfrontend f\n  bind 127.0.0.1:%s\n  http-request return status 200 content-type text/plain string haproxy\n' "$P" >"$D/haproxy.cfg"
	CMD=(haproxy -W -db -f "$D/haproxy.cfg") PROG=haproxy WANT=haproxy WHY="a master that fork-execs its worker"
}
cli_haproxy() { curl -s -m 5 "http://$A:$R/"; }

srv_varnish() {
	printf 'vcl 4.1;\nbackend default none;\nsub vcl_recv { return (synth(200, "varnish")); }\n' >"$D/default.vcl"
	CMD=(varnishd -F -n "$D/varnish" -a "127.0.0.1:$P" -T none -f "$D/default.vcl" -s malloc,16m)
	PROG=varnishd WANT=varnish WHY="a manager that forks the child, which switches to user vcache"
}
cli_varnish() { curl -s -m 5 -o /dev/null -w '%{http_code} ' "http://$A:$R/"; curl -s -m 5 -I "http://$A:$R/" | grep -io -m1 varnish; }

srv_squid() {
	cat >"$D/squid.conf" <<EOF
http_port 127.0.0.1:$P
http_access allow all
cache deny all
pid_filename $D/squid.pid
access_log none
cache_log $D/cache.log
cache_effective_user proxy
coredump_dir $D
visible_hostname sweep.test
shutdown_lifetime 0 seconds
EOF
	CMD=(squid -N -f "$D/squid.conf") PROG=squid WANT=squid WHY="switches to user proxy"
}
cli_squid() { curl -s -m 5 -I "http://$A:$R/" | grep -io -m1 squid; }

srv_tinyproxy() {
	printf 'Port %s\nListen 127.0.0.1\nUser tinyproxy\nGroup tinyproxy\nPidFile "%s/tinyproxy.pid"\nAllow 127.0.0.0/8\nStatHost "stats.sweep.test"\n' "$P" "$D" >"$D/tinyproxy.conf"
	CMD=(tinyproxy -d -c "$D/tinyproxy.conf") PROG=tinyproxy WANT=tinyproxy WHY="switches to user tinyproxy"
}
cli_tinyproxy() { curl -s -m 5 -x "http://$A:$R" http://stats.sweep.test/ | grep -io -m1 tinyproxy; }

srv_privoxy() {
	printf 'listen-address 127.0.0.1:%s\nconfdir /etc/privoxy\nlogdir %s\n' "$P" "$D" >"$D/privoxy.conf"
	CMD=(privoxy --no-daemon "$D/privoxy.conf") PROG=privoxy WANT=Privoxy
}
cli_privoxy() { curl -s -m 5 -x "http://$A:$R" http://p.p/ | grep -o -m1 Privoxy; }

srv_busybox_httpd() {
	www
	CMD=(busybox httpd -f -p "127.0.0.1:$P" -h "$D/www") PROG=busybox WANT="sweep page" WHY="statically linked: the supervisor rules it"
}
cli_busybox_httpd() { cli_http; }

# The same static server started by a dynamic shell (a wrapper script):
# the library is in the shell, the static child needs the supervisor.
srv_busybox_under_sh() {
	www
	CMD=(sh -c 'busybox httpd -f -p "127.0.0.1:$1" -h "$2"; exit $?' sh "$P" "$D/www") PROG=busybox WANT="sweep page"
	WHY="a static child of a dynamic shell: issue 31 item 5"
}
cli_busybox_under_sh() { cli_http; }

# ---- remote shells, file transfer ------------------------------------------
hostkey() { [ -f "$D/hostkey" ] || ssh-keygen -q -t ed25519 -N '' -f "$D/hostkey"; }
cli_banner() { timeout 5 socat -T 3 - "TCP:$A:$R" </dev/null 2>/dev/null | head -c 300; }

srv_sshd() {
	hostkey
	mkdir -p /run/sshd
	CMD=(/usr/sbin/sshd -D -e -f /dev/null -h "$D/hostkey" -o ListenAddress=127.0.0.1 -o Port="$P" -o PidFile=none -o UsePAM=no)
	PROG=sshd WANT=SSH-2.0 WHY="re-execs itself for each connection"
}
cli_sshd() { cli_banner; }

srv_dropbear() {
	dropbearkey -t ed25519 -f "$D/db_key" >/dev/null 2>&1
	CMD=(dropbear -F -E -p "127.0.0.1:$P" -r "$D/db_key" -P "$D/dropbear.pid") PROG=dropbear WANT=SSH-2.0
}
cli_dropbear() { cli_banner; }

srv_vsftpd() {
	mkdir -p "$D/ftp" /var/run/vsftpd/empty
	printf 'listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port=%s\nbackground=NO\nanonymous_enable=YES\nanon_root=%s/ftp\nlocal_enable=NO\nsecure_chroot_dir=/var/run/vsftpd/empty\nftpd_banner=sweep vsftpd\nrun_as_launching_user=NO\nnopriv_user=nobody\nxferlog_enable=NO\n' \
		"$P" "$D" >"$D/vsftpd.conf"
	CMD=(vsftpd "$D/vsftpd.conf") PROG=vsftpd WANT="220 sweep vsftpd"
}
cli_vsftpd() { timeout 5 socat -T 2 - "TCP:$A:$R" <<<"QUIT" 2>/dev/null | tr -d '\r' | head -2; }

srv_rsync() {
	www
	printf 'use chroot = no\nuid = nobody\ngid = nogroup\npid file = %s/rsyncd.pid\n[sweep]\n  path = %s/www\n  read only = yes\n' "$D" "$D" >"$D/rsyncd.conf"
	CMD=(rsync --daemon --no-detach --address=127.0.0.1 --port="$P" --config="$D/rsyncd.conf") PROG=rsync WANT="sweep page"
	WHY="forks per connection, switches to user nobody"
}
cli_rsync() { rsync "rsync://$A:$R/sweep/index.html" "$D/got" && cat "$D/got"; }

srv_git_daemon() {
	git init -q "$D/repo.git" && echo sweep >"$D/repo.git/f" &&
		git -C "$D/repo.git" add f && git -C "$D/repo.git" -c user.name=s -c user.email=s@sweep.test commit -qm sweep
	CMD=(git daemon --listen=127.0.0.1 --port="$P" --base-path="$D" --export-all --reuseaddr "--pid-file=$D/git.pid" "$D")
	PROG=git-daemon WANT=refs/heads/ WHY="fork-execs git upload-pack for each client"
}
cli_git_daemon() { timeout 10 git ls-remote "git://$A:$R/repo.git" 2>&1 | head -3; }

# ---- mail --------------------------------------------------------------------
# exim's own file; keep_environment empty: exim clears its whole
# environment at start, before its first socket call. The client sends
# QUIT without waiting for the greeting: on a loaded machine it came
# first, and exim dropped the connection as out of sync (smtp_enforce_sync),
# with no greeting. Debian's exim4 is
# set-user-ID root, which no LD_PRELOAD reaches (run says so): a copy
# without the bit, run by root, is what a user can rule.
srv_exim4() {
	mkdir -p "$D/spool"
	cp /usr/sbin/exim4 "$D/exim4"
	cat >"$D/exim.conf" <<EOF
primary_hostname = sweep.test
spool_directory = $D/spool
log_file_path = $D/%slog
pid_file_path = $D/exim.pid
daemon_smtp_ports = $P
local_interfaces = 127.0.0.1
keep_environment =
smtp_enforce_sync = false
acl_smtp_rcpt = acl_rcpt
begin acl
acl_rcpt:
  accept
EOF
	CMD=("$D/exim4" -C "$D/exim.conf" -bdf) PROG=exim4 WANT="220 sweep.test ESMTP Exim"
	WHY="clears its environment: issue 31 item 1"
}
cli_exim4() { timeout 5 socat -T 3 - "TCP:$A:$R" <<<"QUIT" 2>/dev/null | tr -d '\r' | head -2; }

srv_dovecot() {
	cat >"$D/dovecot.conf" <<EOF
protocols = imap
listen = 127.0.0.1
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
ssl = no
disable_plaintext_auth = no
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:$D/mail
service imap-login {
  inet_listener imap {
    port = $P
  }
  inet_listener imaps {
    port = 0
  }
}
passdb {
  driver = static
  args = password=sweep
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$D/home
}
EOF
	CMD=(dovecot -F -c "$D/dovecot.conf") PROG=dovecot WANT="a OK Logout completed"
	WHY="keeps of its environment only what import_environment names: issue 31 item 1"
}
# imap-login takes a half-closed connection for a client gone: the
# client's end stays open until the answer is in.
cli_dovecot() { { sleep 1; printf 'a LOGOUT\r\n'; sleep 2; } | timeout 6 socat -T 4 - "TCP:$A:$R" 2>/dev/null | tr -d '\r' | head -n 3; }

# ---- databases, caches, brokers ---------------------------------------------
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
srv_postgresql() {
	runuser -u postgres -- "$PGBIN/initdb" -D "$D/pg" -A trust -U postgres >/dev/null
	CMD=(runuser -u postgres -- "$PGBIN/postgres" -D "$D/pg" -c listen_addresses=127.0.0.1 -p "$P" -k "$D")
	PROG=postgres WANT="accepting connections" WHY="started by runuser as user postgres; forks its backends"
}
cli_postgresql() { "$PGBIN/pg_isready" -h "$A" -p "$R" -t 5; }

srv_mariadb() {
	mariadb-install-db --no-defaults --datadir="$D/db" --user=mysql --auth-root-authentication-method=normal \
		--skip-test-db --tmpdir="$D"
	CMD=(mariadbd --no-defaults --datadir="$D/db" --user=mysql --bind-address=127.0.0.1 --port="$P" --socket="$D/mysql.sock"
		--pid-file="$D/mariadb.pid" --tmpdir="$D" --skip-log-bin --innodb-buffer-pool-size=8M --skip-name-resolve)
	PROG=mariadbd WANT="mysqld is alive" WAIT=30 WHY="switches to user mysql"
}
cli_mariadb() { mariadb-admin --no-defaults --protocol=tcp -h "$A" -P "$R" -u root --connect-timeout=5 ping; }

srv_redis() {
	CMD=(redis-server --port "$P" --bind 127.0.0.1 --save '' --appendonly no --dir "$D") PROG=redis-server WANT=PONG
}
cli_redis() { redis-cli -h "$A" -p "$R" ping; }

srv_memcached() { CMD=(memcached -l 127.0.0.1 -p "$P" -U 0 -u nobody) PROG=memcached WANT=VERSION WHY="switches to user nobody"; }
cli_memcached() { printf 'version\r\n' | timeout 5 socat -T 2 - "TCP:$A:$R" 2>/dev/null; }

srv_mosquitto() {
	printf 'listener %s 127.0.0.1\nallow_anonymous true\npid_file %s/mosquitto.pid\nuser mosquitto\n' "$P" "$D" >"$D/mosquitto.conf"
	CMD=(mosquitto -c "$D/mosquitto.conf") PROG=mosquitto WANT="CONNACK 20020000" WHY="switches to user mosquitto"
}
# An MQTT 3.1.1 CONNECT; the broker's CONNACK (0x20 0x02, accepted).
cli_mosquitto() {
	"$PY" -c 'import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(bytes.fromhex("100c00044d5154540402003c0000"))
print("CONNACK", s.recv(4).hex())' "$A" "$R"
}

srv_beanstalkd() { CMD=(beanstalkd -l 127.0.0.1 -p "$P" -u nobody) PROG=beanstalkd WANT="USING sweep" WHY="switches to user nobody"; }
cli_beanstalkd() { printf 'use sweep\r\n' | timeout 5 socat -T 2 - "TCP:$A:$R" 2>/dev/null; }

srv_nats() { CMD=(nats-server -a 127.0.0.1 -p "$P") PROG=nats-server WANT='INFO {' WHY="a Go program: the supervisor rules it"; }
# The Go server started by a Python wrapper, as daemons' wrappers do.
srv_nats_under_python() {
	CMD=("$PY" -c 'import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))' nats-server -a 127.0.0.1 -p "$P" -P "$D/nats.pid")
	PROG=nats-server WANT='INFO {' WHY="a Go child of a dynamic Python parent: issue 31 item 5"
}
cli_nats_under_python() { cli_nats; }
cli_nats() { timeout 5 socat -T 2 - "TCP:$A:$R" </dev/null 2>/dev/null | head -c 60; }

# ---- RADIUS, VPN, time, relays -------------------------------------------------
# freeradius refuses a configuration directory others can write: its own.
srv_freeradius() {
	mkdir -p "$D/log" "$D/raddb"
	chmod 755 "$D/raddb"
	cat >"$D/raddb/radiusd.conf" <<EOF
prefix = /usr
raddbdir = $D/raddb
logdir = $D/log
run_dir = $D
libdir = /usr/lib/freeradius
pidfile = $D/radiusd.pid
name = freeradius
log {
  destination = stderr
}
security {
  user = freerad
  group = freerad
  allow_core_dumps = no
}
client local {
  ipaddr = 127.0.0.0/8
  secret = sweepsecret
}
modules {
  always ok_all {
    rcode = ok
  }
}
server default {
  listen {
    type = auth
    ipaddr = 127.0.0.1
    port = $P
  }
  authorize {
    update control {
      &Auth-Type := Accept
    }
  }
  authenticate {
  }
  post-auth {
    ok_all
  }
}
EOF
	CMD=(freeradius -f -l stdout -d "$D/raddb") PROTO=udp PROG=freeradius WANT=Access-Accept
	WHY="binds with euid freerad and real uid root: issue 31 item 2"
}
cli_freeradius() { echo 'User-Name = sweep, User-Password = x' | radclient -r 1 -t 3 "$A:$R" auth sweepsecret 2>&1; }

srv_openvpn() {
	openvpn --genkey secret "$D/static.key" >/dev/null 2>&1
	CMD=(openvpn --dev null --proto udp --local 127.0.0.1 --lport "$P" --secret "$D/static.key" --cipher AES-256-CBC
		--ping 1 --user nobody --group nogroup --verb 3)
	PROTO=udp PROG=openvpn WANT="Peer Connection Initiated" WHY="switches to user nobody"
}
cli_openvpn() {
	timeout 8 openvpn --dev null --proto udp --remote "$A" "$R" --nobind --secret "$D/static.key" --cipher AES-256-CBC \
		--ping 1 --verb 3 2>&1 | grep -m1 -o "Peer Connection Initiated"
}

srv_chrony() {
	printf 'port %s\nbindaddress 127.0.0.1\ncmdport 0\nallow 127.0.0.0/8\nlocal stratum 10\npidfile %s/chronyd.pid\ndriftfile %s/drift\n' \
		"$P" "$D" "$D" >"$D/chrony.conf"
	CMD=(chronyd -d -x -u _chrony -f "$D/chrony.conf") PROTO=udp PROG=chronyd WANT="mode 4 stratum 10" WHY="switches to user _chrony"
}
# An SNTP request (mode 3); the server's answer is mode 4.
cli_chrony() {
	"$PY" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(b"\x23" + bytes(47), (sys.argv[1], int(sys.argv[2])))
d = s.recv(48); print("mode", d[0] & 7, "stratum", d[1])' "$A" "$R"
}

srv_coturn() {
	CMD=(turnserver -n --listening-ip=127.0.0.1 --listening-port="$P" --relay-ip=127.0.0.1 --no-tls --no-dtls --no-cli
		--log-file=stdout --pidfile="$D/turnserver.pid" --min-port=49152 --max-port=49200 --proc-user=turnserver --proc-group=turnserver)
	PROTO=udp PROG=turnserver WANT="binding success" WHY="switches to user turnserver"
}
# A STUN binding request; a binding success response is type 0x0101.
cli_coturn() {
	"$PY" -c 'import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(bytes.fromhex("000100002112a442") + os.urandom(12), (sys.argv[1], int(sys.argv[2])))
print("binding success" if s.recv(512)[:2] == b"\x01\x01" else "other")' "$A" "$R"
}

srv_snmpd() {
	printf 'rocommunity public 127.0.0.0/8\nsysLocation sweep room\n' >"$D/snmpd.conf"
	ENV=(SNMP_PERSISTENT_DIR="$D")
	CMD=(snmpd -f -Lo -C -c "$D/snmpd.conf" -p "$D/snmpd.pid" -u nobody "udp:127.0.0.1:$P") PROTO=udp PROG=snmpd WANT="sweep room" WHY="switches to user nobody"
}
cli_snmpd() { snmpget -v2c -c public -t 3 -r 0 "udp:$A:$R" 1.3.6.1.2.1.1.6.0 2>&1; }

tlscert() {
	[ -f "$D/tls.key" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$D/tls.key" -out "$D/tls.crt" -days 1 -subj /CN=localhost 2>/dev/null
	chmod 644 "$D/tls.key"
}
srv_stunnel() {
	tlscert
	printf 'foreground = yes\npid = %s/stunnel.pid\nsetuid = nobody\nsetgid = nogroup\n[sweep]\naccept = 127.0.0.1:%s\ncert = %s/tls.crt\nkey = %s/tls.key\nexec = /bin/echo\nexecArgs = echo stunnel here\n' \
		"$D" "$P" "$D" "$D" >"$D/stunnel.conf"
	CMD=(stunnel4 "$D/stunnel.conf") PROG=stunnel4 WANT="stunnel here" WHY="fork-execs a program per client, as user nobody"
}
cli_stunnel() { timeout 5 openssl s_client -quiet -connect "$A:$R" </dev/null 2>/dev/null; }

srv_openssl() {
	tlscert
	CMD=(openssl s_server -quiet -www -accept "127.0.0.1:$P" -cert "$D/tls.crt" -key "$D/tls.key") PROG=openssl WANT=s_server
}
cli_openssl() { printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -quiet -connect "$A:$R" 2>/dev/null | grep -o -m1 's_server'; }

srv_ncat() { CMD=(ncat -l 127.0.0.1 "$P" -k --sh-exec 'echo ncat here') PROG=ncat WANT="ncat here" WHY="fork-execs a shell per client"; }
# The client's end stays open a moment: ncat stops the command when it ends.
cli_ncat() { sleep 1 | timeout 5 socat -T 2 - "TCP:$A:$R" 2>/dev/null; }

srv_socat() { CMD=(socat "TCP-LISTEN:$P,bind=127.0.0.1,fork,reuseaddr" SYSTEM:'echo socat here') PROG=socat WANT="socat here" WHY="forks and execs a shell per client"; }
cli_socat() { timeout 5 socat -T 2 - "TCP:$A:$R" </dev/null 2>/dev/null; }

srv_iperf3() { CMD=(iperf3 -s -B 127.0.0.1 -p "$P") PROG=iperf3 WANT="iperf Done"; }
cli_iperf3() { timeout 10 iperf3 -c "$A" -p "$R" -n 64K 2>&1 | tail -n 1; }

srv_tor() {
	mkdir -p "$D/tor" && chmod 700 "$D/tor"
	printf 'SocksPort 127.0.0.1:%s\nDataDirectory %s/tor\nRunAsDaemon 0\nLog notice stdout\nClientOnly 1\nAvoidDiskWrites 1\n' "$P" "$D" >"$D/torrc"
	CMD=(tor -f "$D/torrc" --defaults-torrc /dev/null) PROG=tor WANT="Tor is not an HTTP Proxy"
}
cli_tor() { printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 socat -T 3 - "TCP:$A:$R" 2>/dev/null | head -n 1; }

srv_icecast2() {
	mkdir -p "$D/log"
	cat >"$D/icecast.xml" <<EOF
<icecast>
  <location>sweep</location>
  <authentication><source-password>sweep</source-password><admin-user>admin</admin-user><admin-password>sweep</admin-password></authentication>
  <listen-socket><port>$P</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths>
    <basedir>/usr/share/icecast2</basedir>
    <logdir>$D/log</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
    <pidfile>$D/icecast.pid</pidfile>
  </paths>
  <logging><errorlog>error.log</errorlog><accesslog>access.log</accesslog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot><changeowner><user>icecast2</user><group>icecast</group></changeowner></security>
</icecast>
EOF
	chmod 777 "$D/log"
	CMD=(icecast2 -c "$D/icecast.xml") PROG=icecast2 WANT=icestats WHY="switches to user icecast2"
}
cli_icecast2() { curl -s -m 5 "http://$A:$R/status-json.xsl" | head -c 100; }

srv_prosody() {
	mkdir -p "$D/data" && chmod 777 "$D/data"
	cat >"$D/prosody.cfg.lua" <<EOF
pidfile = "$D/prosody.pid"
data_path = "$D/data"
daemonize = false
log = { { levels = { min = "info" }, to = "console" } }
interfaces = { "127.0.0.1" }
c2s_ports = { $P }
s2s_ports = { }
c2s_direct_tls_ports = { }
http_ports = { }
https_ports = { }
modules_enabled = { "roster", "saslauth", "disco", "ping" }
modules_disabled = { "s2s", "http", "admin_shell", "posix" }
plugin_paths = { }
authentication = "internal_hashed"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
VirtualHost "sweep.test"
EOF
	CMD=(prosody --config "$D/prosody.cfg.lua" -F) PROG=lua5.4 WANT="stream:features"
}
# A stream header; the answer's features (prosody closes on a half-closed
# connection, so the client keeps its end open while it reads).
cli_prosody() {
	"$PY" -c 'import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"<?xml version=\"1.0\"?><stream:stream to=\"sweep.test\" xmlns=\"jabber:client\" "
          b"xmlns:stream=\"http://etherx.jabber.org/streams\" version=\"1.0\">")
d, end = b"", time.time() + 5
while b"</stream:features>" not in d and time.time() < end:
    c = s.recv(4096)
    if not c:
        break
    d += c
print(d.decode()[:300])' "$A" "$R"
}

srv_ngircd() {
	printf '[Global]\nName = irc.sweep.test\nInfo = sweep\nListen = 127.0.0.1\nPorts = %s\nPidFile = %s/ngircd.pid\nServerUID = nobody\nServerGID = nogroup\n[Options]\nPAM = no\nIdent = no\nDNS = no\n' \
		"$P" "$D" >"$D/ngircd.conf"
	CMD=(ngircd -n -f "$D/ngircd.conf") PROG=ngircd WANT="Welcome to the Internet Relay Network" WHY="switches to user nobody"
}
cli_ngircd() { printf 'NICK sweep\r\nUSER sweep 0 * :sweep\r\n' | timeout 5 socat -T 2 - "TCP:$A:$R" 2>/dev/null | head -n 3; }

# ---- the runner ---------------------------------------------------------------
# sweep_listening PROTO ADDR PORT: something listens there, asked of the kernel.
sweep_listening() {
	local opt=-Hltn
	[ "$1" = udp ] && opt=-Hlun
	[ -n "$(ss "$opt" "src $2 and sport = :$3" 2>/dev/null)" ]
}

sweep_gone() { ! sweep_listening "$@"; }

# sweep_one NAME: server NAME under `libreuse run`, its bind moved from
# 127.0.0.1:$P to $A:$R; prints its ok/not ok lines.
sweep_one() {
	local name=$1 D=$T/sweep/$1 A=127.0.0.2 P R CMD=() ENV=() PROTO=tcp PROG= WANT= WAIT=20 WHY= pid i got moved= audited= left=
	P=$(free_port)
	R=$(free_port)
	while [ "$R" = "$P" ]; do R=$(free_port); done
	mkdir -p "$D" && chmod 777 "$D"
	srv_"$name" >"$D/prepare.out" 2>&1
	rules "$D/rule.conf" "rules = ( { match = { port = $P; }; rewrite = \"$A:$R\"; } );"
	# Writable by the user a server switches to, who may open it first.
	: >"$D/audit.log"
	chmod 666 "$D/audit.log"
	# A session of its own: stopping it stops every process it started
	# that stayed in it.
	env "${ENV[@]}" setsid "$CLI" run -c "$D/rule.conf" --log all --log-file "$D/audit.log" -- "${CMD[@]}" \
		>"$D/server.out" 2>"$D/server.err" </dev/null &
	pid=$!
	for i in $(seq $((WAIT * 10))); do
		sweep_listening "$PROTO" "$A" "$R" && break
		# Listening where it asked: the rule did not reach it.
		sweep_listening "$PROTO" 127.0.0.1 "$P" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	sweep_listening "$PROTO" "$A" "$R" && ! sweep_listening "$PROTO" 127.0.0.1 "$P" && moved=yes
	got=$(cli_"$name" 2>&1 | head -c 400 | tr -cd '[:print:]\n\t' | tr -s '\n\r\t' '   ')
	kill -TERM -- "-$pid" 2>/dev/null
	for i in $(seq 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	check "$name${WHY:+ ($WHY)}: listens on $A:$R ($PROTO), where the rule moved its 127.0.0.1:$P" test -n "$moved"
	[ -n "$moved" ] || tail -n 4 "$D/server.err" "$D/server.out" 2>/dev/null | sed 's/^/#   /'
	check "...answers there: ${got:0:100}" grep -qF -- "$WANT" <<<"$got"
	audited=
	# The decision, then the outcome.
	grep -qE -- "\]: $PROG: bind $PROTO 127\.0\.0\.1:$P -> $A:$R: rewrite" "$D/audit.log" &&
		grep -qE -- "\]: $PROG: bind $PROTO 127\.0\.0\.1:$P \(used $A:$R\) ok" "$D/audit.log" && audited=yes
	check "...audited: '$PROG: bind $PROTO 127.0.0.1:$P -> $A:$R: rewrite' and '(used $A:$R) ok' in its --log all file" test -n "$audited"
	[ -n "$audited" ] || grep -E "bind|libreuse:" "$D/audit.log" "$D/server.err" | head -n 3 | sed 's/^/#   /'
	# Anything still running from its directory (a process that left the
	# session), given a moment to finish dying.
	for i in $(seq 20); do
		left=$(pgrep -f -- "$D/" | grep -vx "$BASHPID")
		[ -z "$left" ] && break
		sleep 0.1
	done
	check "...stopped: nothing left listening there, no process of its own left${left:+ (left: $(ps -o comm= -p "${left//$'\n'/,}" | tr '\n' ' '))}" \
		eval 'sweep_gone "$PROTO" "$A" "$R" && [ -z "$left" ]'
	[ -z "$left" ] || kill -KILL $left 2>/dev/null
}

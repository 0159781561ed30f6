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
#   WAIT   seconds the server gets to listen (slow starters say more);
#   WHY    optional: what the program does that libreuse must survive.
# cli_NAME asks the server at $A:$R and prints its answer.
#
# Programs from issue 31's list that are not here, and why:
#   postfix, opensmtpd: each conflicts with exim4 (Debian lets one MTA be
#     installed), and exim4 is the one that clears its environment;
#   proftpd: conflicts with vsftpd (ftp-server), which is here;
#   ntpsec: conflicts with chrony (time-daemon), which is here;
#   rabbitmq, ejabberd: an Erlang VM that starts in 5-10 s on two shared
#     cores; the sweep's 90 s budget goes to more programs instead.

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
	CMD=(pdns_recursor --config-dir="$D") PROTO=udp PROG=pdns_recursor WANT=10.1.2.3 WAIT=15
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
	PROG=varnishd WANT=varnish WAIT=20 WHY="a manager that forks the child, which switches to user vcache"
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
	CMD=(squid -N -f "$D/squid.conf") PROG=squid WANT=squid WAIT=20 WHY="switches to user proxy"
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
	WHY="a static child of a dynamic shell (fails until issue 31 item 5 lands)"
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
	local name=$1 D=$T/sweep/$1 A=127.0.0.2 P R CMD=() ENV=() PROTO=tcp PROG= WANT= WAIT=10 WHY= pid i got moved= audited=
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
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	sweep_listening "$PROTO" "$A" "$R" && ! sweep_listening "$PROTO" 127.0.0.1 "$P" && moved=yes
	got=$(cli_"$name" 2>&1 | head -c 400 | tr -d "\0" | tr -s '\n\r\t' '   ')
	kill -TERM -- "-$pid" 2>/dev/null
	for i in $(seq 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL -- "-$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	check "$name${WHY:+ ($WHY)}: listens on $A:$R ($PROTO), where the rule moved its 127.0.0.1:$P" test -n "$moved"
	[ -n "$moved" ] || tail -n 4 "$D/server.err" "$D/server.out" 2>/dev/null | sed 's/^/#   /'
	check "...answers there: ${got:0:100}" grep -qF -- "$WANT" <<<"$got"
	audited=
	grep -qE -- "\]: $PROG: bind $PROTO 127\.0\.0\.1:$P -> $A:$R: rewrite" "$D/audit.log" && audited=yes
	check "...audited: '$PROG: bind $PROTO 127.0.0.1:$P -> $A:$R: rewrite' in its --log all file" test -n "$audited"
	[ -n "$audited" ] || grep -E "bind|libreuse:" "$D/audit.log" "$D/server.err" | head -n 3 | sed 's/^/#   /'
	check "...stopped, nothing left listening there" sweep_gone "$PROTO" "$A" "$R"
}

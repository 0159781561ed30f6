#!/usr/bin/env bash
# Secure execution (AT_SECURE): a set-user-ID program run by an unprivileged
# user ignores LIBREUSE_CONFIG and LIBREUSE_RULES; only the system rule file
# applies. Also a system-wide install (/etc/ld.so.preload) whose rules name
# one program changes nothing for any other. All of it in a private mount
# namespace over copies: the machine's own /etc is never touched.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null || ! command -v setpriv >/dev/null; then
	ok "# SKIP needs root, unshare -m and setpriv"
	exit 0
fi
SYSCONF=$(make -s -C "$ROOT" print-sysconfdir)
P=$(free_port)
Q=$(free_port)

cp "$LIB" "$T/libreuse.so"
chmod 644 "$T/libreuse.so"
# Beside it, as in a build tree: the command the library runs to compile.
cp "$BUILD/libreuse" "$T/libreuse"
chmod 755 "$T/libreuse"
mkdir -p "$T/sysconf" "$T/plain"
cat >"$T/sysconf/libreuse.conf" <<CONF
rules = ( { match = { program = "suidprobe"; port = $P; }; deny = "EPERM"; } );
CONF
rules "$T/user.conf" "rules = ( { match = { port = $P; }; rewrite = \"127.0.0.1:$Q\"; } );"
chmod 644 "$T/user.conf" "$T/sysconf/libreuse.conf"
cp "$HELPERS/bindprobe" "$T/suidprobe"
chown root:root "$T/suidprobe"
chmod 4755 "$T/suidprobe"
cp "$HELPERS/bindprobe" "$T/plain/suidprobe"
cp "$HELPERS/bindprobe" "$T/plain/otherprobe"
chmod 755 "$T/plain" "$T/plain/suidprobe" "$T/plain/otherprobe"

cat >"$T/inside.sh" <<INSIDE
set -e
mkdir -p "$SYSCONF"
cp -a /etc "$T/etc"
echo "$(preload | tr ':' ' ' | sed "s|$LIB|$T/libreuse.so|")" >"$T/etc/ld.so.preload"
mount --bind "$T/etc" /etc
mount --bind "$T/sysconf" "$SYSCONF"
# Root's table cache (/run/libreuse) stays inside the namespace.
mount -t tmpfs tmpfs /run
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "\$@"; }
as_nobody env LIBREUSE_CONFIG="$T/user.conf" LIBREUSE_RULES='rules = ( { match = { port = $P; }; rewrite = ":$Q"; } );' \
	"$T/suidprobe" $P >"$T/suid.out" 2>"$T/suid.err" || true
as_nobody env LIBREUSE_CONFIG="$T/user.conf" "$T/plain/suidprobe" $P >"$T/plainuser.out" 2>&1 || true
as_nobody "$T/plain/suidprobe" $P >"$T/plainsys.out" 2>&1 || true
as_nobody "$T/plain/otherprobe" $P >"$T/other.out" 2>"$T/other.err" || true
INSIDE
unshare -m --propagation private bash "$T/inside.sh" 2>"$T/inside.err"
check "the namespace set-up worked" test ! -s "$T/inside.err"
check "set-user-ID run by nobody: the system rule applies (EPERM)" grep -qx -- "-1 EPERM" "$T/suid.out"
check "...and LIBREUSE_CONFIG / LIBREUSE_RULES from the caller are ignored" test ! -s "$T/suid.err"
check "the same program without set-user-ID follows the caller's LIBREUSE_CONFIG" \
	grep -qx "ok 127.0.0.1 $Q" "$T/plainuser.out"
check "...and with no variables, the system rule file" grep -qx -- "-1 EPERM" "$T/plainsys.out"
check "a program the system rules do not name is unchanged" grep -qx "ok 127.0.0.1 $P" "$T/other.out"
check "...and libreuse says nothing in it" test ! -s "$T/other.err"
check "the machine's own /etc/ld.so.preload was never created" test ! -e /etc/ld.so.preload

# Sourced by the container checks (boot.sh, audit.sh) after setting
# CHECK_NAME: their ok/not ok lines and counts, "skipped" in one line, and
# what every container boot needs.
passed=0
failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
not_ok() {
	echo "not ok - $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/    /'
	failed=$((failed + 1))
}
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what" "failed: $*"; fi
}
skip() {
	echo "$CHECK_NAME: skipped: $*"
	exit 0
}

[ "$(id -u)" = 0 ] || skip "a container needs root"
command -v systemd-nspawn >/dev/null || skip "no systemd-nspawn (make systemd-deps installs systemd-container)"
[ -d /run/systemd/system ] || [ -x /lib/systemd/systemd ] || skip "no systemd on this machine"

#!/usr/bin/env bash
# make check-arm64, its first half: the library's unit tests and the
# integration tests of the library that make sense there, run under
# qemu-user (qemu-aarch64-static, through binfmt_misc) in a chroot of the
# arm64 root (tests/arm64/root.sh), against what make ARCH=arm64 built:
# every program in them, python3 and socat too, is arm64. The supervisor's
# and the keeper's tests are not here: qemu-user passes no seccomp filter
# or pidfd call through as a kernel would (tests/arm64/vm.sh runs them).
# Not those that ask sock_diag (ss, the holders' netlink path: qemu-user
# refuses that netlink family), nor the long ones: vm.sh runs some.
# Prints the runner's lines and "N passed, N failed"; one line "skipped"
# where it cannot run.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${LIBREUSE_BUILD:-$ROOT/build/arm64}
R=$ROOT/build/arm64-root
TESTS=${LIBREUSE_USER_TESTS:-"t_rewrite.sh t_force.sh t_passthrough.sh t_fdstate.sh t_secure.sh"}
. "$ROOT/tests/arm64/binfmt.sh"

skip() {
	echo "check-arm64 (qemu-user): skipped: $*"
	exit 0
}
[ "$(id -u)" = 0 ] || skip "chroot and binfmt_misc need root"
[ -e "$R/.complete" ] || skip "no arm64 root (make arm64-deps builds it)"
command -v unshare >/dev/null || skip "no unshare"
binfmt_on || skip "$BINFMT_WHY"
trap binfmt_off EXIT

# Every unit test but test_holders: qemu-user opens no netlink socket of
# the sock_diag family (only route, audit, uevent), so it runs in the VM.
UNITS=$(ls "$BUILD"/tests/test_* | grep -v '/test_holders$' | tr '\n' ' ')

# The chroot's mounts in a mount namespace of its own: nothing stays
# mounted after, whatever happens to the run.
mkdir -p "$R$ROOT"
unshare -m --propagation private bash -c '
	R=$1 ROOT=$2 BUILD=$3 TESTS=$4 UNITS=$5
	mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" &&
		mount -t tmpfs -o mode=1777 tmp "$R/tmp" && mount -t tmpfs -o mode=755 run "$R/run" &&
		mount --bind "$ROOT" "$R$ROOT" && mount -o remount,bind,ro "$R$ROOT" || exit 1
	# LIBREUSE_PRECOMPILE: qemu-user emulates no clone whose exit signal
	# is not SIGCHLD, so the library cannot start its rule compiler
	# there; tests/lib.sh compiles the table first, as `libreuse run` does.
	chroot "$R" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		TMPDIR=/tmp LIBREUSE_BUILD="$BUILD" LIBREUSE_TESTS="$TESTS" LIBREUSE_PRECOMPILE=1 \
		/bin/bash -c "cd \"$ROOT\" && tests/run.sh $UNITS"
' user.sh "$R" "$ROOT" "$BUILD" "$TESTS" "$UNITS"

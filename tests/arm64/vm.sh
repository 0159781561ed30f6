#!/usr/bin/env bash
# make check-arm64, its second half: Debian 12's own arm64 kernel under
# qemu-system-aarch64 (TCG), with build/arm64-root (tests/arm64/root.sh) as
# its root over 9p and this tree at its own path, runs the supervisor's,
# the keeper's and the probes' tests, and a few of the library's, as built
# by make ARCH=arm64. Prints the VM's `uname -r -m` and the runner's "N
# passed, N failed"; exit 0 only when the tests ran and none failed.
# Bounded: LIBREUSE_VM_SECONDS (420) for the whole boot; no VM outlives
# this script. One line "skipped" where it cannot run.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${LIBREUSE_BUILD:-$ROOT/build/arm64}
R=$ROOT/build/arm64-root
K=$ROOT/build/arm64-kernel
SECONDS_MAX=${LIBREUSE_VM_SECONDS:-420}
# The probes (the supervisor and the keeper on this kernel, and each
# feature failed on purpose, with Go servers sharing a port under the
# supervisor and a keeper's restarts) and a deny, about 160 s there. Not
# t_seccomp (280 s there) nor t_keep_edges (240 s), nor t_source (its
# clients' 3 s window is too short under emulation): LIBREUSE_VM_TESTS
# names others.
TESTS=${LIBREUSE_VM_TESTS:-"t_kernel_probes.sh t_deny.sh"}
# The unit test qemu-user cannot run (sock_diag).
UNITS=${LIBREUSE_VM_UNITS:-"$BUILD/tests/test_holders"}

NAME="check-arm64 (arm64 kernel)"
. "$ROOT/tests/vmboot.sh"
skip() {
	echo "check-arm64 (arm64 kernel): skipped: $*"
	exit 0
}
[ "$(id -u)" = 0 ] || skip "sharing the arm64 root into a VM needs root"
command -v qemu-system-aarch64 >/dev/null || skip "no qemu-system-aarch64 (make arm64-deps installs qemu-system-arm)"
[ -e "$R/.complete" ] && [ -s "$K/vmlinuz" ] || skip "no arm64 root or kernel (make arm64-deps builds them)"
[ -x "$R/bin/busybox" ] || skip "no busybox in the arm64 root"
command -v cpio >/dev/null || skip "no cpio (make arm64-deps)"
ver=$(cat "$K/version")

# A small initramfs: the arm64 root's busybox and the modules the 9p root
# needs, and sock_diag's TCP and UDP halves, which Debian builds as modules
# and a root without this kernel's modules cannot load on demand (the
# holders' netlink path, `ss`).
vm_initrd "$ver" "$R/bin/busybox" "$ROOT/tests/arm64/init" "virtio_pci 9pnet_virtio 9p tcp_diag udp_diag"

# Where the tree is mounted inside; the scratch the guest writes its
# results to; the tests it is to run.
mkdir -p "$R$ROOT"
S=$K/scratch
rm -rf "$S" && mkdir -p "$S"
cat >"$S/job" <<JOB
ROOT=$ROOT
BUILD=$BUILD
TESTS="$TESTS"
UNITS="$UNITS"
JOB

start=$(date +%s)
# cortex-a57 rather than max: pointer authentication emulated costs much
# under TCG, and 6.1 needs nothing newer.
timeout --kill-after=5 "$SECONDS_MAX" qemu-system-aarch64 -M virt -cpu cortex-a57 -accel tcg,thread=multi \
	-m 2048 -smp 2 -nographic -no-reboot -nodefaults -serial stdio \
	-kernel "$K/vmlinuz" -initrd "$K/initrd.gz" \
	-append "console=ttyAMA0 panic=-1 quiet" \
	-virtfs local,path="$R",mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$ROOT",mount_tag=tree,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$S",mount_tag=scratch,security_model=none,multidevs=remap \
	>"$K/console.log" 2>&1 </dev/null
rc=$?
echo "check-arm64 (arm64 kernel): TCG, $(($(date +%s) - start)) s; console in build/arm64-kernel/console.log"
vm_result "$rc" "$SECONDS_MAX" "uname -r -m"

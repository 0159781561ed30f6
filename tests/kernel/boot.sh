#!/usr/bin/env bash
# make check-kernel: boots Debian 12's own kernel (6.1) under qemu, with this
# machine's file system shared into the VM read-only over 9p and a writable
# scratch beside it, and runs the keeper's, the supervisor's and the
# library's integration tests there, as built here. Prints the VM's
# `uname -r` and the runner's "N passed, N failed"; exit 0 only when the
# tests ran and none failed. KVM where a guest boots under it, emulation
# (TCG) otherwise. Bounded: LIBREUSE_VM_SECONDS (600) for the whole boot,
# and no VM outlives this script.
#
# Where qemu or the kernel package cannot be had, or the host cannot share
# its root (not root), one line says "skipped" and the exit is 0: the
# target's absence is said, not failed.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${LIBREUSE_BUILD:-$ROOT/build}
K=$ROOT/build/kernel
SECONDS_MAX=${LIBREUSE_VM_SECONDS:-600}
# What runs inside, each fallback for what 6.1 lacks among them: the probes
# (the real kernel's, and each one failed on purpose), the supervisor, the
# keeper's edges, systemd's sockets, every x86 ABI, a deny. About 330 s
# under emulation here. Not t_keep (225 s there alone) nor t_keep_hostile
# (its bounds are in milliseconds), not the package (it installs), not the
# daemons from Debian: LIBREUSE_VM_TESTS names others.
TESTS=${LIBREUSE_VM_TESTS:-"t_kernel_probes.sh t_keep_edges.sh t_keep_systemd.sh t_abi.sh t_seccomp.sh t_deny.sh"}

NAME=check-kernel
. "$ROOT/tests/vmboot.sh"
skip() {
	echo "check-kernel: skipped: $*"
	exit 0
}
[ "$(id -u)" = 0 ] || skip "sharing this machine's root into a VM needs root"
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64 (make kernel-deps installs qemu-system-x86)"
[ "$(uname -m)" = x86_64 ] || skip "the VM is an x86-64 one; this machine is $(uname -m)"

mkdir -p "$K"
# Debian 12's kernel, unpacked, not installed: the newest 6.1 the registry
# has (its 9p modules are in the generic flavour, not -cloud-).
if [ ! -s "$K/vmlinuz" ]; then
	pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{ print $1 }' | sort -V | tail -1)
	[ -n "$pkg" ] || skip "the registry has no linux-image-6.1.0-*-amd64"
	rm -rf "$K/pkg" && mkdir -p "$K/pkg"
	(cd "$K" && apt-get download "$pkg" >/dev/null 2>&1) || skip "apt-get download $pkg failed"
	dpkg-deb -x "$K"/"$pkg"_*.deb "$K/pkg" || skip "cannot unpack $pkg"
	ver=$(ls "$K/pkg/lib/modules" | head -1)
	cp "$K/pkg/boot/vmlinuz-$ver" "$K/vmlinuz"
	echo "$ver" >"$K/version"
	rm -f "$K"/"$pkg"_*.deb
fi
ver=$(cat "$K/version")

# A small initramfs: busybox and the modules the 9p root needs.
[ -x /bin/busybox ] || skip "no /bin/busybox (busybox-static, from make deps)"
vm_initrd "$ver" /bin/busybox "$ROOT/tests/kernel/init" "virtio_pci 9pnet_virtio 9p"

# The scratch the guest writes its results to; the tests it is to run.
S=$K/scratch
rm -rf "$S" && mkdir -p "$S"
cat >"$S/job" <<EOF
ROOT=$ROOT
BUILD=$BUILD
TESTS="$TESTS"
EOF

boot() { # ACCEL SECONDS LOG
	timeout --kill-after=5 "$2" qemu-system-x86_64 -accel "$1" $([ "$1" = kvm ] && echo -cpu host,-arch-capabilities) \
		-m 2048 -smp 2 -nographic -no-reboot -nodefaults -serial stdio \
		-kernel "$K/vmlinuz" -initrd "$K/initrd.gz" \
		-append "console=ttyS0 panic=-1 quiet" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs local,path="$S",mount_tag=scratch,security_model=none,multidevs=remap \
		>"$3" 2>&1 </dev/null
}

accel=tcg
if [ -w /dev/kvm ]; then
	# A KVM guest that prints nothing has stalled (seen here): 20 s to
	# reach the initramfs, else emulation.
	boot kvm 20 "$K/kvm.log"
	grep -q "libreuse-vm: init" "$K/kvm.log" && accel=kvm
fi
start=$(date +%s)
if [ "$accel" = kvm ] && grep -q "libreuse-vm: done" "$K/kvm.log"; then
	cp "$K/kvm.log" "$K/console.log" # it finished within the probe
else
	[ "$accel" = kvm ] && rm -rf "$S/result" "$S/uname"
	boot "$accel" "$SECONDS_MAX" "$K/console.log"
fi
rc=$?
echo "check-kernel: accel $accel, $(($(date +%s) - start)) s; console in build/kernel/console.log"
vm_result "$rc" "$SECONDS_MAX" "uname -r"

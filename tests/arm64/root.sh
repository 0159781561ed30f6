#!/usr/bin/env bash
# make arm64-root: an arm64 Debian 12 userland in build/arm64-root, for
# make check-arm64 (the library's tests under qemu-user in a chroot of it,
# the supervisor's inside an arm64 kernel with it as the root). Built once
# with debootstrap, its second stage run through qemu-user; nothing of it is
# installed on this machine. The kernel package is downloaded (not
# installed) into it, and unpacked beside it in build/arm64-kernel. Where
# any of it cannot be had, one line says "skipped" (and check-arm64's
# halves then skip too).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# Kept outside the checkout, so that a fresh clone on the same machine (CI's)
# does not build it again (about 10 minutes); build/ links to it.
CACHE=${LIBREUSE_ARM64_CACHE:-/var/cache/libreuse-tests}
R=$CACHE/arm64-root
K=$CACHE/arm64-kernel
mkdir -p "$CACHE" "$ROOT/build"
# The archive this machine's apt uses (deb822 .sources or sources.list),
# its bookworm suite: the same registry make deps installs from.
apt_mirror() {
	{
		awk '/^URIs:/ { u = $2 } /^Suites:/ && / bookworm( |$)/ && u { print u; exit }' \
			/etc/apt/sources.list.d/*.sources 2>/dev/null
		awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
	} | head -1
}
MIRROR=${LIBREUSE_DEBIAN_MIRROR:-$(apt_mirror)}
# What the tests use, as on x86-64 (make deps), that exists for arm64.
PKGS=python3,socat,iproute2,procps,busybox-static,netcat-openbsd,libconfig9,libcmocka0,psmisc,curl,ca-certificates
. "$ROOT/tests/arm64/binfmt.sh"

skip() {
	echo "arm64-root: skipped: $*"
	exit 0
}
[ "$(id -u)" = 0 ] || skip "debootstrap and binfmt_misc need root"
command -v debootstrap >/dev/null || skip "no debootstrap (make arm64-deps)"
binfmt_on || skip "$BINFMT_WHY"
trap binfmt_off EXIT

if [ ! -e "$R/.complete" ]; then
	[ -n "$MIRROR" ] || skip "apt's sources name no bookworm archive"
	rm -rf --one-file-system "$R"
	debootstrap --arch=arm64 --variant=minbase --foreign --include="$PKGS" bookworm "$R" "$MIRROR" ||
		{ rm -rf --one-file-system "$R"; skip "debootstrap (first stage) failed: the mirror serves no arm64 bookworm here?"; }
	chroot "$R" /debootstrap/debootstrap --second-stage ||
		{ rm -rf --one-file-system "$R"; skip "debootstrap (second stage, under qemu-user) failed"; }
	touch "$R/.complete"
fi

# Debian 12's arm64 kernel, unpacked, not installed: the newest 6.1.
if [ ! -s "$K/vmlinuz" ]; then
	rm -rf "$K" && mkdir -p "$K/pkg"
	mount --bind /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null
	pkg=$(chroot "$R" sh -c 'apt-get update -qq >/dev/null 2>&1; apt-cache search --names-only "^linux-image-6\.1\.0-[0-9]+-arm64$"' |
		awk '{ print $1 }' | sort -V | tail -1)
	[ -n "$pkg" ] && chroot "$R" sh -c "cd /tmp && apt-get download $pkg >/dev/null 2>&1"
	umount "$R/etc/resolv.conf" 2>/dev/null
	[ -n "$pkg" ] && dpkg-deb -x "$R"/tmp/"$pkg"_*.deb "$K/pkg" || { rm -rf "$K"; skip "no arm64 kernel package could be had (${pkg:-none found})"; }
	rm -f "$R"/tmp/"$pkg"_*.deb
	ver=$(ls "$K/pkg/lib/modules" | head -1)
	cp "$K/pkg/boot/vmlinuz-$ver" "$K/vmlinuz"
	echo "$ver" >"$K/version"
fi
for d in arm64-root arm64-kernel; do
	# A tree built here by an earlier version of this script gives way.
	[ -L "$ROOT/build/$d" ] || rm -rf --one-file-system "${ROOT:?}/build/$d"
done
ln -sfn "$R" "$ROOT/build/arm64-root"
ln -sfn "$K" "$ROOT/build/arm64-kernel"
echo "arm64-root: $R ($(cat "$R/etc/debian_version")), kernel $(cat "$K/version")"

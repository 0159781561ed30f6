# Sourced by the checks that boot a Debian kernel under qemu (make
# check-kernel: tests/kernel/boot.sh; make check-arm64: tests/arm64/vm.sh):
# what they share, the initramfs that mounts the root over 9p and the
# reading of what the guest left in its scratch. Each sets NAME (its
# target's name in what it prints), K (its build folder) and S (the
# scratch) before calling these.

# vm_initrd VERSION BUSYBOX INIT "MODULES": $K/initrd.gz, made again when
# INIT or the calling script is newer: BUSYBOX as /bin/busybox, INIT as
# /init, and each module of $K/pkg/lib/modules/VERSION named, after what it
# depends on (the .ko's own modinfo "depends=").
vm_initrd() {
	local ver=$1 busybox=$2 init=$3 want=$4 m
	if [ -s "$K/initrd.gz" ] && [ ! "$init" -nt "$K/initrd.gz" ] && [ ! "$0" -nt "$K/initrd.gz" ]; then
		return 0
	fi
	rm -rf "$K/initrd" && mkdir -p "$K/initrd"/{bin,proc,sys,dev,newroot,mods}
	cp "$busybox" "$K/initrd/bin/busybox"
	cp "$init" "$K/initrd/init"
	chmod +x "$K/initrd/init"
	: >"$K/initrd/mods/order"
	for m in $want; do vm_add_mod "$ver" "$m"; done
	(cd "$K/initrd" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$K/initrd.gz"
}

vm_add_mod() { # VERSION MODULE
	local ver=$1 m=$2 f d
	grep -qx "$m" "$K/initrd/mods/order" && return
	f=$(find "$K/pkg/lib/modules/$ver" -name "$m.ko" -o -name "$m.ko.xz" | head -1)
	[ -n "$f" ] || return 0 # built in
	for d in $(strings -a "$f" | sed -n 's/^depends=//p' | tr , ' '); do vm_add_mod "$ver" "$d"; done
	case $f in
	*.xz) xz -dc "$f" >"$K/initrd/mods/$m.ko" ;;
	*) cp "$f" "$K/initrd/mods/$m.ko" ;;
	esac
	echo "$m" >>"$K/initrd/mods/order"
}

# vm_result QEMU_STATUS SECONDS_MAX UNAME_LABEL: what the guest left in $S,
# said; 0 only when its tests ran and none failed.
vm_result() {
	local rc=$1 max=$2 label=$3
	if [ ! -s "$S/uname" ]; then
		echo "$NAME: the VM did not reach its tests (qemu exit $rc):"
		tail -20 "$K/console.log" | sed 's/^/    /'
		return 1
	fi
	echo "VM $label: $(cat "$S/uname")"
	if [ ! -s "$S/result" ]; then
		echo "$NAME: the tests did not finish within ${max} s:"
		tail -30 "$K/console.log" | sed 's/^/    /'
		return 1
	fi
	cat "$S/result"
	tail -1 "$S/result" | grep -qE '^[0-9]+ passed, 0 failed$'
}

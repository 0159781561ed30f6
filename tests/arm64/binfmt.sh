# Sourced by the arm64 scripts: arm64 programs run on this x86-64 machine
# through qemu-user, by a binfmt_misc entry of our own, made for the run and
# taken away at its end (binfmt_on / binfmt_off). An entry already there for
# aarch64 (qemu-user-binfmt's, a system's own) is used and left alone.
# Flags: F, the interpreter opened now, so it works inside a chroot; P,
# argv[0] kept (busybox's applets are named by it).
BINFMT=/proc/sys/fs/binfmt_misc
BINFMT_NAME=libreuse-aarch64
BINFMT_OURS=
QEMU_USER=/usr/bin/qemu-aarch64-static

# binfmt_on: succeeds when arm64 programs run here; says why not in
# BINFMT_WHY otherwise. Not in a subshell: binfmt_off needs BINFMT_OURS.
BINFMT_WHY=
binfmt_on() {
	local e
	for e in "$BINFMT"/*; do
		[ -f "$e" ] && grep -q '^magic 7f454c460201010000000000000000000200b700' "$e" 2>/dev/null &&
			grep -q '^enabled' "$e" && return 0
	done
	[ -x "$QEMU_USER" ] || { BINFMT_WHY="no $QEMU_USER (make arm64-deps installs qemu-user-static)"; return 1; }
	[ -e "$BINFMT/register" ] || mount -t binfmt_misc binfmt_misc "$BINFMT" 2>/dev/null ||
		{ BINFMT_WHY="binfmt_misc cannot be mounted here"; return 1; }
	printf ':%s:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:%s:PF\n' \
		"$BINFMT_NAME" "$QEMU_USER" >"$BINFMT/register" 2>/dev/null ||
		{ BINFMT_WHY="cannot register a binfmt_misc entry (not root, or a container)"; return 1; }
	BINFMT_OURS=yes
}

binfmt_off() {
	[ -n "$BINFMT_OURS" ] && echo -1 >"$BINFMT/$BINFMT_NAME" 2>/dev/null
	BINFMT_OURS=
	return 0
}

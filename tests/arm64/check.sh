#!/usr/bin/env bash
# make check-arm64: tests/arm64/user.sh (the library under qemu-user), then
# tests/arm64/vm.sh (the supervisor, the keeper and the probes in Debian's
# arm64 kernel). Exit 0 when neither failed (a half that cannot run says
# "skipped" and is not a failure).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
rc=0
timeout --kill-after=5 220 "$ROOT/tests/arm64/user.sh" || { echo "check-arm64 (qemu-user): failed or timed out"; rc=1; }
LIBREUSE_VM_SECONDS=${LIBREUSE_VM_SECONDS:-420} "$ROOT/tests/arm64/vm.sh" || rc=1
exit $rc

#!/usr/bin/env bash
# The demos are self-checking; running them here keeps them from rotting.
. "$(dirname "$0")/../lib.sh"
for d in "$ROOT"/demo/[0-9][0-9]-*.sh; do
	LIBREUSE_BUILD=$BUILD bash "$d" >"$T/demo.out" 2>&1
	rc=$?
	if [ $rc = 0 ] && tail -1 "$T/demo.out" | grep -q '^PASS$'; then
		ok "demo $(basename "$d") shows what it claims"
	else
		not_ok "demo $(basename "$d") (exit $rc)" "$(tail -5 "$T/demo.out")"
	fi
done

#!/usr/bin/env bash
# Runs every demo; exits non-zero if any did not show what it claims.
cd "$(dirname "$0")/.." || exit 1
failed=0
for d in demo/[0-9][0-9]-*.sh; do
	bash "$d" || failed=$((failed + 1))
	echo
done
[ "$failed" -eq 0 ] && echo "all demos passed" || echo "$failed demo(s) FAILED"
[ "$failed" -eq 0 ]

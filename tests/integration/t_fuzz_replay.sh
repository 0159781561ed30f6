#!/usr/bin/env bash
# The fuzz targets, replayed without libFuzzer over their seeds and every
# input a fuzzer once found (tests/fuzz/regressions): a crash found stays a
# test. Under SANITIZE the replay binaries carry the sanitizers too.
. "$(dirname "$0")/../lib.sh"
out=$("$BUILD/fuzz/replay_config" "$ROOT/config" "$ROOT/tests/fuzz/regressions/config" 2>&1)
check "fuzz_config replays its seeds and regressions ($out)" test $? = 0 -a -n "$(grep -E '^replayed [1-9]' <<<"$out")"
out=$("$BUILD/fuzz/replay_addr" "$ROOT/tests/fuzz/seeds-addr" "$ROOT/tests/fuzz/regressions/addr" 2>&1)
check "fuzz_addr replays its seeds and regressions ($out)" test $? = 0 -a -n "$(grep -E '^replayed [1-9]' <<<"$out")"
# Table images: the example rule files compiled as the helper gives them,
# and every damaged image a fuzzer or a review found.
mkdir -p "$T/seeds-table"
for f in "$ROOT"/config/*.conf; do
	LIBREUSE_CONFIG=$f "$CLI" compile --helper >"$T/seeds-table/$(basename "$f" .conf)"
done
out=$("$BUILD/fuzz/replay_table" "$T/seeds-table" "$ROOT/tests/fuzz/regressions/table" 2>&1)
check "fuzz_table replays the example tables and its regressions ($out)" test $? = 0 -a -n "$(grep -E '^replayed [1-9]' <<<"$out")"

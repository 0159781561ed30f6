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
	"$CLI" compile --helper --stdin -c "$f" <"$f" >"$T/seeds-table/$(basename "$f" .conf)"
done
# Each a table image (the helper's answer begins with its magic), not the
# helper's words about a rule file it was not given.
notimg=$(for f in "$T"/seeds-table/*; do [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177LRT' ] || basename "$f"; done)
check "the example rule files compiled into table images (not: ${notimg:-none})" test -z "$notimg"
out=$("$BUILD/fuzz/replay_table" "$T/seeds-table" "$ROOT/tests/fuzz/regressions/table" 2>&1)
check "fuzz_table replays the example tables and its regressions ($out)" test $? = 0 -a -n "$(grep -E '^replayed [1-9]' <<<"$out")"

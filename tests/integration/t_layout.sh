#!/usr/bin/env bash
# The tree is as the README's layout table says (every folder and file it
# names exists; every source folder is named), and libreuse.so holds only
# what runs in the host: it exports the hooks of its version script and
# nothing else, and carries none of the compiler (the rule file's parser,
# the table writer, the cache writer), which runs in the command alone.
. "$(dirname "$0")/../lib.sh"

# --- the README's layout table ---
table=$(sed -n '/^## Layout$/,/^## /p' "$ROOT/README.md" | grep '^| `')
check "the README has a layout table" test -n "$table"
# Each row's first cell: one or more `path`s, comma-separated.
named=$(cut -d'|' -f2 <<<"$table" | grep -o '`[^`]*`' | tr -d '`')
missing=
for p in $named; do [ -e "$ROOT/$p" ] || missing="$missing $p"; done
check "every path the layout table names exists${missing:+ (missing:$missing)}" test -z "$missing"
unnamed=
for d in "$ROOT"/src/*/; do
	d=${d#"$ROOT/"}
	grep -qx "$d" <<<"$named" || unnamed="$unnamed $d"
done
check "every source folder has its row${unnamed:+ (none for:$unnamed)}" test -z "$unnamed"
# Every source file is named in the table, in its folder's row or its own.
quiet=
for f in "$ROOT"/src/*/*.c; do
	f=${f#"$ROOT/"}
	grep -qF "$(basename "$f")" <<<"$table" || quiet="$quiet $f"
done
check "every source file is named in the layout table${quiet:+ (not:$quiet)}" test -z "$quiet"

# --- what libreuse.so holds ---
# The compiler's entry points and what only it calls.
COMPILER='^(lr_ruleset_|lr_config_|lr_table_build|lr_table_compile|lr_table_make|lr_cache_write|lr_libconfig|lr_parse_)'
hooks=$(sed -n '/global:/,/local:/p' "$ROOT/src/preload/libreuse.map" | grep -oE '^[[:space:]]*[a-z_0-9]+;' | tr -d ' \t;' | sort)
check "the version script names the hooks" test "$(wc -l <<<"$hooks")" -ge 10
for lib in "$LIB" "$BUILD/i386/libreuse.so" "$BUILD/musl/libreuse.so"; do
	[ -e "$lib" ] || continue
	name=${lib#"$BUILD/"}
	exported=$(nm -D --defined-only "$lib" | awk '{ print $3 }' | sed 's/@.*//' | sort -u)
	extra=$(comm -13 <(echo "$hooks") <(echo "$exported") | tr '\n' ' ')
	check "$name exports only the hooks${extra:+ (also: $extra)}" test -z "$extra"
	syms=$(nm "$lib" | awk 'NF == 3 { print $3 }')
	check "$name has symbols to look at (not stripped)" test "$(grep -c '^lr_' <<<"$syms")" -gt 50
	found=$(grep -E "$COMPILER" <<<"$syms" | tr '\n' ' ')
	check "$name contains no compiler symbol${found:+ (has: $found)}" test -z "$found"
	# Every function the command's compiler objects define, by name.
	comp=$(for o in "$BUILD"/obj/compile/*.o "$BUILD"/obj/launch/*.o; do nm --defined-only "$o"; done |
		awk '$2 ~ /^[TDBR]$/ { print $3 }' | sort -u)
	both=$(comm -12 <(echo "$comp") <(sort -u <<<"$syms") | tr '\n' ' ')
	check "$name defines nothing the compile and launch folders define${both:+ (both: $both)}" test -z "$both"
	check "$name never names libconfig" bash -c "! grep -qa 'libconfig\.so' '$lib'"
done

# --- where its variables live (src/base/pages.h) ---
# The small ones end on the page .data ends on, which ld.so has written
# before the program runs: the start-up and the first socket() then write
# them without a page fault. On x86-64, where the large ones have a
# section of their own.
if [ "$(uname -m)" = x86_64 ] && [ -z "${SANITIZE:-}" ]; then
	end() { readelf -SW "$LIB" | awk -v s="$1" '$2 == s { print strtonum("0x" $4) + strtonum("0x" $6); exit }'; }
	data_end=$(end .data) bss_end=$(end .bss)
	check "libreuse.so's small variables (.bss to $(printf %#x "$bss_end")) end on the page .data ends on ($(printf %#x "$data_end"))" \
		test $(((bss_end - 1) / 4096)) -eq $(((data_end - 1) / 4096))
fi

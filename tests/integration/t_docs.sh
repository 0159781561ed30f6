#!/usr/bin/env bash
# The manual: each page lints clean with groff -ww, names every key the rule
# file accepts, and `make install` puts pages, command and library where
# PREFIX/DESTDIR say (and `make uninstall` removes them).
. "$(dirname "$0")/../lib.sh"

for page in libreuse.1 libreuse.conf.5 libreuse.7; do
	groff -ww -man -z "$ROOT/docs/$page" 2>"$T/$page.lint"
	check "docs/$page: groff -ww -man -z is clean" test $? = 0 -a ! -s "$T/$page.lint"
done
# Every key config.c knows appears in libreuse.conf(5).
for key in program op proto family address port reuseaddr reuseport force rewrite source keep deny retry log dry_run io_uring level target format facility; do
	grep -qE "^\.BR $key( |$)|^\.BR $key\b|^\.B $key\b|\.BR [a-z, \"]*\b$key\b" "$ROOT/docs/libreuse.conf.5" || missing+=" $key"
done
check "libreuse.conf(5) documents every rule-file key${missing:+ (missing:$missing)}" test -z "${missing:-}"

if [ -z "${SANITIZE:-}" ]; then
	make -s -C "$ROOT" install DESTDIR="$T/root" PREFIX=/opt/lr >"$T/install.out" 2>&1
	f32=$([ -x "$BUILD/i386/libreuse.so" ] && echo lib32/libreuse.so)
	for f in lib/libreuse.so $f32 bin/libreuse share/man/man1/libreuse.1 share/man/man5/libreuse.conf.5 share/man/man7/libreuse.7 share/bash-completion/completions/libreuse; do
		check "make install: /opt/lr/$f" test -f "$T/root/opt/lr/$f"
	done
	check "make install: the installed man page renders" grep -q "libreuse.conf" <(man -l "$T/root/opt/lr/share/man/man5/libreuse.conf.5" 2>/dev/null)
	make -s -C "$ROOT" uninstall DESTDIR="$T/root" PREFIX=/opt/lr >/dev/null 2>&1
	check "make uninstall: nothing of ours left" test -z "$(find "$T/root" -type f)"
else
	ok "# SKIP install: the sanitizer build is not for installing"
fi

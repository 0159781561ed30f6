#!/usr/bin/env bash
# bash completion for libreuse, driven as bash drives it: COMP_WORDS and
# COMP_CWORD set, the completion function called, COMPREPLY read.
. "$(dirname "$0")/../lib.sh"

BC=/usr/share/bash-completion/bash_completion
[ -r "$BC" ] || { not_ok "bash-completion is not installed (make deps installs it)"; exit 0; }

# complete WORD...: the candidates for the last word, one a line, sorted.
complete_words() {
	bash -c '
		. "$1"; . "$2"; shift 2
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_libreuse libreuse "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$BC" "$ROOT/completion/libreuse" "$@" 2>/dev/null | LC_ALL=C sort
}

check "libreuse r -> run" test "$(complete_words libreuse r)" = run
check "libreuse -> the four subcommands" \
	test "$(complete_words libreuse '' | grep -cxE 'run|check|who|matrix')" = 4
check "run --re -> the reuse, restart and respawn flags" \
	test "$(complete_words libreuse run --re | tr '\n' ' ')" = "--ready-timeout --respawn --restart-signal --reuseaddr --reuseport "
check "run --ke -> --keep" test "$(complete_words libreuse run --ke)" = --keep
check "run --se -> --seccomp" test "$(complete_words libreuse run --se)" = --seccomp
check "run --no -> --no-io-uring" test "$(complete_words libreuse run --no)" = --no-io-uring
check "run --stop-signal QU -> QUIT" test "$(complete_words libreuse run --stop-signal QU)" = QUIT
check "run --restart-signal USR -> USR1 USR2" \
	test "$(complete_words libreuse run --restart-signal USR | tr '\n' ' ')" = "USR1 USR2 "
check "run --log a -> actions all" test "$(complete_words libreuse run --log a | tr '\n' ' ')" = "actions all "
mkdir "$T/d" && touch "$T/d/rules.conf" "$T/d/other.conf"
check "run -c FILE: files" test "$(cd "$T/d" && complete_words libreuse run -c r)" = rules.conf
check "check FILE: files" test "$(cd "$T/d" && complete_words libreuse check o)" = other.conf
check "run --keep -- pyth: a command" grep -qx python3 <(complete_words libreuse run --keep -- pyth)
check "run --log all pyth (no --): a command" grep -qx python3 <(complete_words libreuse run --log all pyth)
check "audit --pro -> --propose" test "$(complete_words libreuse audit --pro)" = --propose
check "audit --json -- pyth: a command" grep -qx python3 <(complete_words libreuse audit --json -- pyth)
check "audit FILE: files" test "$(cd "$T/d" && complete_words libreuse audit o)" = other.conf

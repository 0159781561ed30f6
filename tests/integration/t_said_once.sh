#!/usr/bin/env bash
# Lines said once a process are said once for each process the front end
# serves: inside a program (the library), a fork child is not told again
# what its parent was; under the supervisor, which serves many processes
# from one address space, each of them is told (issue 26: these were once a
# static of the core, so the supervisor told only the first program).
. "$(dirname "$0")/../lib.sh"

q() { "${LOGQ[@]}" "$@"; }

# A parent listens, forks, and its child listens: the verdict comes with
# the first listener of a process.
prog="
import os, socket
a = socket.socket(); a.bind(('127.0.0.1', 0)); a.listen(1)
pid = os.fork()
if pid == 0:
    b = socket.socket(); b.bind(('127.0.0.1', 0)); b.listen(1); os._exit(0)
os.waitpid(pid, 0)
print('DONE')
"

rules "$T/shim.conf" "log = { level = \"all\"; format = \"json\"; target = \"$T/shim.log\"; }; rules = ();"
shim "$T/shim.conf" "$PY" -c "$prog" >"$T/shim.out" 2>"$T/shim.err"
check "library: the program and its fork child ran" grep -q DONE "$T/shim.out"
check "library: both listens logged ($(q "$T/shim.log" event=call op=listen --count))" \
	test "$(q "$T/shim.log" event=call op=listen --count)" = 2
check "library: one verdict, the parent's; the fork child is not told again" \
	test "$(q "$T/shim.log" event=verdict --count)" = 1

seccomp_or_skip
rules "$T/sup.conf" "log = { level = \"all\"; format = \"json\"; target = \"$T/sup.log\"; }; rules = ();"
timeout 30 "$CLI" run --seccomp -c "$T/sup.conf" -- "$PY" -c "$prog" >"$T/sup.out" 2>"$T/sup.err"
check "supervisor: the program and its fork child ran" grep -q DONE "$T/sup.out"
check "supervisor: both listens logged ($(q "$T/sup.log" event=call op=listen --count))" \
	test "$(q "$T/sup.log" event=call op=listen --count)" = 2
check "supervisor: one verdict for each process ($(q "$T/sup.log" event=verdict --get pid | sort -u | wc -l) pids)" \
	test "$(q "$T/sup.log" event=verdict --get pid | sort -u | wc -l)" = 2 -a \
	"$(q "$T/sup.log" event=verdict --count)" = 2

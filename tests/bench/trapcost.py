#!/usr/bin/env python3
"""What a trapped bind costs under the seccomp supervisor, beside its floors
(issue 27): `workload bind N PORT` (socket, SO_REUSEADDR, bind 127.0.0.1,
close; only bind is trapped) with no supervisor, under trapfloor (CONTINUE;
the least rewrite), and under `libreuse run --seccomp` with no rule
concerning the call and with a rewrite, at levels errors and the default.
Variants alternate within each round; medians of the rounds, ns a cycle.

    trapcost.py BUILD [ROUNDS [CYCLES]]     prints a markdown table

Each timed run is pinned to one CPU, supervisor and program together: every
trap is then two switches on that CPU, and the supervisor's work is all on
the program's time (pinned apart, a loaded machine's wake-ups across CPUs
swamp what is measured)."""
import os
import statistics
import subprocess
import sys
import tempfile

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 21
CYCLES = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
PORT, TO = 19931, 19932
WORKLOAD = os.path.join(BUILD, "bench", "workload")
FLOOR = os.path.join(BUILD, "bench", "trapfloor")
CLI = os.path.join(BUILD, "libreuse")
CPU = str((os.cpu_count() or 1) - 1)


def pinned(argv):
    return ["taskset", "-c", CPU] + argv


def variants(conf):
    prog = [WORKLOAD, "bind", str(CYCLES), str(PORT)]
    sup = [CLI, "run", "--seccomp", "-c", conf]
    return {
        "no supervisor": pinned(prog),
        "floor: CONTINUE": pinned([FLOOR, "continue", "--"]) + prog,
        "libreuse, no rule concerns it, level errors": pinned(sup + ["--log", "errors", "--"]) + prog,
        "libreuse, no rule concerns it, default level": pinned(sup + ["--"]) + prog,
        "floor: least rewrite": pinned([FLOOR, "rewrite", str(TO), "--"]) + prog,
        "libreuse, rewritten, level errors": pinned(sup + ["--bind", f"127.0.0.1:{TO}", "--log", "errors", "--"]) + prog,
        "libreuse, rewritten, default level": pinned(sup + ["--bind", f"127.0.0.1:{TO}", "--"]) + prog,
    }


def main():
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "empty.conf")
        with open(conf, "w") as f:
            f.write("rules = ();\n")
        vs = variants(conf)
        names = list(vs)
        got = {n: [] for n in names}
        for r in range(ROUNDS):
            for k in range(len(names)):
                n = names[(r + k) % len(names)]
                out = subprocess.run(vs[n], capture_output=True, text=True, timeout=300)
                try:
                    got[n].append(float(out.stdout.split()[-1]))
                except (IndexError, ValueError):
                    sys.exit(f"trapcost: {n}: {out.stdout!r} {out.stderr!r}")
        med = {n: statistics.median(v) for n, v in got.items()}
        base = med["no supervisor"]
        print(f"| variant | ns a cycle (median of {ROUNDS}) | trap's ns over no supervisor | cycle × its floor's |")
        print("|---|---:|---:|---:|")
        for n in names:
            floor = "floor: CONTINUE" if "no rule" in n else "floor: least rewrite" if "rewrit" in n else None
            ratio = f"{med[n] / med[floor]:.2f}" if floor else ""
            over = f"{med[n] - base:,.0f}" if n != "no supervisor" else ""
            print(f"| {n} | {med[n]:,.0f} | {over} | {ratio} |")


if __name__ == "__main__":
    main()

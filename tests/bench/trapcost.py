#!/usr/bin/env python3
"""What a trapped bind costs under the seccomp supervisor, beside its floors
(issue 27): `workload bind N PORT` (socket, SO_REUSEADDR, bind 127.0.0.1,
close; only bind is trapped) with no supervisor, under trapfloor (CONTINUE;
the least rewrite), and under `libreuse run --seccomp` with no rule
concerning the call and with a rewrite, at levels errors and the default.
Variants alternate within each round; medians of the rounds, ns a cycle:
wall time as the program times its loop, and CPU time (user and system, of
every process of the run: program, supervisor, floor) per cycle, from the
difference of a run of 2N cycles and one of N, so start-up cancels out. On
a loaded machine a trap's wall time is mostly waiting for a CPU; its CPU
time is not.

    trapcost.py BUILD [ROUNDS [CYCLES]]     prints a markdown table

Each timed run is pinned to one CPU, supervisor and program together: every
trap is then two switches on that CPU, and the supervisor's work is all on
the program's time (pinned apart, a loaded machine's wake-ups across CPUs
swamp what is measured)."""
import os
import resource
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
# TRAPCOST_CLI: another build's command, to compare (before and after).
CLI = os.environ.get("TRAPCOST_CLI") or os.path.join(BUILD, "libreuse")
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
        cpu = {n: [] for n in names}

        def timed(argv):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            out = subprocess.run(argv, capture_output=True, text=True, timeout=300)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            return out, used * 1e9

        for r in range(ROUNDS):
            for k in range(len(names)):
                n = names[(r + k) % len(names)]
                out, one = timed(vs[n])
                twice = [str(2 * CYCLES) if a == str(CYCLES) else a for a in vs[n]]
                _, two = timed(twice)
                try:
                    got[n].append(float(out.stdout.split()[-1]))
                except (IndexError, ValueError):
                    sys.exit(f"trapcost: {n}: {out.stdout!r} {out.stderr!r}")
                cpu[n].append((two - one) / (1.1 * CYCLES))
        med = {n: statistics.median(v) for n, v in got.items()}
        mcpu = {n: statistics.median(v) for n, v in cpu.items()}
        print(f"| variant | wall ns a cycle | × its floor | CPU ns a cycle | × its floor |")
        print("|---|---:|---:|---:|---:|")
        for n in names:
            floor = "floor: CONTINUE" if "no rule" in n else "floor: least rewrite" if "rewrit" in n else None
            ratio = f"{med[n] / med[floor]:.2f}" if floor else ""
            cratio = f"{mcpu[n] / mcpu[floor]:.2f}" if floor else ""
            print(f"| {n} | {med[n]:,.0f} | {ratio} | {mcpu[n]:,.0f} | {cratio} |")


if __name__ == "__main__":
    main()

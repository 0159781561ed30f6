#!/usr/bin/python3
"""Restart latency under `libreuse run --keep`, against the program's own
start (issue 30): SIGHUP to the new instance answering, median of N, quiet
and under load (4 threads connecting in a loop to the keeper's port,
tests/helpers/loadgen.py),
with the keeper's phases (signal -> started -> adopted -> old stopped, from
its "restart done" lines at level actions). The program: the tests' python
server (binds, listens, answers its pid; on SIGTERM finishes the connection
in hand). Run by bench.py; on its own it prints its section of the report."""
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(os.environ.get("LIBREUSE_BUILD", os.path.join(ROOT, "build")), "libreuse")
SERVER = [sys.executable, os.path.join(ROOT, "tests", "helpers", "server.py")]
LOADGEN = [sys.executable, os.path.join(ROOT, "tests", "helpers", "loadgen.py")]
N = int(os.environ.get("BENCH_RESTART_N", "10"))
PHASE = re.compile(r"restart done: .*signal -> started (\d+) ms, -> adopted (\d+) ms, "
                   r"-> old stopped (\d+) ms; total (\d+) ms")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(port):
    """The first word of the server's answer, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            data = b""
            while chunk := s.recv(256):
                data += chunk
        return data.split()[0].decode() if data.split() else None
    except OSError:
        return None


def first_answer(port, t0, differs_from=None, limit=10.0):
    """Seconds from t0 to the first answer (not differs_from), polling."""
    while time.monotonic() - t0 < limit:
        a = ask(port)
        if a and a != differs_from:
            return time.monotonic() - t0
        time.sleep(0.002)  # a prober that spins steals the CPU the start needs
    return None


def own_start(n):
    """The program started plainly (no libreuse), on a fresh port each time:
    to its first answer."""
    times = []
    for _ in range(n):
        port = free_port()
        t0 = time.monotonic()
        p = subprocess.Popen(SERVER + ["--port", str(port), "--graceful"], stdout=subprocess.DEVNULL)
        times.append(first_answer(port, t0))
        p.terminate()
        p.wait()
    return [t for t in times if t is not None]


def restarts(n, tmp, load):
    """n SIGHUPs to a keeper, each once the last was over: to the new pid's
    first answer; the keeper's phases of each; and a plain start of the
    program before each, so that both meet the same moment of a shared
    machine. With load, 4 threads connect to the keeper's port in a loop
    throughout, plain starts included."""
    port = free_port()
    err_path = os.path.join(tmp, f"keeper-{port}.err")
    stop = os.path.join(tmp, f"load-{port}.stop")
    with open(err_path, "w") as err:
        k = subprocess.Popen([CLI, "run", "--keep", "--log", "actions", "--"] + SERVER +
                             ["--port", str(port), "--graceful"], stdout=subprocess.DEVNULL, stderr=err)
    loadgen = None
    try:
        first_answer(port, time.monotonic())
        if load:
            loadgen = subprocess.Popen(LOADGEN + ["--port", str(port), "--threads", "4", "--until", stop,
                                                  "--seconds", "600"], stdout=subprocess.DEVNULL)
            time.sleep(0.5)
        times, own = [], []
        for _ in range(n):
            own += own_start(1)
            old = ask(port)
            t0 = time.monotonic()
            k.send_signal(signal.SIGHUP)
            times.append(first_answer(port, t0, differs_from=old))
            # The restart over (the old instance gone: the server answers
            # its pid), and a pause.
            deadline = time.monotonic() + 15
            while old and time.monotonic() < deadline and os.path.exists(f"/proc/{old}"):
                try:
                    if open(f"/proc/{old}/stat").read().split(") ")[1][0] == "Z":
                        break
                except (OSError, IndexError):
                    break
                time.sleep(0.005)
            time.sleep(0.3)
        phases = [tuple(int(x) for x in m) for m in PHASE.findall(open(err_path).read())]
        return own, [t for t in times if t is not None], phases
    finally:
        if loadgen:
            open(stop, "w").close()
            loadgen.wait(timeout=30)
        k.terminate()
        k.wait(timeout=20)


def measure(n=N):
    """{"quiet"|"under load": {"own": [...s], "restart": [...s], "phases": [(a, b, c, total) ms]}}"""
    out = {}
    with tempfile.TemporaryDirectory(prefix="libreuse-restart-bench-") as tmp:
        for case in ("quiet", "under load"):
            own, rs, phases = restarts(n, tmp, case == "under load")
            out[case] = {"own": own, "restart": rs, "phases": phases}
    return out


def section(r):
    """The report's lines."""
    L = ["## Restart latency (`run --keep`, SIGHUP to the new instance answering)\n",
         f"The tests' python server; median of {N} restarts (each after the last was over) against the median "
         f"of {N} plain starts of the same program (no libreuse) to its first answer, on a fresh port, one "
         "before each restart. "
         "Under load: 4 threads connecting in a loop to the keeper's port (a new connection each request) "
         "throughout, plain starts included. "
         "Phases from the keeper's lines at level actions (medians).\n",
         "| case | own start ms | restart ms | restart − own ms | signal → started | started → adopted | "
         "adopted → old stopped |",
         "|---|---:|---:|---:|---:|---:|---:|"]
    for case, v in r.items():
        own, rs = statistics.median(v["own"]) * 1000, statistics.median(v["restart"]) * 1000
        ph = [statistics.median(p[i] for p in v["phases"]) if v["phases"] else float("nan") for i in range(3)]
        L.append(f"| {case} | {own:.0f} | {rs:.0f} | {rs - own:+.0f} | {ph[0]:.0f} | {ph[1]:.0f} | {ph[2]:.0f} |")
    L.append("")
    return L


if __name__ == "__main__":
    res = measure()
    for case, v in res.items():
        print(f"# {case}: own {[round(x * 1000) for x in v['own']]} restart {[round(x * 1000) for x in v['restart']]} "
              f"phases {v['phases']}", file=sys.stderr)
    print("\n".join(section(res)))

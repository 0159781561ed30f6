"""Issue 27's figures beside their floors: what bench.py measures beyond its
own tables (system calls with strace, page faults with getrusage, the
supervisor beside supervisors that do the least), and the list of figures,
each with its floor, ratio, target and verdict, that make bench prints and
writes to its results file. bench.py passes in what it runs and where."""
import os
import re
import socket
import statistics
import subprocess
import tempfile
import time

# A line of strace's that is a system call (not a signal, not an exit).
CALL = re.compile(r"^[a-z_0-9]+\(")


def calls_between_marks(path):
    """System calls between the first two getppid() marks of a trace."""
    n, seen = 0, 0
    with open(path) as f:
        for line in f:
            if line.startswith("getppid("):
                seen += 1
                if seen == 2:
                    return n
                continue
            if seen == 1 and CALL.match(line):
                n += 1
    raise RuntimeError(f"bench: {path}: no pair of getppid marks")


def first_call(b, conf, tmp):
    """The first socket() of a fresh process with its table cached, and its
    floor (open, fstat, mmap, a load of each page, close of that table):
    system calls between the marks (strace) and page faults (getrusage) of
    tests/helpers/firstcost, medians of 3. {"lib": (calls, faults), "floor": ...}"""
    cache = tempfile.mkdtemp(dir=tmp)
    env = b.env_for(b.LIB, conf)
    env["LIBREUSE_CACHE_DIR"] = cache
    b.run([b.FIRSTCOST, "first"], env)  # the helper compiles into the cache; the page cache warms
    table = [os.path.join(cache, f) for f in os.listdir(cache) if f.endswith(".table")][0]
    out = {}
    for name, args, e in (("lib", [b.FIRSTCOST, "first"], env), ("floor", [b.FIRSTCOST, "floor", table], b.env_for())):
        calls, faults = [], []
        for i in range(3):
            st = os.path.join(tmp, f"first-{name}-{i}.st")
            faults.append(int(b.run(["strace", "-o", st] + args, e).split()[-1]))
            calls.append(calls_between_marks(st))
        out[name] = (statistics.median(calls), statistics.median(faults))
    return out


def startup(b, conf):
    """/bin/true, which opens no socket: libreuse with a 10,000-rule file
    against the bare interposer, alternating: wall µs from start to reaped
    and minor page faults (wait4's rusage), medians; system calls (strace)."""
    variants = {"lib": b.env_for(b.LIB, conf), "floor": b.env_for(b.PASSTHRU)}
    wall = {k: [] for k in variants}
    faults = {k: [] for k in variants}
    for _ in range(max(b.ROUNDS, 21)):
        for name, env in variants.items():
            t0 = time.perf_counter()
            p = subprocess.Popen(["/bin/true"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, _, ru = os.wait4(p.pid, 0)
            wall[name].append((time.perf_counter() - t0) * 1e6)
            faults[name].append(ru.ru_minflt)
    out = {}
    for name, env in variants.items():
        st = os.path.join(b.TMP, "startup.st")
        subprocess.run(["strace", "-f", "-o", st, "/bin/true"], env=env, capture_output=True, timeout=60, check=True)
        with open(st) as f:
            calls = sum(1 for line in f if re.match(r"^(\d+\s+)?[a-z_0-9]+\(", line))
        out[name] = (statistics.median(wall[name]), statistics.median(faults[name]), calls)
    return out


def supervisor_calls(b, prefix, workload_args, env, tmp):
    """System calls the supervisor makes a trap: strace -ff of the whole
    command, the program's own trace (its execve of the workload) left out;
    in the supervisor's, the calls from one receive of a notification to
    the next, median over the 200 cycles' traps (start-up, and what the
    supervisor does once a second, do not count)."""
    d = tempfile.mkdtemp(dir=tmp)
    args = workload_args[:]
    args[1] = "200"
    subprocess.run(["strace", "-ff", "-o", os.path.join(d, "t")] + prefix + [b.WORKLOAD] + args,
                   env=env, capture_output=True, timeout=300, check=True)
    per_trap, programs = [], 0
    for f in os.listdir(d):
        with open(os.path.join(d, f)) as fh:
            lines = fh.read().splitlines()
        if any(re.match(r'execve\("[^"]*/workload", .* = 0$', x) for x in lines):
            programs += 1
            continue
        n = None
        for x in lines:
            if not CALL.match(x):
                continue
            if "SECCOMP_IOCTL_NOTIF_RECV" in x:
                if n is not None:
                    per_trap.append(n)
                n = 0
            if n is not None:
                n += 1
    if programs != 1 or not per_trap:
        raise RuntimeError(f"bench: {prefix}: {programs} traces of the workload, {len(per_trap)} traps")
    return statistics.median(per_trap)


def free_range(n):
    """The first of n consecutive ports, from 30000 up, that 127.0.0.1 and
    127.0.0.2 can both bind now (below the ephemeral range)."""
    for base in range(30000, 32000, n):
        try:
            held = []
            for p in range(base, base + n):
                for a in ("127.0.0.1", "127.0.0.2"):
                    s = socket.socket()
                    held.append(s)
                    s.bind((a, p))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError("bench: no 64 free ports from 30000")


def supervisor(b, files, tmp):
    """A trapped bind (one a cycle: socket, bind, close) under libreuse's
    supervisor beside supfloor's: a rule set that does not concern the
    call against a supervisor answering CONTINUE, a bind rewritten to
    127.0.0.2 against one that makes that bind itself on a duplicate; a datagram with and
    without an op = "send" rule against CONTINUE and no supervisor. Wall
    ns a cycle (medians of ROUNDS, alternating) and supervisor system calls
    a trap."""
    port = free_range(64)
    rw = os.path.join(tmp, "rewrite.conf")
    with open(rw, "w") as f:
        f.write(f'rules = ( {{ match = {{ port = "{port}-{port + 63}"; }}; rewrite = "127.0.0.2"; }} );\n')
    send = os.path.join(tmp, "send-sup.conf")
    with open(send, "w") as f:
        f.write('rules = ( { match = { op = "send"; port = 10; }; source = ":0"; } );\n')
    sup = lambda conf: [b.CLI, "run", "--seccomp", "-c", conf, "--"]  # noqa: E731
    bind = ["bind-bare", "0", str(port)]
    dgram = ["sendto", "0", "9"]
    variants = {
        "bind: no supervisor": ([], bind),
        "bind: CONTINUE floor": ([b.SUPFLOOR, "continue", "bind", "--"], bind),
        "bind: libreuse, no rule concerns it": (sup(files[10]), bind),
        "bind: minimal rewrite floor": ([b.SUPFLOOR, "rewrite", "bind", "--"], bind),
        "bind: libreuse, rewritten": (sup(rw), bind),
        "sendto: no supervisor": ([], dgram),
        "sendto: libreuse, no send rule": (sup(files[10]), dgram),
        "sendto: CONTINUE floor": ([b.SUPFLOOR, "continue", "sendto", "--"], dgram),
        "sendto: libreuse, a send rule": (sup(send), dgram),
    }
    # A trap is some 20 to 60 µs: a quarter of the cycles of a bind cycle's
    # run, so that this part stays within a minute or two.
    cycles = {"bind-bare": b.CYCLES // 4, "sendto": b.CYCLES // 4}
    samples = {k: [] for k in variants}
    names = list(variants)
    for r in range(b.ROUNDS):
        for name in names[r % len(names):] + names[:r % len(names)]:
            prefix, args = variants[name]
            a = args[:]
            a[1] = str(cycles[a[0]])
            samples[name].append(float(b.run(prefix + [b.WORKLOAD] + a, b.env_for(), pin=True)))
    ns = {k: statistics.median(v) for k, v in samples.items()}
    # Only a trapped call has calls of the supervisor's own to count.
    calls = {name: supervisor_calls(b, prefix, args, b.env_for(), tmp)
             for name, (prefix, args) in variants.items() if prefix and "no send rule" not in name}
    return {"ns": ns, "calls": calls}


def adoption_calls(b, tmp):
    """System calls of the bind cycle in which a fresh process adopts a kept
    listener, and of the same cycle with no rule (the bind it replaces):
    strace of workload keep's children, between their marks; medians of 3."""
    empty = os.path.join(tmp, "empty-keep.conf")
    open(empty, "w").close()
    got = {"adopted": [], "no rule": []}
    for i in range(3):
        prefix = os.path.join(tmp, f"adopt-{i}")
        env = b.env_for(None, empty)
        env["BENCH_STRACE"] = prefix
        ports = [str(b.free_port()) for _ in range(3)]
        b.run([b.CLI, "run", "--keep", "--", b.WORKLOAD, "keep", "1"] + ports, env)
        got["adopted"].append(calls_between_marks(prefix + ".0"))
        got["no rule"].append(calls_between_marks(prefix + ".2"))
    return {k: statistics.median(v) for k, v in got.items()}


# The adoption time of the last make bench before issue 27's work on it
# (2026-12-06 04:53 UTC, this machine): the target is half of it.
ADOPTION_BEFORE_NS = 172345


def fig(figure, unit, lib, floor, floor_is, target=None, kind=None, limit=None):
    """One row: kind "ratio" (lib / floor ≤ limit), "plus" (lib − floor ≤
    limit), "max" (lib ≤ limit), or None (no target: shown beside its floor)."""
    ratio = lib / floor if floor else None
    met = None
    if kind == "ratio":
        met = ratio is not None and ratio <= limit
    elif kind == "plus":
        met = lib - floor <= limit
    elif kind == "max":
        met = lib <= limit
    return {"figure": figure, "unit": unit, "libreuse": lib, "floor": floor, "floor_is": floor_is,
            "ratio": ratio, "target": target or "", "met": met}


def figures(r):
    """Every figure of issue 27 beside its floor, from the results r."""
    F = []
    fc, ff = r["first"], r["first_faults"]
    for n, name, fl, counts in ((1, "libreuse 1 rule, table cached", r["floor1"], r["first_calls"]["1"]),
                                (10000, "libreuse 10000 rules, table cached", r["floor10k"],
                                 r["first_calls"]["10000"])):
        what = f"first socket(), {n:,} rule{'s' if n > 1 else ''}, table cached"
        floor_is = "open, fstat, mmap, touch, close of that table"
        F.append(fig(f"{what}: time", "µs", fc[name], fc[fl], floor_is, "≤ 2× floor", "ratio", 2))
        fls = r.get("floor1s" if n == 1 else "floor10ks")
        if fls in fc:
            F.append(fig(f"{what}: time, against the floor with the socket() it makes", "µs", fc[name],
                         fc[fls], floor_is + ", then socket()"))
        F.append(fig(f"{what}: page faults", "faults", ff[name], ff[fl], floor_is, "≤ floor + 4", "plus", 4))
        F.append(fig(f"{what}: system calls (socket included)", "calls", counts["lib"][0], counts["floor"][0] + 1,
                     floor_is + ", and the socket", "≤ floor + 4", "plus", 4))
    s = r["startup"]
    floor_is = "the bare pass-through interposer"
    F.append(fig("start-up of /bin/true (no socket), 10,000-rule file: instructions", "instructions",
                 r["true_ir"][2], r["true_ir"][1], floor_is + " (callgrind)", "≤ 1.05× floor", "ratio", 1.05))
    F.append(fig("...its wall time (start to reaped)", "µs", s["lib"][0], s["floor"][0], floor_is))
    F.append(fig("...its page faults", "faults", s["lib"][1], s["floor"][1], floor_is))
    F.append(fig("...its system calls", "calls", s["lib"][2], s["floor"][2], floor_is))
    ir = r["ir"]
    F.append(fig("bind cycle at 10,000 rules, injecting (last rule matches): instructions", "instructions",
                 ir["libreuse 10000 rules, last matches"], ir["bare interposer"], floor_is + " (callgrind)",
                 "≤ floor + 400", "plus", 400))
    F.append(fig("bind cycle at 10,000 rules, no rule matches (pass-through): instructions", "instructions",
                 ir["libreuse 10000 rules, no match"], ir["bare interposer"], floor_is + " (callgrind)",
                 "≤ floor + 100", "plus", 100))
    sv = r["supervisor"]
    ns, calls = sv["ns"], sv["calls"]
    F.append(fig("supervisor, trapped bind no rule concerns: time a cycle", "ns",
                 ns["bind: libreuse, no rule concerns it"], ns["bind: CONTINUE floor"],
                 "a supervisor answering CONTINUE", "≤ 1.2× floor", "ratio", 1.2))
    F.append(fig("...supervisor system calls a trap", "calls", calls["bind: libreuse, no rule concerns it"],
                 calls["bind: CONTINUE floor"], "a supervisor answering CONTINUE", "≤ 3", "max", 3))
    F.append(fig("supervisor, trapped bind rewritten: time a cycle", "ns", ns["bind: libreuse, rewritten"],
                 ns["bind: minimal rewrite floor"], "read sockaddr, check, pidfd_getfd, bind, close, answer",
                 "≤ 1.15× floor", "ratio", 1.15))
    F.append(fig("...supervisor system calls a trap", "calls", calls["bind: libreuse, rewritten"],
                 calls["bind: minimal rewrite floor"], "the same", "≤ 8", "max", 8))
    k = r["keep"]
    added = k["adopted from the keeper"] - k["libreuse, no rule"]
    F.append(fig("keeper adoption of a kept listener: the bind cycle's time", "ns", k["adopted from the keeper"],
                 k["libreuse, no rule"], "the same cycle, no rule (the bind it replaces)",
                 f"added ≤ {ADOPTION_BEFORE_NS / 2000:,.0f} µs (half of before)", "plus", ADOPTION_BEFORE_NS / 2))
    ac = r["adoption_calls"]
    F.append(fig("...its system calls", "calls", ac["adopted"], ac["no rule"],
                 "the same cycle, no rule (the keeper's exchanges, with the board's once an instance, included)",
                 "≤ floor + 12", "plus", 12))
    for case, v in r["keep"]["latency"].items():
        own = statistics.median(v["own"]) * 1000
        rs = statistics.median(v["restart"]) * 1000
        F.append(fig(f"restart (SIGHUP → new instance answering), {case}", "ms", rs, own,
                     "the program's own start to its first answer", "≤ floor + 50 ms", "plus", 50))
    for k2 in ("no send rule", "a send rule"):
        F.append(fig(f"datagram on a bound UDP socket, {k2}: instructions", "instructions",
                     ir[f"sendto: libreuse, {k2}"], ir["sendto: no shim"], "no shim (callgrind)",
                     "≤ floor + 20", "plus", 20))
    F.append(fig("datagram under the supervisor, no send rule (not trapped): time", "ns",
                 ns["sendto: libreuse, no send rule"], ns["sendto: no supervisor"], "no supervisor"))
    F.append(fig("datagram under the supervisor, a send rule (trapped): time", "ns",
                 ns["sendto: libreuse, a send rule"], ns["sendto: CONTINUE floor"], "a supervisor answering CONTINUE"))
    F.append(fig("...supervisor system calls a datagram", "calls", calls["sendto: libreuse, a send rule"],
                 calls["sendto: CONTINUE floor"], "a supervisor answering CONTINUE"))
    return F


def fmt(x, unit):
    if x is None:
        return "—"
    if unit in ("calls", "faults") and abs(x - round(x)) > 0.05:
        return f"{x:,.1f}"
    return f"{x:,.0f}" if abs(x) >= 10 or unit in ("calls", "faults", "instructions") else f"{x:,.1f}"


def table(F):
    """Rows of the printed table (text) and the report's (markdown)."""
    rows = []
    for f in F:
        ratio = f"{f['ratio']:.2f}×" if f["ratio"] is not None else "—"
        delta = f["libreuse"] - f["floor"]
        met = "—" if f["met"] is None else ("yes" if f["met"] else "no")
        said = re.search(rf"\b{re.escape(f['unit'])}\b", f["figure"])  # "page faults" says its unit
        name = f["figure"] if said else f"{f['figure']} ({f['unit']})"
        rows.append((name, fmt(f["libreuse"], f["unit"]), fmt(f["floor"], f["unit"]),
                     f"{ratio} ({'+' if delta >= 0 else '−'}{fmt(abs(delta), f['unit'])})", f["target"] or "—", met))
    return rows


def print_table(F):
    head = ("figure", "libreuse", "floor", "ratio (difference)", "target", "met")
    rows = table(F)
    w = [max(len(str(x[i])) for x in rows + [head]) for i in range(6)]
    for row in [head] + rows:
        print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(row)).rstrip())

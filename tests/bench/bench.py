#!/usr/bin/python3
"""make bench: libreuse against no shim, a bare pass-through interposer and a
program setting its options itself, side by side in one run. Variants
alternate within each round; medians over the rounds; callgrind instruction
counts (exact, repeatable) next to wall times; and every figure of issue 27
beside its floor (tests/bench/floors.py). Writes one results file (argument;
build/bench/results.json by default) and prints the figures beside their
floors; tests/bench/perfdoc.py makes docs/performance.md's block of it."""
import errno
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

# No __pycache__ in the source tree for the modules beside this one.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floors  # noqa: E402  (tests/bench/floors.py)
import restart as restart_bench  # noqa: E402  (tests/bench/restart.py)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
LIB = os.path.join(BUILD, "libreuse.so")
PASSTHRU = os.path.join(BUILD, "bench", "passthru.so")
WORKLOAD = os.path.join(BUILD, "bench", "workload")
# The same workload built for i386, static: the supervisor's i386 path.
WORKLOAD32 = os.path.join(BUILD, "bench", "workload32")
LOADTIME = os.path.join(BUILD, "bench", "loadtime")
CLI = os.path.join(BUILD, "libreuse")
KEEPFLOOD = os.path.join(BUILD, "helpers", "keepflood")
FIRSTCOST = os.path.join(BUILD, "helpers", "firstcost")
SUPFLOOR = os.path.join(BUILD, "bench", "supfloor")
SERVER = os.path.join(ROOT, "tests", "helpers", "server.py")
RESTARTS = int(os.environ.get("BENCH_RESTARTS", "15"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "21"))
CYCLES = int(os.environ.get("BENCH_CYCLES", "20000"))
NGINX_ROUNDS = int(os.environ.get("BENCH_NGINX_ROUNDS", "7"))
RULE_COUNTS = [0, 10, 1000, 10000]
BASE_PORT = 20000  # rule i names port BASE_PORT + i; below the ephemeral range
# Every bind variant binds a fixed port, so the kernel does the same work in
# each (a bind to port 0 searches for a free port, at a cost that varies).
# This one no rule names.
NOMATCH_PORT = BASE_PORT - 1
TMP = tempfile.mkdtemp(prefix="libreuse-bench-")
# The library as it was before issue 16, which parsed the rule file inside
# the program with libconfig: built from this repository's history, so that
# the figures that issue set its targets against are measured in this run.
BASELINE_COMMIT = "79853c8"
BASELINE = "before issue 16"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rule_file(n):
    path = os.path.join(TMP, f"rules-{n}.conf")
    with open(path, "w") as f:
        f.write("rules = (\n")
        f.write(",\n".join(
            f'  {{ match = {{ port = {BASE_PORT + i}; proto = "tcp"; }}; reuseaddr = true; reuseport = true; }}'
            for i in range(n)))
        f.write("\n);\n")
    return path


def env_for(preload=None, conf=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LD_PRELOAD", "LIBREUSE_"))}
    if preload:
        env["LD_PRELOAD"] = preload
    if conf:
        env["LIBREUSE_CONFIG"] = conf
    else:
        env["LIBREUSE_CONFIG"] = os.path.join(TMP, "none.conf")  # no file: pass-through
    return env


# Timed runs all go to one CPU, so that no variant is timed across a
# migration; the machine is shared, and this is the noise we can remove.
PIN = ["taskset", "-c", str(max(os.sched_getaffinity(0)))] if shutil.which("taskset") else []


def run(args, env, pin=False):
    out = subprocess.run((PIN if pin else []) + args, env=env, capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        sys.exit(f"bench: {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout.strip()


# name -> (mode, port, preload, conf); port None means 0 (the kernel picks)
def bind_variants(files):
    v = {
        "no shim": ("bind", NOMATCH_PORT, None, None),
        "bare interposer": ("bind", NOMATCH_PORT, PASSTHRU, None),
        "program sets both itself": ("bind-self", NOMATCH_PORT, None, None),
    }
    for n in RULE_COUNTS:
        v[f"libreuse {n} rules, no match"] = ("bind", NOMATCH_PORT, LIB, files[n])
        if n:
            v[f"libreuse {n} rules, first matches"] = ("bind", BASE_PORT, LIB, files[n])
            v[f"libreuse {n} rules, last matches"] = ("bind", BASE_PORT + n - 1, LIB, files[n])
    return v


def wall_times(variants, cycles):
    samples = {k: [] for k in variants}
    names = list(variants)
    for r in range(ROUNDS):
        # Each round starts one variant later: a run leaves TIME_WAIT sockets
        # and warm caches behind, and no variant should always follow the same one.
        for name in names[r % len(names):] + names[:r % len(names)]:
            mode, port, preload, conf = variants[name]
            samples[name].append(float(run([WORKLOAD, mode, str(cycles), str(port)], env_for(preload, conf),
                                           pin=True)))
    return {k: statistics.median(v) for k, v in samples.items()}


def callgrind_total(args, env):
    out = os.path.join(TMP, "cg.out")
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + args,
                   env=env, capture_output=True, timeout=600, check=True)
    with open(out) as f:
        for line in f:
            m = re.match(r"(summary|totals):\s+(\d+)", line)
            if m:
                return int(m.group(2))
    sys.exit("bench: no callgrind summary")


def instructions_per_cycle(mode, port, preload, conf):
    """Difference of two runs cancels start-up: (Ir(1100 cycles) - Ir(110)) / 990."""
    env = env_for(preload, conf)
    small = callgrind_total([WORKLOAD, mode, "100", str(port)], env)
    big = callgrind_total([WORKLOAD, mode, "1000", str(port)], env)
    return (big - small) / 990.0


def nginx_rps(conf_path, preload, conf):
    """Requests per second of nginx under wrk, or None when either is missing."""
    if not (shutil.which("wrk") and os.path.exists("/usr/sbin/nginx")):
        return None
    port = free_port()
    d = tempfile.mkdtemp(dir=TMP)
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(f"""daemon off; worker_processes 1; pid {d}/pid; error_log {d}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d};
  uwsgi_temp_path {d}; scgi_temp_path {d};
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "ok\\n"; }} }} }}
""")
    # nginx on one CPU, wrk on another (when there are two): neither is
    # timed while the other takes its core.
    cpus = sorted(os.sched_getaffinity(0))
    pin_server = ["taskset", "-c", str(cpus[-1])] if PIN else []
    pin_client = ["taskset", "-c", str(cpus[0])] if PIN and len(cpus) > 1 else []
    p = subprocess.Popen(pin_server + ["/usr/sbin/nginx", "-p", d, "-c", f"{d}/nginx.conf", "-e", f"{d}/error.log"],
                         env=env_for(preload, conf), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        out = run(pin_client + ["wrk", "-t1", "-c16", "-d2s", f"http://127.0.0.1:{port}/"], env_for())
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        return float(m.group(1)) if m else None
    finally:
        p.terminate()
        p.wait(timeout=10)


def why_no_i386():
    """Why the i386 rows cannot be measured here, or None when they can."""
    if not os.path.exists(WORKLOAD32):
        return "no 32-bit workload (gcc-multilib)"
    try:
        subprocess.run([WORKLOAD32, "syscalls", "10", "0"], capture_output=True, timeout=60)
    except OSError as e:
        if e.errno == errno.ENOEXEC:
            return f"this kernel runs no i386 program ({platform.release()}: IA32 emulation off or absent)"
        raise
    return None


def supervisor_costs(files):
    """The same cycles under the seccomp supervisor, beside no shim and the
    shim, alternating in each round; and a loop of untrapped system calls
    under the supervisor against none. Medians of ROUNDS runs."""
    conn_rules = os.path.join(TMP, "connect-rules.conf")
    conn_port = free_port()
    with open(conn_rules, "w") as f:
        f.write(f'rules = ( {{ match = {{ op = "connect"; port = {conn_port}; }}; reuseaddr = true; }} );\n')
    sup = [CLI, "run", "--seccomp", "-c"]
    variants = {
        "bind: no shim": ([], "bind", BASE_PORT + 9, None, None),
        "bind: shim": ([], "bind", BASE_PORT + 9, LIB, files[10]),
        "bind: supervisor": (sup + [files[10], "--"], "bind", BASE_PORT + 9, None, None),
        "connect: no shim": ([], "connect", conn_port, None, None),
        "connect: shim": ([], "connect", conn_port, LIB, conn_rules),
        "connect: supervisor": (sup + [conn_rules, "--"], "connect", conn_port, None, None),
        "untrapped: no shim": ([], "syscalls", 0, None, None),
        "untrapped: supervisor": (sup + [files[10], "--"], "syscalls", 0, None, None),
    }
    if not why_no_i386():
        variants.update({
            "bind i386: no shim": ([], "bind", BASE_PORT + 9, None, None),
            "bind i386: supervisor": (sup + [files[10], "--"], "bind", BASE_PORT + 9, None, None),
            "untrapped i386: no shim": ([], "syscalls", 0, None, None),
            "untrapped i386: supervisor": (sup + [files[10], "--"], "syscalls", 0, None, None),
        })
    cycles = {"bind": CYCLES // 4, "connect": CYCLES // 8, "syscalls": CYCLES * 10}
    samples = {k: [] for k in variants}
    names = list(variants)
    for r in range(ROUNDS):
        for name in names[r % len(names):] + names[:r % len(names)]:
            prefix, mode, port, preload, conf = variants[name]
            workload = WORKLOAD32 if "i386" in name else WORKLOAD
            samples[name].append(float(run(prefix + [workload, mode, str(cycles[mode]), str(port)],
                                           env_for(preload, conf), pin=True)))
    return {k: statistics.median(v) for k, v in samples.items()}


def keep_costs():
    """One bind cycle in a fresh process under `libreuse run --keep`, after a
    warm-up cycle: adopted from the keeper, a keep that finds nothing kept,
    and libreuse with no rule. Medians of ROUNDS processes each."""
    empty = os.path.join(TMP, "empty.conf")
    open(empty, "w").close()
    ports = [str(free_port()) for _ in range(3)]
    out = run([CLI, "run", "--keep", "--", WORKLOAD, "keep", str(ROUNDS)] + ports, env_for(None, empty))
    adopted, none, plain = (float(x) for x in out.split())
    return {"adopted from the keeper": adopted, "keep rule, nothing kept (keeper asked)": none,
            "libreuse, no rule": plain}


def build_baseline():
    """The baseline's libreuse.so, and None; or None and why it is missing."""
    src = os.path.join(TMP, "baseline")
    os.makedirs(src)
    try:
        archive = subprocess.run(["git", "-C", ROOT, "archive", BASELINE_COMMIT], capture_output=True,
                                 check=True, timeout=120).stdout
        subprocess.run(["tar", "-x", "-C", src], input=archive, check=True, timeout=120)
        subprocess.run(["make", "-C", src, "build/libreuse.so"], capture_output=True, check=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"not built from {BASELINE_COMMIT} ({e})"
    return os.path.join(src, "build", "libreuse.so"), None


def first_socket_costs(files, baseline):
    """The first socket() of a fresh process, in µs and page faults (medians
    of ROUNDS, the variants in turn): no shim; libreuse with its table cached
    (1 and 10,000 rules), each beside its floor, a process that opens, fstats,
    maps and touches each page of that same table, then closes it (and the
    same followed by a socket(), which the library's first call makes too);
    and the first time after the file changed (an empty cache: the library's helper
    compiles the table). Returns ({name: µs}, {name: faults})."""
    one = os.path.join(TMP, "one.conf")
    with open(one, "w") as f:
        f.write(f"rules = ( {{ match = {{ port = {BASE_PORT}; }}; reuseaddr = true; }} );\n")
    # One warm cache per rule file, so that each holds exactly its table.
    warm1, warm2 = os.path.join(TMP, "cache-warm-1"), os.path.join(TMP, "cache-warm-10000")
    variants = {
        "no shim": (None, None, None),
        "libreuse 1 rule, table cached": (LIB, one, warm1),
        "floor, 1 rule (open, fstat, mmap, touch, close its table)": ("floor", None, warm1),
        "libreuse 10000 rules, table cached": (LIB, files[10000], warm2),
        "floor, 10000 rules (the same of its table)": ("floor", None, warm2),
        FLOOR1S: ("floor-socket", None, warm1),
        FLOOR10KS: ("floor-socket", None, warm2),
        "libreuse 1 rule, file just changed (helper compiles)": (LIB, one, ""),
        "libreuse 10000 rules, file just changed (helper compiles)": (LIB, files[10000], ""),
    }
    if baseline:
        variants[f"{BASELINE}, 1 rule"] = (baseline, one, None)
        variants[f"{BASELINE}, 10000 rules"] = (baseline, files[10000], None)
    times = {k: [] for k in variants}
    faults = {k: [] for k in variants}
    fault_ns = []
    for rnd in range(ROUNDS + 1):
        fault_ns.append(float(run([WORKLOAD, "faults"], env_for())))
        for name, (preload, conf, cache) in variants.items():
            if preload in ("floor", "floor-socket"):
                if not rnd:
                    continue  # round 0 fills the warm caches
                table = [f for f in os.listdir(cache) if f.endswith(".table")]
                out = run([WORKLOAD, "first-" + preload, os.path.join(cache, table[0])], env_for())
            else:
                env = env_for(preload, conf)
                env["LIBREUSE_CACHE_DIR"] = cache if cache != "" else tempfile.mkdtemp(dir=TMP)
                if cache is None:
                    del env["LIBREUSE_CACHE_DIR"]
                out = run([WORKLOAD, "first-socket"], env)
            ns, flt = out.split()
            if rnd:
                times[name].append(float(ns) / 1000)
                faults[name].append(int(flt))
    first = {k: statistics.median(v) for k, v in times.items()}
    first["page fault"] = statistics.median(fault_ns) / 1000
    return first, {k: statistics.median(v) for k, v in faults.items()}


def restart_latency():
    """SIGHUP restarts (signal -> old instance gone) of three keepers side by
    side, in turn: one nobody touches, one another user (nobody) holds 1,000
    silent connections to, one another user connects to and closes from as
    fast as it can. Medians and maxima in ms over RESTARTS each."""
    keepers, floods = {}, []
    try:
        for name in ("calm", "1,000 silent connections from nobody", "connect-and-close storm from nobody"):
            port = free_port()
            p = subprocess.Popen([CLI, "run", "--keep", "--", sys.executable, SERVER, "--port", str(port),
                                  "--graceful"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 env=env_for(None, None))
            p.stdout.readline()  # READY
            keepers[name] = p
        as_nobody = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]

        def keeper_name(p):
            child = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()[0]
            env = open(f"/proc/{child}/environ", "rb").read().split(b"\0")
            return next(e.split(b"=", 1)[1].decode() for e in env if e.startswith(b"LIBREUSE_KEEPER="))
        for name, mode, n in (("1,000 silent connections from nobody", "silent", "1000"),
                              ("connect-and-close storm from nobody", "churn", "0")):
            f = subprocess.Popen(as_nobody + [KEEPFLOOD, mode, keeper_name(keepers[name]), n, "600"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            f.stdout.readline()  # CONNECTED
            floods.append(f)
        times = {name: [] for name in keepers}
        for _ in range(RESTARTS):
            for name, p in keepers.items():
                old = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()[0]
                t0 = time.monotonic()
                os.kill(p.pid, 1)
                while os.path.exists(f"/proc/{old}") and time.monotonic() - t0 < 30:
                    try:
                        if open(f"/proc/{old}/stat").read().split(") ")[1][0] == "Z":
                            break
                    except OSError:
                        break
                    time.sleep(0.002)
                times[name].append((time.monotonic() - t0) * 1000)
                time.sleep(0.3)
        return {k: (statistics.median(v), max(v)) for k, v in times.items()}
    finally:
        for f in floods:
            f.kill()
            f.wait()
        for p in keepers.values():
            p.terminate()
            p.wait(timeout=20)


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else os.path.join(BUILD, "bench", "results.json")
    for path in (LIB, PASSTHRU, WORKLOAD, LOADTIME, CLI, KEEPFLOOD, SUPFLOOR, FIRSTCOST):
        if not os.path.exists(path):
            sys.exit(f"bench: {path} missing; run make bench")
    for tool in ("valgrind", "strace"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} missing (make bench-deps installs it)")
    began, load_start = time.monotonic(), os.getloadavg()[0]
    phases = {}
    last = [began]

    def lap(name):
        """How long each part took: make bench is to stay within ten minutes."""
        now = time.monotonic()
        phases[name] = round(now - last[0], 1)
        last[0] = now
        print(f"bench: {name} done ({phases[name]:.0f} s, {(now - began) / 60:.1f} min in all)", flush=True)

    files = {n: rule_file(n) for n in RULE_COUNTS}
    baseline, baseline_why = build_baseline()
    print(f"bench: {ROUNDS} rounds, {CYCLES} cycles a run, variants alternating; "
          f"{BASELINE}: {baseline or baseline_why}", flush=True)
    lap("baseline build")

    bind = wall_times(bind_variants(files), CYCLES)
    conn_port = free_port()
    conn_variants = {
        "no shim": ("connect", conn_port, None, None),
        "bare interposer": ("connect", conn_port, PASSTHRU, None),
        "libreuse 10000 rules, no match": ("connect", conn_port, LIB, files[10000]),
    }
    conn = wall_times(conn_variants, CYCLES // 4)
    lap("bind and connect cycles, wall times")

    ir = {}
    for name, args in {
        "no shim": ("bind", NOMATCH_PORT, None, None),
        "bare interposer": ("bind", NOMATCH_PORT, PASSTHRU, None),
        "program sets both itself": ("bind-self", NOMATCH_PORT, None, None),
        "libreuse 0 rules, no match": ("bind", NOMATCH_PORT, LIB, files[0]),
        "libreuse 10000 rules, no match": ("bind", NOMATCH_PORT, LIB, files[10000]),
        "libreuse 10 rules, last matches": ("bind", BASE_PORT + 9, LIB, files[10]),
        "libreuse 10000 rules, first matches": ("bind", BASE_PORT, LIB, files[10000]),
        "libreuse 10000 rules, last matches": ("bind", BASE_PORT + 9999, LIB, files[10000]),
    }.items():
        ir[name] = instructions_per_cycle(*args)
    if baseline:
        ir[f"{BASELINE}: 10000 rules, no match"] = instructions_per_cycle("bind", NOMATCH_PORT, baseline,
                                                                           files[10000])
        ir[f"{BASELINE}: 10000 rules, last matches"] = instructions_per_cycle("bind", BASE_PORT + 9999, baseline,
                                                                              files[10000])
    for name, (mode, port, preload, conf) in conn_variants.items():
        ir["connect: " + name] = instructions_per_cycle(mode, port, preload, conf)
    # A datagram on a UDP socket its first send bound (port 9, discard):
    # what every later datagram of a sender pays, with no send rule and
    # with one (that names another port: the socket is not its business).
    send_rule = os.path.join(TMP, "send.conf")
    with open(send_rule, "w") as f:
        f.write('rules = ( { match = { op = "send"; port = 10; }; source = ":0"; } );\n')
    for name, (preload, conf) in {"no shim": (None, None), "libreuse, no send rule": (LIB, files[10000]),
                                  "libreuse, a send rule": (LIB, send_rule)}.items():
        ir["sendto: " + name] = instructions_per_cycle("sendto", 9, preload, conf)
    true_ir = [callgrind_total(["/bin/true"], env_for()), callgrind_total(["/bin/true"], env_for(PASSTHRU)),
               callgrind_total(["/bin/true"], env_for(LIB, files[10000]))]
    lap("callgrind")

    load = [run([LOADTIME, files[n], "21"], env_for()).split() for n in (1000, 10000)]
    rss = {name: statistics.median(float(run([WORKLOAD, "rss", "0"], env_for(p, c))) for _ in range(5))
           for name, p, c in (("no shim", None, None), ("libreuse 0 rules", LIB, files[0]),
                              ("libreuse 10000 rules", LIB, files[10000]))}
    load_profile = load_profile_of(files[10000])

    rps = {"no shim": [], "libreuse": []}
    for _ in range(NGINX_ROUNDS):
        for name, p, c in (("no shim", None, None), ("libreuse", LIB, files[10000])):
            r = nginx_rps(None, p, c)
            if r:
                rps[name].append(r)
    # Each round's ratio too: their spread is the noise of this measure.
    rounds = [a / b for a, b in zip(rps["libreuse"], rps["no shim"])]
    rps = {k: statistics.median(v) for k, v in rps.items() if v}
    if rounds:
        rps["spread"] = (min(rounds), max(rounds))
    lap("load time, memory, nginx")

    first, first_faults = first_socket_costs(files, baseline)
    first_calls = {"1": floors.first_call(B, os.path.join(TMP, "one.conf"), TMP),
                   "10000": floors.first_call(B, files[10000], TMP)}
    startup = floors.startup(B, files[10000])
    lap("first socket() and start-up")
    keep = keep_costs()
    adoption = floors.adoption_calls(B, TMP)
    keep["restarts"] = restart_latency()
    keep["latency"] = restart_bench.measure()
    lap("keeping and restarts")
    sup = supervisor_costs(files)
    supervisor = floors.supervisor(B, files, TMP)
    lap("supervisor")

    # The tree measured: its commit, and "+changes" when its code (anything
    # but docs/, which this run rewrites) differs from it.
    git = ["git", "-C", ROOT]
    commit = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    changed = subprocess.run(git + ["status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs"], capture_output=True,
                             text=True).stdout.strip()
    commit = (commit or "unknown") + (" with changes not committed" if changed else "")
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    res = {
        "run": {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "commit": commit, "cpu": cpu,
                "cores": os.cpu_count(), "kernel": platform.release(), "libc": " ".join(platform.libc_ver()),
                "seconds": round(time.monotonic() - began), "load_start": load_start,
                "load_end": os.getloadavg()[0], "phases": phases, "rounds": ROUNDS, "cycles": CYCLES,
                "nginx_rounds": NGINX_ROUNDS, "restarts": RESTARTS, "restart_n": restart_bench.N,
                "nomatch_port": NOMATCH_PORT, "baseline": BASELINE, "baseline_commit": BASELINE_COMMIT},
        "bind": bind, "conn": conn, "ir": ir, "true_ir": true_ir, "load": load, "rss": rss, "rps": rps,
        "load_profile": load_profile, "keep": keep, "sup": sup, "first": first, "first_faults": first_faults,
        "baseline_why": baseline_why, "why_no_i386": why_no_i386(), "floor1": FLOOR1, "floor10k": FLOOR10K,
        "floor1s": FLOOR1S, "floor10ks": FLOOR10KS,
        "first_calls": first_calls, "startup": startup, "adoption_calls": adoption, "supervisor": supervisor,
    }
    res["floors"] = floors.figures(res)
    os.makedirs(os.path.dirname(os.path.abspath(results)), exist_ok=True)
    with open(results + ".new", "w") as f:
        json.dump(res, f, indent=1)
    os.replace(results + ".new", results)
    print(f"\nbench: {res['run']['date']}, {cpu}, load average {load_start:.1f} → {res['run']['load_end']:.1f}, "
          f"{res['run']['seconds'] / 60:.1f} min; results in {results}\n")
    floors.print_table(res["floors"])

def load_profile_of(conf):
    """callgrind's view of one 10,000-rule load: total, libconfig's share
    (config_read_string and config_destroy, inclusive), and the rest."""
    out = os.path.join(TMP, "cg-load.out")
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", LOADTIME, conf, "1"],
                   env=env_for(), capture_output=True, timeout=600, check=True)
    ann = subprocess.run(["callgrind_annotate", "--auto=no", "--inclusive=yes", out],
                         capture_output=True, text=True, check=True).stdout
    # A function inlined elsewhere is listed once more under a header's
    # name: keep each function's largest (its own) inclusive count.
    incl = {}
    for line in ann.splitlines():
        m = re.match(r"\s*([\d,]+)\s.*?:(\S+)", line)
        if m:
            fn = m.group(2)
            incl[fn] = max(incl.get(fn, 0), int(m.group(1).replace(",", "")))
    libconfig = incl.get("config_read_string", 0) + incl.get("config_destroy", 0)
    total = incl.get("lr_config_load_file", 0) + incl.get("lr_table_compile", 0)
    return {"total": total, "libconfig": libconfig, "compile": total - libconfig}


FLOOR1 = "floor, 1 rule (open, fstat, mmap, touch, close its table)"
FLOOR10K = "floor, 10000 rules (the same of its table)"
# The floors make no socket(), which the library's first call makes
# too (a fresh process's first, 10 µs here): these add it, for comparison.
FLOOR1S = "floor with the socket(), 1 rule (its table read, then socket())"
FLOOR10KS = "floor with the socket(), 10000 rules (the same)"


if __name__ == "__main__":
    # floors.py reaches this module's runners and paths through B.
    B = sys.modules[__name__]
    try:
        main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)

#!/usr/bin/python3
"""make bench: libreuse against no shim, a bare pass-through interposer and a
program setting its options itself, side by side in one run. Variants
alternate within each round; medians over the rounds; callgrind instruction
counts (exact, repeatable) next to wall times. Writes docs/performance.md and
docs/performance.png."""
import errno
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
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
    maps and touches each page of that same table, then closes it; and the
    first time after the file changed (an empty cache: the library's helper
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
            if preload == "floor":
                if not rnd:
                    continue  # round 0 fills the warm caches
                table = [f for f in os.listdir(cache) if f.endswith(".table")]
                out = run([WORKLOAD, "first-floor", os.path.join(cache, table[0])], env_for())
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
    for path in (LIB, PASSTHRU, WORKLOAD, LOADTIME, CLI, KEEPFLOOD):
        if not os.path.exists(path):
            sys.exit(f"bench: {path} missing; run make bench")
    files = {n: rule_file(n) for n in RULE_COUNTS}
    baseline, baseline_why = build_baseline()
    print(f"bench: {ROUNDS} rounds, {CYCLES} cycles a run, variants alternating; "
          f"{BASELINE}: {baseline or baseline_why}", flush=True)

    bind = wall_times(bind_variants(files), CYCLES)
    conn_port = free_port()
    conn_variants = {
        "no shim": ("connect", conn_port, None, None),
        "bare interposer": ("connect", conn_port, PASSTHRU, None),
        "libreuse 10000 rules, no match": ("connect", conn_port, LIB, files[10000]),
    }
    conn = wall_times(conn_variants, CYCLES // 4)
    print("bench: wall times done; callgrind next", flush=True)

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
    true_bare = callgrind_total(["/bin/true"], env_for(PASSTHRU))
    true_lib = callgrind_total(["/bin/true"], env_for(LIB, files[10000]))
    true_none = callgrind_total(["/bin/true"], env_for())

    load = [run([LOADTIME, files[n], "21"], env_for()).split() for n in (1000, 10000)]
    rss = {name: statistics.median(float(run([WORKLOAD, "rss", "0"], env_for(p, c))) for _ in range(5))
           for name, p, c in (("no shim", None, None), ("libreuse 0 rules", LIB, files[0]),
                              ("libreuse 10000 rules", LIB, files[10000]))}

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

    first, first_faults = first_socket_costs(files, baseline)
    keep = keep_costs()
    keep["restarts"] = restart_latency()
    keep["latency"] = restart_bench.measure()
    sup = supervisor_costs(files)
    write_report(bind, conn, ir, (true_none, true_bare, true_lib), load, rss, rps,
                 load_profile_of(files[10000]), keep, sup, first, baseline_why, first_faults)


def verdict(ok):
    return "met" if ok else "**missed**"


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


def write_report(bind, conn, ir, true_ir, load, rss, rps, load_profile, keep, sup, first, baseline_why,
                 first_faults):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    L = []
    w = L.append
    w("# Performance\n")
    w(f"Measured by `make bench` on {date}: {cpu}, {os.cpu_count()} cores, Linux "
      f"{platform.release()}, {platform.libc_ver()[0]} {platform.libc_ver()[1]}. "
      f"Wall times are medians of {ROUNDS} rounds in which every variant ran once, in turn, each round starting one variant later "
      f"({CYCLES} cycles a run, after a warm-up of a tenth of that); instruction counts are "
      "callgrind's user-space counts per cycle (the difference of a 1,100- and a 110-cycle run, "
      "so start-up cancels out). The machine is shared: trust the instruction counts and the "
      "ratios over the absolute times.\n")
    w("Rule files: N rules, rule i matching TCP port 20000+i and injecting SO_REUSEADDR and "
      f"SO_REUSEPORT. Every variant binds a fixed port of 127.0.0.1, so the kernel does the same work "
      f"in each: *no match* and the variants without libreuse bind {NOMATCH_PORT}, which no rule names; "
      "*first* / *last matches* bind the port of the first / last rule. The workload sets SO_REUSEADDR "
      "itself; libreuse adds SO_REUSEPORT. Timed runs are pinned to one CPU.\n")

    w("## Targets\n")
    w("| target | measured | |")
    w("|---|---|---|")
    r1 = bind["libreuse 10000 rules, last matches"] / bind["program sets both itself"]
    w(f"| injecting both options ≤ 1.02× the program setting them itself, 10,000 rules | {r1:.3f}× | {verdict(r1 <= 1.02)} |")
    d1 = ir["libreuse 10000 rules, last matches"] - ir["bare interposer"]
    w(f"| ≤ 1,000 instructions added per bind cycle over the bare interposer (injecting, 10,000 rules) | {d1:.0f} | {verdict(d1 <= 1000)} |")
    old = {k.split(": ", 1)[1]: v - ir["bare interposer"] for k, v in ir.items() if k.startswith(BASELINE)}
    was = (lambda k: f" ({BASELINE}: {old[k]:.0f})") if old else (lambda k: "")
    w(f"| ≤ 400 instructions added per injecting bind cycle over the bare interposer (10,000 rules, last rule matches) | {d1:.0f}{was('10000 rules, last matches')} | {verdict(d1 <= 400)} |")
    d2 = ir["libreuse 10000 rules, no match"] - ir["bare interposer"]
    w(f"| ≤ 100 instructions added per bind cycle no rule matches, over the bare interposer (10,000 rules) | {d2:.0f}{was('10000 rules, no match')} | {verdict(d2 <= 100)} |")
    one, many = first["libreuse 1 rule, table cached"], first["libreuse 10000 rules, table cached"]
    if f"{BASELINE}, 1 rule" in first:
        b1 = first[f"{BASELINE}, 1 rule"]
        w(f"| a program's first socket(), 1 rule: no slower than {BASELINE} (side by side) | {one:,.0f} µs against {b1:,.0f} µs "
          f"({one / b1:.2f}×) | {verdict(one <= b1)} |")
    else:
        w(f"| a program's first socket(), 1 rule: no slower than {BASELINE} | not measured: {baseline_why} | **missed** |")
    w(f"| a program's first socket(), 10,000 rules: ≤ 2 ms more than 1 rule (table compiled) | {(many - one) / 1000:.2f} ms more | "
      f"{verdict(many - one <= 2000)} |")
    for n, name, fl in ((1, "libreuse 1 rule, table cached", FLOOR1), (10000, "libreuse 10000 rules, table cached", FLOOR10K)):
        r = first[name] / first[fl]
        w(f"| a program's first socket(), {n:,} rule{'s' if n > 1 else ''}, table cached: ≤ 2× its floor's time | "
          f"{first[name]:,.0f} µs against {first[fl]:,.0f} µs ({r:.2f}×) | {verdict(r <= 2)} |")
        d = first_faults[name] - first_faults[fl]
        w(f"| ...page faults ≤ its floor's + 4 | {first_faults[name]:.0f} against {first_faults[fl]:.0f} (+{d:.0f}) | "
          f"{verdict(d <= 4)} |")
    for k in ("libreuse, no send rule", "libreuse, a send rule"):
        ds = ir["sendto: " + k] - ir["sendto: no shim"]
        w(f"| ≤ 20 instructions added per datagram on a bound UDP socket ({k.split(', ', 1)[1]}; sendto, callgrind) | {ds:.1f} | {verdict(ds <= 20)} |")
    r2 = bind["libreuse 10000 rules, no match"] / bind["no shim"]
    w(f"| a call no rule matches ≤ 1.02× no shim, 10,000 rules | {r2:.3f}× | {verdict(r2 <= 1.02)} |")
    r3 = true_ir[2] / true_ir[1]
    w(f"| start-up of /bin/true with a 10,000-rule file ≤ 1.10× the bare interposer (instructions) | {r3:.3f}× ({true_ir[2]:,} vs {true_ir[1]:,}) | {verdict(r3 <= 1.10)} |")
    lt = float(load[1][0])
    w(f"| loading 10,000 rules < 20 ms | {lt:.2f} ms (1,000 rules: {float(load[0][0]):.2f} ms) | {verdict(lt < 20)} |")
    added = rss["libreuse 10000 rules"] - rss["no shim"]
    w(f"| memory added ≤ 1 MiB RSS at 10,000 rules | {added:.0f} KiB (table {int(load[1][1]) // 1024} KiB) | {verdict(added <= 1024)} |")
    if "libreuse" in rps and "no shim" in rps:
        r4 = rps["libreuse"] / rps["no shim"]
        w(f"| nginx requests/s under libreuse ≥ 0.99× without (wrk, 16 connections, median of {NGINX_ROUNDS} 2 s runs each, alternating; nginx and wrk pinned to separate CPUs) | {r4:.3f}× ({rps['libreuse']:,.0f} vs {rps['no shim']:,.0f}; rounds from {rps['spread'][0]:.3f}× to {rps['spread'][1]:.3f}×) | {verdict(r4 >= 0.99)} |")
    else:
        w("| nginx requests/s ≥ 0.99× | not measured: wrk or nginx missing | **missed** |")
    # A bind cycle traps two calls (setsockopt SO_REUSEADDR, bind); a connect cycle one.
    per_bind = (sup["bind: supervisor"] - sup["bind: no shim"]) / 2
    per_conn = sup["connect: supervisor"] - sup["connect: no shim"]
    w(f"| a trapped call adds ≤ 15 µs under the seccomp supervisor (median) | bind cycle: {per_bind / 1000:.1f} µs a call; "
      f"connect cycle: {per_conn / 1000:.1f} µs | {verdict(max(per_bind, per_conn) <= 15000)} |")
    if "bind i386: supervisor" in sup:
        per_bind32 = (sup["bind i386: supervisor"] - sup["bind i386: no shim"]) / 2
        w(f"| a trapped i386 call (a static 32-bit program) costs what an x86-64 one does | {per_bind32 / 1000:.1f} µs a call "
          f"against {per_bind / 1000:.1f} µs ({per_bind32 / per_bind:.2f}×) | {verdict(per_bind32 <= 1.25 * per_bind)} |")
    else:
        w(f"| a trapped i386 call | not measured: {why_no_i386()} | **missed** |")
    ru = sup["untrapped: supervisor"] / sup["untrapped: no shim"]
    w(f"| untrapped calls under the supervisor: no measurable difference | {ru:.3f}× "
      f"({sup['untrapped: supervisor']:.0f} vs {sup['untrapped: no shim']:.0f} ns a getppid) | "
      f"{verdict(abs(ru - 1) <= 0.02)} |")
    w("")

    w("## Bind cycle (socket, setsockopt, bind 127.0.0.1, close)\n")
    w("| variant | ns/cycle (median) | × no shim | instructions/cycle |")
    w("|---|---:|---:|---:|")
    for name, ns in bind.items():
        irs = f"{ir[name]:,.0f}" if name in ir else ""
        w(f"| {name} | {ns:,.0f} | {ns / bind['no shim']:.3f} | {irs} |")
    w("")
    w("## Connect cycle (connect to a loopback listener, accept, reset, close both)\n")
    w("| variant | ns/cycle (median) | × no shim | instructions/cycle |")
    w("|---|---:|---:|---:|")
    for name, ns in conn.items():
        w(f"| {name} | {ns:,.0f} | {ns / conn['no shim']:.3f} | {ir['connect: ' + name]:,.0f} |")
    w("")
    w("## The seccomp supervisor (`libreuse run --seccomp`)\n")
    w("The same workload (a dynamically linked program, so that the shim can run it too), alternating "
      f"in each of {ROUNDS} rounds. The bind cycle traps two calls (setsockopt SO_REUSEADDR and bind: "
      "10-rule file, last rule matches, injecting SO_REUSEPORT); the connect cycle one (a connect rule); "
      "getppid is never trapped. The i386 rows run the same workload built with `gcc -m32 -static`, "
      "which `run` puts under the supervisor: its calls take the filter's i386 branch.\n")
    w("| variant | ns (median) | × no shim |")
    w("|---|---:|---:|")
    for name, ns in sup.items():
        base = sup[name.split(":")[0] + ": no shim"]
        w(f"| {name} | {ns:,.0f} | {ns / base:.2f} |")
    w("")
    w(f"- A trapped call costs about {per_bind / 1000:.1f} µs in the bind cycle and {per_conn / 1000:.1f} µs in the "
      "connect cycle: the round trip through the kernel's notification (two context switches), copying "
      "the sockaddr out of the program, pidfd_getfd (on a pidfd kept for the thread) for a duplicate of its socket, the "
      "checks that the call is still waiting, the core's decision, the call on the duplicate, and the "
      "answer; some ten system calls at 1 to 2 µs each on this machine, where a whole bind cycle is "
      f"{sup['bind: no shim'] / 1000:.1f} µs. The workload's connect is on a blocking socket, so the "
      "supervisor hands it to a pool thread (it may block): one more switch. Calls the filter does not "
      "trap pay for the filter itself: "
      f"{sup['untrapped: supervisor'] - sup['untrapped: no shim']:.0f} ns on a getppid (the kernel's "
      "seccomp entry and the filter's classic-BPF instructions: the arch, then the x86-64 numbers; "
      "an i386 call walks the i386 ones), which no real workload made of system "
      "calls that do work would show.\n")
    w("## Keeping: one bind cycle in a fresh process under `libreuse run --keep`\n")
    w(f"Each a child of the program the keeper started (so the keeper serves it), timed after a "
      f"warm-up cycle on another port; medians of {ROUNDS} processes per variant, in turn.\n")
    w("| variant | ns/cycle (median) | × no rule |")
    w("|---|---:|---:|")
    for name, ns in keep.items():
        if name not in ("restarts", "latency"):
            w(f"| {name} | {ns:,.0f} | {ns / keep['libreuse, no rule']:.1f} |")
    w("")
    w(f"- Adoption adds {keep['adopted from the keeper'] - keep['libreuse, no rule']:,.0f} ns to the bind "
      "it replaces: a connection to the keeper and one request each way (the keeper checks the asker's "
      "ancestry in /proc), then dup3 and the program's options copied over (about 25 pairs of "
      "getsockopt). A keep that finds nothing kept pays the round trip alone: "
      f"{keep['keep rule, nothing kept (keeper asked)'] - keep['libreuse, no rule']:,.0f} ns. Both happen "
      "once per kept socket per instance, at its start; accepting and serving are untouched (the "
      "program accepts from the kept socket itself).\n")
    w("## A program's first socket() (fresh process)\n")
    w("The library finds its compiled table there: in the cache (`run` and `libreuse compile` fill it), "
      "or, when the rule file changed since, from a helper process it starts, which compiles it outside the "
      f"program. Medians of {ROUNDS} processes per variant, in turn.\n")
    w("| variant | µs (median) | − no shim | × its floor | page faults (median) |")
    w("|---|---:|---:|---:|---:|")
    for name, us in first.items():
        if name != "page fault":
            fl = FLOOR1 if name == "libreuse 1 rule, table cached" else FLOOR10K if name == "libreuse 10000 rules, table cached" else None
            ratio = f"{us / first[fl]:.2f}" if fl else ""
            w(f"| {name} | {us:,.0f} | {us - first['no shim']:,.0f} | {ratio} | {first_faults[name]:.0f} |")
    w("")
    w("- Each floor is what reading its table at least costs a fresh process: the same workload, which "
      "opens the cached table, fstats it, maps it read-only, loads a byte of each page and closes it. The "
      "system calls of the first call are counted by t_firstcost.sh (strace), which `make check` runs.")
    d = first["libreuse 10000 rules, table cached"] - first["libreuse 1 rule, table cached"]
    w(f"- 10,000 rules cost {d / 1000:.2f} ms more than 1 rule once compiled (target: at most 2 ms).")
    c1 = first["libreuse 1 rule, file just changed (helper compiles)"]
    c2 = first["libreuse 10000 rules, file just changed (helper compiles)"]
    was = (f", against {first[f'{BASELINE}, 1 rule'] / 1000:.1f} and {first[f'{BASELINE}, 10000 rules'] / 1000:.1f} ms "
           f"{BASELINE}, which parsed at every start") if f"{BASELINE}, 1 rule" in first else ""
    w(f"- The first start after the rule file changed costs {c1 / 1000:.1f} ms at 1 rule and {c2 / 1000:.1f} ms at "
      "10,000: the helper's process, libconfig's parse and the compile, and the table written to the cache for "
      f"every start after{was}.")
    if f"{BASELINE}, 1 rule" in first:
        w(f"- {BASELINE} ({BASELINE_COMMIT}, built from this repository's history for this run), the library "
          "opened libconfig inside the program and parsed the rule file there, at every start. The cached table "
          "costs what remains: reading one file (8 KiB at 1 rule, 372 KiB at 10,000), checking it, and the "
          "bind gate's writes for the ports the rules name, each page of it first touched at a page fault's "
          f"cost: {first['page fault']:.1f} µs on this machine (median, a fresh anonymous page).")
    w("")
    w("## Restarts under hostile peers (`run --keep`, SIGHUP: signal to old instance gone)\n")
    w(f"Three keepers of the same server side by side, restarted in turn, {RESTARTS} times each; "
      "the peers run as another user (nobody) and are outside the keeper's tree.\n")
    w("| keeper | median ms | max ms | median × calm |")
    w("|---|---:|---:|---:|")
    calm = keep["restarts"]["calm"][0]
    for name, (med, mx) in keep["restarts"].items():
        w(f"| {name} | {med:,.0f} | {mx:,.0f} | {med / calm:.2f} |")
    w("")
    w("- An outsider is refused at accept from its credentials, before a byte is read: silent connections "
      "cost the keeper one look each, once. The storm costs what the kernel's accept and one /proc walk per "
      "connection cost, on a machine whose cores the storm itself keeps busy.\n")
    for line in restart_bench.section(keep["latency"]):
        w(line)
    w("## Start-up of /bin/true (callgrind instructions)\n")
    w(f"no shim {true_ir[0]:,}; bare interposer {true_ir[1]:,}; libreuse with a 10,000-rule file {true_ir[2]:,}. "
      "libreuse reads nothing until the first IP socket call, so the rule file is never opened here.\n")
    w("## Memory (VmRSS after one bind cycle, median of 5)\n")
    for k, v in rss.items():
        w(f"- {k}: {v:,.0f} KiB")
    w("")
    w("## Notes on each target\n")
    noise = bind["bare interposer"] / bind["no shim"]
    added_nomatch = ir["libreuse 10000 rules, no match"] - ir["bare interposer"]
    w(f"- **Wall-time ratios.** In this same run the bare interposer, which adds "
      f"{ir['bare interposer'] - ir['no shim']:.0f} instructions a cycle, measured {noise:.3f}× no shim: "
      "run-to-run noise on this shared two-core machine is a few percent either way, as large as "
      "the margins being judged, so the instruction counts are the exact measure. libreuse adds "
      f"{d1:.0f} instructions to an injecting bind cycle and {added_nomatch:.0f} to one no rule "
      "matches, whatever the rule count (the index finds a port's few candidates without a scan); "
      "most of them are the hooks themselves: reading the caller's sockaddr, the per-fd state, "
      "the epoch guard that keeps a table alive across a reload, and the once-a-second reload "
      "check's clock read. A bind cycle is about "
      f"{bind['no shim'] / 1000:.1f} µs of system calls, so 1.02× leaves about "
      f"{bind['no shim'] * 0.02:.0f} ns: some 200 instructions and no locked instruction, where "
      "libreuse's guard takes two (an increment and a decrement of the epoch's reader count). "
      "Meeting it would take a reader registered per thread (so that a call writes only its own "
      "counter, with membarrier(2) on the rare reload) and fewer, fused steps per hook; neither is "
      "built.")
    if "spread" in rps:
        w(f"- **nginx.** wrk keeps its 16 connections open, so the calls libreuse intercepts in nginx "
          "are one setsockopt (TCP_NODELAY, passed straight through) and one close per connection, "
          "none per request. What differs between the two is "
          "where the libraries landed in memory, and the "
          f"round-by-round ratio ran from {rps['spread'][0]:.3f}× to {rps['spread'][1]:.3f}× in this run.")
    w(f"- **Start-up ({r3:.3f}×).** Nothing is read before the first IP socket call, and the "
      "library links nothing but libc, so a program that opens no socket pays for ld.so mapping and "
      "relocating libreuse.so alone, and its constructor (one dup of stderr).")
    share = load_profile.get("libconfig", 0) / load_profile["total"] if load_profile.get("total") else 0
    w(f"- **Load time ({lt:.1f} ms).** Paid outside the program since the library reads compiled tables: "
      "by `run` or `libreuse compile` before the program starts, or by the library's helper process at "
      f"the first start after the file changed. callgrind puts {share:.0%} of a 10,000-rule load in libconfig "
      "1.5 itself (its scanner, parser, the malloc and free of its parse tree: "
      f"{load_profile.get('libconfig', 0) / 1e6:.0f}M of {load_profile.get('total', 0) / 1e6:.0f}M instructions); "
      f"validating the settings and compiling the table take {load_profile.get('compile', 0) / 1e6:.1f}M. "
      "The margin left is libconfig's: going further means reading the rule file without it.")
    w(f"- **Memory ({added:.0f} KiB).** About {rss['libreuse 0 rules'] - rss['no shim']:.0f} KiB is "
      "libreuse.so and the libc pages a load touches (the library loads no other: the table is compiled "
      "outside the program); the compiled table is "
      f"{int(load[1][1]) // 1024} KiB: 24-byte entries (ports, protocol, family, position), an action "
      "shared by every rule that does the same (one here), address blocks only for rules that have "
      "one, and the port index (a 32 KiB block map for more than 64 intervals, then 10 bytes a rule).")
    w("")
    w("![cost per bind cycle against rule count](performance.png)\n")
    with open(os.path.join(ROOT, "docs", "performance.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    plot(bind)
    print("\n".join(L))


def plot(bind):
    if not shutil.which("gnuplot"):
        print("bench: gnuplot missing, no plot")
        return
    data = os.path.join(TMP, "plot.dat")
    with open(data, "w") as f:
        for n in RULE_COUNTS[1:]:
            f.write(f"{n} {bind[f'libreuse {n} rules, no match']} {bind[f'libreuse {n} rules, first matches']} "
                    f"{bind[f'libreuse {n} rules, last matches']}\n")
    script = f"""set terminal pngcairo size 800,480
set output '{os.path.join(ROOT, "docs", "performance.png")}'
set logscale x
set xlabel 'rules in the file'
set ylabel 'ns per bind cycle (median)'
set key bottom right
set yrange [0:*]
plot '{data}' using 1:2 with linespoints title 'libreuse, no match', \\
     '{data}' using 1:3 with linespoints title 'libreuse, first rule matches', \\
     '{data}' using 1:4 with linespoints title 'libreuse, last rule matches', \\
     {bind['no shim']} title 'no shim', {bind['bare interposer']} title 'bare interposer', \\
     {bind['program sets both itself']} title 'program sets both itself'
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)

#!/usr/bin/python3
"""Rewrites docs/performance.md's generated block, and the plot it shows
(docs/performance-floors.svg), from the results file one make bench run
wrote (build/bench/results.json): every figure beside its floor, then the
sections bench.py has always measured. What lies outside the block (the
figures only measured by hand) is left as it is.

    perfdoc.py RESULTS DOC"""
import html
import json
import math
import os
import sys

# No __pycache__ in the source tree for the modules beside this one.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floors  # noqa: E402  (tests/bench/floors.py)
import restart as restart_bench  # noqa: E402  (tests/bench/restart.py)

BEGIN = ("<!-- make bench: the block down to its end mark is written by tests/bench/perfdoc.py "
         "from build/bench/results.json; edits here are lost -->")
END = "<!-- make bench: end of the generated block -->"
SVG = "performance-floors.svg"


def restart_section(latency, n):
    restart_bench.N = n  # the section says how many restarts its medians are of
    return restart_bench.section(latency)


def header(res):
    run = res["run"]
    return [f"Measured by `make bench` on {run['date']} at {run['commit']}: {run['cpu']}, {run['cores']} cores, "
            f"Linux {run['kernel']}, {run['libc']}; the whole run took {run['seconds'] / 60:.1f} minutes, the load "
            f"average was {run['load_start']:.1f} at its start and {run['load_end']:.1f} at its end"
            f"{' (a machine shared with other work: trust the counts over the times)' if max(run['load_start'], run['load_end']) > 1.5 else ''}. "
            "Every figure below comes from that one run, and `make bench-doc` writes this block again from "
            "its results file.\n"]


def floors_section(res):
    L = ["## Each figure beside its floor (issue 27)\n",
         "Each figure is measured in the same run as its floor, side by side: times are medians of "
         f"{res['run']['rounds']} runs (variants in turn), instruction counts callgrind's, system calls strace's "
         "(between two getppid() marks around the call; for the supervisor, from one notification received to "
         "the next, the median over 200 traps), page faults getrusage's. The ratio is libreuse over "
         "its floor, the difference beside it; a target names what issue 27 asks.\n",
         "| figure (unit) | libreuse | floor | × floor (difference) | target | met | the floor |",
         "|---|---:|---:|---:|---|---|---|"]
    for f, row in zip(res["floors"], floors.table(res["floors"])):
        met = {"yes": "yes", "no": "**no**"}.get(row[5], row[5])
        L.append(f"| {row[0]} | {row[1]} | {row[2]} | {row[3]} | {row[4]} | {met} | {f['floor_is']} |")
    L.append("")
    L.append(f"![each figure over its floor, and its target]({SVG})\n")
    return L


def svg(F):
    """A bar a figure: libreuse over its floor on a log scale, the target's
    ratio marked where it is one (a ratio, or floor + n made a ratio)."""
    rows, base = [], ""
    for f in F:
        # A "..." row goes on with the figure above it: say which in the plot.
        base = f["figure"].split(":")[0] if not f["figure"].startswith("...") else base
        if f["ratio"] is not None:
            rows.append(dict(f, label=base + ": " + f["figure"][3:] if f["figure"].startswith("...") else f["figure"]))
    bar_h, gap, left, width = 16, 6, 430, 360
    height = 40 + len(rows) * (bar_h + gap) + 30
    lo, hi = 0.5, max(16.0, max(f["ratio"] for f in rows) * 1.1)
    def x(v):
        v = min(max(v, lo), hi)
        return left + width * (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 70}" height="{height}" '
           'font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left}" y="16" font-weight="bold">libreuse ÷ its floor (log scale; | the target)</text>']
    for v in (0.5, 1, 2, 4, 8, 16, 32, 64):
        if v <= hi:
            out.append(f'<line x1="{x(v):.1f}" y1="24" x2="{x(v):.1f}" y2="{height - 24}" stroke="#ddd"/>')
            out.append(f'<text x="{x(v):.1f}" y="{height - 10}" text-anchor="middle">{v:g}×</text>')
    for i, f in enumerate(rows):
        y = 30 + i * (bar_h + gap)
        colour = "#888" if f["met"] is None else ("#3a7" if f["met"] else "#c44")
        label = html.escape(f["label"] if len(f["label"]) <= 72 else f["label"][:70] + "…")
        out.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{label}</text>')
        out.append(f'<rect x="{x(lo):.1f}" y="{y}" width="{x(f["ratio"]) - x(lo):.1f}" height="{bar_h}" fill="{colour}"/>')
        out.append(f'<text x="{x(f["ratio"]) + 4:.1f}" y="{y + 12}">{f["ratio"]:.2f}×</text>')
        t = target_ratio(f)
        if t:
            out.append(f'<line x1="{x(t):.1f}" y1="{y - 2}" x2="{x(t):.1f}" y2="{y + bar_h + 2}" stroke="black" '
                       'stroke-width="2"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def target_ratio(f):
    """The target as a ratio to the floor, or None where it is not one."""
    t = f["target"]
    if not f["floor"]:
        return None
    if t.startswith("≤ ") and t.endswith("× floor"):
        return float(t[2:-7])
    if t.startswith("≤ floor + "):
        return (f["floor"] + float(t[len("≤ floor + "):].split()[0].replace(",", ""))) / f["floor"]
    if t.startswith("≤ ") and t[2:].replace(".", "").isdigit():
        return float(t[2:]) / f["floor"]
    return None


def render(res):
    return ([BEGIN] + header(res) + floors_section(res) +
            ["The sections below are the ones bench.py made before issue 27 asked for floors, from the same "
             "run; their targets are those of the issues before it.\n"] + detail(res) + [END])


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: perfdoc.py RESULTS DOC")
    with open(sys.argv[1]) as f:
        res = json.load(f)
    with open(sys.argv[2]) as f:
        doc = f.read()
    if doc.count(BEGIN) != 1 or doc.count(END) != 1 or doc.index(BEGIN) > doc.index(END):
        sys.exit(f"perfdoc: {sys.argv[2]} has not one generated block (its marks: {BEGIN!r} ... {END!r})")
    a, b = doc.index(BEGIN), doc.index(END) + len(END)
    with open(sys.argv[2] + ".new", "w") as f:
        f.write(doc[:a] + "\n".join(render(res)) + doc[b:])
    os.replace(sys.argv[2] + ".new", sys.argv[2])
    with open(os.path.join(os.path.dirname(os.path.abspath(sys.argv[2])), SVG), "w") as f:
        f.write(svg(res["floors"]))
    print(f"perfdoc: {sys.argv[2]} and {SVG} written from {sys.argv[1]} ({res['run']['date']})")


def verdict(ok):
    return "met" if ok else "**missed**"



def detail(res):
    """The sections of the report that bench.py measured before issue 27
    asked for floors: its targets, the per-cycle tables, the supervisor,
    keeping, the first socket(), restarts, start-up, memory, and notes."""
    bind, conn, ir, true_ir = res["bind"], res["conn"], res["ir"], res["true_ir"]
    load, rss, rps, load_profile = res["load"], res["rss"], res["rps"], res["load_profile"]
    keep, sup, first, first_faults = res["keep"], res["sup"], res["first"], res["first_faults"]
    baseline_why = res["baseline_why"]
    run = res["run"]
    ROUNDS, CYCLES, NGINX_ROUNDS, RESTARTS = run["rounds"], run["cycles"], run["nginx_rounds"], run["restarts"]
    NOMATCH_PORT, BASELINE, BASELINE_COMMIT = run["nomatch_port"], run["baseline"], run["baseline_commit"]
    FLOOR1, FLOOR10K = res["floor1"], res["floor10k"]
    L = []
    w = L.append
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
        w(f"| a trapped i386 call | not measured: {res['why_no_i386']} | **missed** |")
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
    f1s, f10s = res.get("floor1s"), res.get("floor10ks")
    if f1s in first and f10s in first:
        r1 = first["libreuse 1 rule, table cached"] / first[f1s]
        r2 = first["libreuse 10000 rules, table cached"] / first[f10s]
        w(f"- Those floors make no socket(), and the library's first call is one: a fresh process's first "
          f"socket() costs {first['no shim']:,.0f} µs here by itself. Against floors that make it too "
          f"(\"floor with the socket()\"), the first call is {r1:.2f}× at 1 rule and {r2:.2f}× at 10,000.")
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
    for line in restart_section(keep["latency"], run["restart_n"]):
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
      "relocating libreuse.so alone, and its constructor (a copy of the environment the process "
      "started with, as issue 31 has it, and one dup of stderr); the sections measured by hand, after this block, say "
      "where the rest goes.")
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
    return L


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# make bench's report, from a run it recorded (tests/bench/results-sample.json,
# a copy of build/bench/results.json): perfdoc.py writes the generated block
# of docs/performance.md and its plot, and every figure of issue 27 is there
# beside its floor with the ratio and the verdict worked out again here from
# the run's own numbers, so that a change to the report's code cannot put a
# wrong ratio or a wrong "met" in the doc unnoticed (make bench itself takes
# minutes and is not part of make check). When bench.py comes to record
# something new, a new run's results file is copied over the sample.
. "$(dirname "$0")/../lib.sh"

SAMPLE=$ROOT/tests/bench/results-sample.json
PERFDOC=$ROOT/tests/bench/perfdoc.py

cp "$ROOT/docs/performance.md" "$T/performance.md"
"$PY" "$PERFDOC" "$SAMPLE" "$T/performance.md" >"$T/out" 2>&1
rc=$?
check "perfdoc.py renders the recorded run (exit $rc)" test $rc = 0
check "...and writes the plot beside the doc" test -s "$T/performance-floors.svg"
# Only the generated block moves: the text before and after it is the doc's own.
before() { sed -n '1,/^<!-- make bench: the block down/p' "$1" | head -n -1; }
after() { sed -n '/^<!-- make bench: end of the generated block -->/,$p' "$1"; }
check "...and leaves the doc's text before its block as it was" \
	cmp -s <(before "$ROOT/docs/performance.md") <(before "$T/performance.md")
check "...and after it" cmp -s <(after "$ROOT/docs/performance.md") <(after "$T/performance.md")

# Each figure's row: the ratio and the verdict, recomputed from the run's
# numbers and the target's words; and the figures themselves, from the run's
# raw measures, as bench.py made them.
"$PY" - "$SAMPLE" "$T/performance.md" "$T/performance-floors.svg" "$ROOT/tests/bench" >"$T/rows" 2>&1 <<'PYEOF'
import json, re, sys
sample, doc, svg, bench = sys.argv[1:5]
sys.path.insert(0, bench)
import floors
res = json.load(open(sample))
text = open(doc).read()
# The figures' table: its rows in the figures' order (two "..." rows may
# read the same), from the header row to the blank line that ends it.
lines = text.splitlines()
top = next(i for i, l in enumerate(lines) if l.startswith("| figure (unit) |"))
rows = []
for l in lines[top + 2:]:
    if not l.startswith("| "):
        break
    rows.append([c.strip() for c in l.strip().strip("|").split("|")])
F = res["floors"]
print("figures", len(F))
again = floors.figures(res)
print("recomputed", "same" if again == F else "differ: %r" % [a["figure"] for a, b in zip(again, F) if a != b])
bad = [] if len(rows) == len(F) else ["%d rows for %d figures" % (len(rows), len(F))]
for f, row in zip(F, rows):
    if not row[0].startswith(f["figure"]):
        bad.append("row %r where %r was due" % (row[0], f["figure"]))
        continue
    lib, floor, t = f["libreuse"], f["floor"], f["target"]
    if floor:
        want = "%.2f×" % (lib / floor)
        if not row[3].startswith(want):
            bad.append("%s: ratio %r, not %s" % (f["figure"], row[3], want))
    if t == "":
        met = None
    elif re.fullmatch(r"≤ ([\d.]+)× floor", t):
        met = lib / floor <= float(re.fullmatch(r"≤ ([\d.]+)× floor", t).group(1))
    elif t.startswith("≤ floor + "):
        met = lib - floor <= float(t[len("≤ floor + "):].split()[0].replace(",", ""))
    elif re.fullmatch(r"≤ [\d.]+", t):
        met = lib <= float(t[2:])
    else:
        met = f["met"]  # a target in words (the adoption's): the run's own verdict
    word = {None: "—", True: "yes", False: "**no**"}[met]
    if met != f["met"]:
        bad.append("%s: recorded met %r, worked out %r" % (f["figure"], f["met"], met))
    if row[5] != word:
        bad.append("%s: met %r in the doc, not %r" % (f["figure"], row[5], word))
print("rows", "all right" if not bad else "wrong: " + "; ".join(bad))
plot = open(svg).read()
bars = [f for f in F if f["ratio"] is not None]
red = sum(1 for f in bars if f["met"] is False)
print("bars", len(re.findall(r'<rect x="[\d.]+" y=', plot)), len(bars))
print("red", plot.count('fill="#c44"'), red)
PYEOF
cat "$T/rows" | sed 's/^/    # /'
n=$(awk '$1 == "figures" { print $2 }' "$T/rows")
check "the recorded run has issue 27's figures ($n)" test "${n:-0}" -ge 20
check "floors.py makes the same figures again from the run's measures" grep -qx "recomputed same" "$T/rows"
check "every figure's row says its ratio and its verdict as its numbers and target do" grep -qx "rows all right" "$T/rows"
read -r _ shown want < <(grep '^bars ' "$T/rows")
check "the plot has a bar for each figure with a floor ($shown of $want)" test "$shown" = "$want"
read -r _ shown want < <(grep '^red ' "$T/rows")
check "...red where a target is missed ($shown of $want)" test "$shown" = "$want" -a "${want:-0}" -gt 0

# A run recorded before the floors that make the socket() too (session 10's
# results files) still renders, without the comparison it cannot make.
"$PY" - "$SAMPLE" "$T/old.json" <<'PYEOF'
import json, sys
res = json.load(open(sys.argv[1]))
for k in ("floor1s", "floor10ks"):
    name = res.pop(k)
    res["first"].pop(name)
    res["first_faults"].pop(name)
res["floors"] = [f for f in res["floors"] if "with the socket()" not in f["figure"]]
json.dump(res, open(sys.argv[2], "w"))
PYEOF
cp "$ROOT/docs/performance.md" "$T/old.md"
check "a run recorded before the socket() floors renders" "$PY" "$PERFDOC" "$T/old.json" "$T/old.md"
check "...without their comparison" test "$(grep -c 'floor with the socket()' "$T/old.md")" = 0
check "...where the recorded run has it" grep -q 'Against floors that make it too' "$T/performance.md"

# A doc without its marks is refused, naming the file; the doc is untouched.
printf '# Performance\n\nno block here\n' >"$T/bare.md"
"$PY" "$PERFDOC" "$SAMPLE" "$T/bare.md" >"$T/bare.out" 2>&1
rc=$?
check "a doc without the generated block's marks is refused (exit $rc)" test $rc != 0
check "...in a line naming the file" grep -q "$T/bare.md" "$T/bare.out"
check "...and left as it was" test "$(cat "$T/bare.md")" = "$(printf '# Performance\n\nno block here')"

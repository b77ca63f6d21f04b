#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Compares the C and Swift benchmark runs of one guest boot (stdlib only).

Usage: report.py RESULTS_STAGE_DIR [RESULTS_STAGE_DIR...] [--json FILE] [--check] [--markdown]
       report.py RESULTS_STAGE_DIR --converged OP

Several stage dirs (the two stages of a boot with a kexec: luo_retrieve_memfd is measured in
stage 2) are read as one: their runs or alternations are pooled per operation and side.

Interleaved runs (scripts/bench.sh's full run: RESULTS_STAGE_DIR/interleaved/<side>.tsv, lines
"alternation<TAB>op<TAB>rounds<TAB>min_ns<TAB>median_ns<TAB>max_ns"): per operation and C build
(c: the selftests' flags, c-O2), the ratio of each alternation's Swift batch median to the same
alternation's C batch median (the batches ran back to back, the sides' order rotating), and
their median with a 95% percentile-bootstrap interval (2000 resamples, fixed seed); beside it
each side's lowest min and median of batch medians. --converged OP exits 0 when both intervals
of OP are within ±3% of their median (the guest's stopping rule), 1 otherwise.

Otherwise (--short, CI): reads {c,c-O2,swift}-N.tsv (lines "op<TAB>rounds<TAB>min_ns<TAB>median_ns<TAB>max_ns" or
"op<TAB>SKIP<TAB>reason") from the guest's alternating runs. Per operation and side, over the N
runs: min = the lowest min, median = the median of the N per-run medians, max = the highest max.
Ratio = Swift median / C median. With strace/<side>-<op>.txt (strace -c -f) and the matching .tsv,
adds the system calls per round of each side.
--check (scripts/bench.sh --short): exit 1 unless every operation has numbers on both sides, an
operation skipped on both sides (with its reason: a mode or device the kernel lacks) excepted.
"""
import glob
import json
import os
import random
import re
import statistics
import sys


def stage_list(stage):
    return stage if isinstance(stage, (list, tuple)) else [stage]


def load(stage, side):
    runs = []
    paths = []
    for st in stage_list(stage):
        found = [p for p in glob.glob(os.path.join(st, f"{side}-*.tsv")) if re.fullmatch(re.escape(side) + r"-\d+\.tsv", os.path.basename(p))]
        paths += sorted(found, key=lambda p: int(re.findall(r"-(\d+)\.tsv$", p)[0]))
    for path in paths:
        run = {}
        for line in open(path):
            f = line.rstrip("\n").split("\t")
            if len(f) >= 3 and f[1] == "SKIP":
                run[f[0]] = {"skip": "\t".join(f[2:])}
            elif len(f) == 5:
                run[f[0]] = {"rounds": int(f[1]), "min": int(f[2]), "median": int(f[3]), "max": int(f[4])}
        runs.append(run)
    return runs


def combine(runs, op):
    got = [r[op] for r in runs if op in r]
    nums = [g for g in got if "skip" not in g]
    if not nums:
        return {"skip": got[0]["skip"] if got else "no output"}
    return {
        "runs": len(nums),
        "rounds": nums[0]["rounds"],
        "min_ns": min(g["min"] for g in nums),
        "median_ns": int(statistics.median(g["median"] for g in nums)),
        "max_ns": max(g["max"] for g in nums),
        "run_medians_ns": [g["median"] for g in nums],
    }


SIDES = ("c", "c-O2", "swift")
BASELINES = ("c", "c-O2")
TOLERANCE = 0.03


def load_interleaved(stage):
    """{side: {op: {alternation: row}}} from interleaved/<side>.tsv (of each stage dir); a SKIP
    row has "skip"."""
    out = {}
    for side, path in ((side, os.path.join(st, "interleaved", f"{side}.tsv")) for st in stage_list(stage) for side in SIDES):
        if not os.path.exists(path):
            continue
        ops = out.setdefault(side, {})
        for line in open(path):
            f = line.rstrip("\n").split("\t")
            if len(f) >= 4 and f[2] == "SKIP":
                ops.setdefault(f[1], {})[int(f[0])] = {"skip": "\t".join(f[3:])}
            elif len(f) == 6:
                ops.setdefault(f[1], {})[int(f[0])] = {"rounds": int(f[2]), "min": int(f[3]), "median": int(f[4]), "max": int(f[5])}
    return out


def bootstrap_median(values, resamples=2000, seed=20261207):
    """The median of `values` and its 95% percentile-bootstrap interval."""
    rng = random.Random(seed)
    n = len(values)
    meds = sorted(statistics.median(rng.choices(values, k=n)) for _ in range(resamples))
    return statistics.median(values), meds[int(0.025 * resamples)], meds[int(0.975 * resamples) - 1]


def paired(data, op, baseline):
    """Swift ÷ baseline per alternation (both measured), and its median and interval."""
    s, c = data.get("swift", {}).get(op, {}), data.get(baseline, {}).get(op, {})
    ks = sorted(k for k in s if k in c and "skip" not in s[k] and "skip" not in c[k] and c[k]["median"] > 0)
    ratios = [s[k]["median"] / c[k]["median"] for k in ks]
    if not ratios:
        return None
    med, lo, hi = bootstrap_median(ratios)
    return {"alternations": len(ratios), "median": round(med, 4), "ci95": [round(lo, 4), round(hi, 4)],
            "within_3pct": hi <= med * (1 + TOLERANCE) and lo >= med * (1 - TOLERANCE)}


def side_summary(data, side, op):
    rows = data.get(side, {}).get(op, {})
    nums = [r for r in rows.values() if "skip" not in r]
    if not nums:
        skips = [r["skip"] for r in rows.values() if "skip" in r]
        return {"skip": skips[0] if skips else "no output"}
    return {"batches": len(nums), "rounds_per_batch": nums[0]["rounds"], "min_ns": min(r["min"] for r in nums),
            "median_ns": int(statistics.median(r["median"] for r in nums)), "max_ns": max(r["max"] for r in nums)}


def interleaved_report(stage, json_out, markdown):
    data = load_interleaved(stage)
    ops = []
    for side in data.values():
        for op in side:
            if op not in ops:
                ops.append(op)
    rows = []
    for op in ops:
        row = {"op": op, **{side: side_summary(data, side, op) for side in SIDES if side in data}}
        for b in BASELINES:
            if b in data:
                row[f"swift_over_{b}"] = paired(data, op, b)
        rows.append(row)

    def ratio_cell(r):
        if not r:
            return "–"
        flag = "" if r["within_3pct"] else " (±3% not reached)"
        return f"{r['median']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]{flag}"

    if markdown:
        print("| operation | alternations × rounds | C min | C median | C -O2 median | Swift min | Swift median | Swift ÷ C [95%] | Swift ÷ C -O2 [95%] |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        c, o2, sw = row.get("c", {}), row.get("c-O2", {}), row.get("swift", {})
        if "skip" in sw or "skip" in c:
            text = f"skipped: C: {c.get('skip', 'ok')}; Swift: {sw.get('skip', 'ok')}"
            print(f"| {row['op']} | {text} ||||||||" if markdown else f"{row['op']:<36} {text[:140]}")
            continue
        r = row.get("swift_over_c")
        cells = [f"{r['alternations'] if r else 0} × {sw.get('rounds_per_batch', '?')}", fmt(c["min_ns"]), fmt(c["median_ns"]),
                 fmt(o2["median_ns"]) if "median_ns" in o2 else "–", fmt(sw["min_ns"]), fmt(sw["median_ns"]),
                 ratio_cell(row.get("swift_over_c")), ratio_cell(row.get("swift_over_c-O2"))]
        if markdown:
            print(f"| {row['op']} | " + " | ".join(cells) + " |")
        else:
            print(f"{row['op']:<36} {cells[0]:>9} C {cells[1]:>9} {cells[2]:>9}  -O2 {cells[3]:>9}  Swift {cells[4]:>9} {cells[5]:>9}  ÷C {cells[6]}  ÷O2 {cells[7]}")
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"stage_dir": [os.path.abspath(st) for st in stage_list(stage)] if isinstance(stage, list) else os.path.abspath(stage), "method": "interleaved",
                       "aggregation": "per operation: Swift batch median ÷ C batch median of the same alternation; median of those ratios with a 95% percentile-bootstrap interval (2000 resamples)",
                       "operations": rows}, f, indent=2)
    return 0


def converged(stage, op):
    data = load_interleaved(stage)
    results = [paired(data, op, b) for b in BASELINES if b in data]
    return 0 if results and all(r and r["within_3pct"] for r in results) else 1


def strace_counts(path):
    """{syscall: calls} and the total of a strace -c table."""
    calls = {}
    for line in open(path).read().splitlines():
        f = line.split()
        if len(f) >= 5 and re.match(r"^[\d.]+$", f[0]) and f[-1] != "total":
            try:
                calls[f[-1]] = int(f[3])
            except ValueError:
                pass
    return calls


def syscalls_per_round(stage, side, op):
    """System calls per round: (the op's run - the baseline run with no operation) / rounds
    (+1 for the warm-up round); the op's own set-up (opening the device for a map) stays in."""
    stage = stage_list(stage)[0]  # strace runs in stage 1
    base = os.path.join(stage, "strace", f"{side}-{op.replace(':', '_')}")
    try:
        calls = strace_counts(base + ".txt")
        tsv = open(base + ".tsv").read().split("\n")[0].split("\t")
        rounds = int(tsv[1]) + 1
    except (OSError, ValueError, IndexError):
        return None
    try:
        baseline = strace_counts(os.path.join(stage, "strace", f"{side}-baseline.txt"))
    except OSError:
        baseline = {}
    net = {k: v - baseline.get(k, 0) for k, v in calls.items()}
    net = {k: v for k, v in net.items() if v > 0 and k not in ("wait4", "clone", "dup", "dup2", "pipe", "pipe2")}
    return {"rounds_traced": rounds, "baseline_subtracted": bool(baseline),
            "per_round": round(sum(net.values()) / rounds, 2),
            "by_call_per_round": {k: round(v / rounds, 2) for k, v in sorted(net.items(), key=lambda kv: -kv[1])}}


def fmt(ns):
    if ns >= 1_000_000:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1_000:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns} ns"


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    stages = [args.pop(0)]
    while args and not args[0].startswith("--"):
        stages.append(args.pop(0))
    stage = stages[0] if len(stages) == 1 else stages
    if args[:1] == ["--converged"] and len(args) == 2:
        return converged(stage, args[1])
    json_out = None
    check = markdown = False
    while args:
        a = args.pop(0)
        if a == "--json":
            json_out = args.pop(0)
        elif a == "--check":
            check = True
        elif a == "--markdown":
            markdown = True
    if any(os.path.isdir(os.path.join(st, "interleaved")) for st in stages):
        return interleaved_report(stage, json_out, markdown)
    c_runs, s_runs = load(stage, "c"), load(stage, "swift")
    o2_runs = load(stage, "c-O2")
    ops = []
    for r in c_runs + s_runs:
        for op in r:
            if op not in ops:
                ops.append(op)
    rows, problems = [], []
    for op in ops:
        c, s = combine(c_runs, op), combine(s_runs, op)
        row = {"op": op, "c": c, "swift": s}
        if "skip" not in c and "skip" not in s:
            row["ratio"] = round(s["median_ns"] / c["median_ns"], 3) if c["median_ns"] else None
        elif "skip" in c and "skip" in s:
            row["skipped"] = f"C: {c['skip']}; Swift: {s['skip']}"
        else:
            problems.append(f"{op}: measured on one side only (C: {c.get('skip', 'ok')}; Swift: {s.get('skip', 'ok')})")
        if o2_runs:
            o2 = combine(o2_runs, op)
            if ("skip" in o2) != ("skip" in c):
                problems.append(f"{op}: C -O2 {'skipped: ' + o2['skip'] if 'skip' in o2 else 'measured'}, C at the selftests' flags {'skipped: ' + c['skip'] if 'skip' in c else 'measured'}")
            elif "skip" not in o2 and "skip" not in s and o2["median_ns"]:
                row["ratio_O2"] = round(s["median_ns"] / o2["median_ns"], 3)
        for side in ("c", "swift"):
            sc = syscalls_per_round(stage, side, op)
            if sc:
                row.setdefault("syscalls", {})[side] = sc
        rows.append(row)
    if not ops:
        problems.append("no operations in any run")

    if markdown:
        print("| operation | rounds | C min | C median | C max | Swift min | Swift median | Swift max | Swift ÷ C (median) |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    else:
        print(f"{'operation':<40} {'rounds':>7} {'C min':>10} {'C median':>10} {'C max':>10} {'Sw min':>10} {'Sw median':>10} {'Sw max':>10} {'Sw/C':>6}")
    for row in rows:
        c, s = row["c"], row["swift"]
        if "skipped" in row:
            text = f"skipped: {c['skip']}"
            if markdown:
                print(f"| {row['op']} | – | {text} |||||||")
            else:
                print(f"{row['op']:<40} skipped: {c['skip'][:110]}")
            continue
        cells = [str(c.get("rounds", s.get("rounds", "")))]
        for side in (c, s):
            cells += ["–"] * 3 if "skip" in side else [fmt(side["min_ns"]), fmt(side["median_ns"]), fmt(side["max_ns"])]
        ratio = f"{row['ratio']:.2f}" if row.get("ratio") is not None else "–"
        if markdown:
            mark = " **" if row.get("ratio") and row["ratio"] > 1.05 else ""
            print(f"| {row['op']} | " + " | ".join(cells) + f" | {mark.strip()}{ratio}{mark.strip()} |")
        else:
            print(f"{row['op']:<40} {cells[0]:>7} " + " ".join(f"{x:>10}" for x in cells[1:]) + f" {ratio:>6}")
    if not markdown:
        for row in rows:
            if "syscalls" in row:
                sc = row["syscalls"]
                print(f"  syscalls/round {row['op']}: C {sc.get('c', {}).get('per_round', '?')}, Swift {sc.get('swift', {}).get('per_round', '?')}")
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"stage_dir": [os.path.abspath(st) for st in stage_list(stage)] if isinstance(stage, list) else os.path.abspath(stage), "alternations": len(c_runs),
                       "aggregation": "min of mins, median of per-run medians, max of maxes",
                       "operations": rows, "problems": problems}, f, indent=2)
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    if check and problems:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Compares the C and Swift benchmark runs of one guest boot (stdlib only).

Usage: report.py RESULTS_STAGE_DIR [--json FILE] [--check] [--markdown]
Reads {c,swift}-N.tsv (lines "op<TAB>rounds<TAB>min_ns<TAB>median_ns<TAB>max_ns" or
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
import re
import statistics
import sys


def load(stage, side):
    runs = []
    for path in sorted(glob.glob(os.path.join(stage, f"{side}-*.tsv")), key=lambda p: int(re.findall(r"-(\d+)\.tsv$", p)[0])):
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
    stage = args.pop(0)
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
    c_runs, s_runs = load(stage, "c"), load(stage, "swift")
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
            json.dump({"stage_dir": os.path.abspath(stage), "alternations": len(c_runs),
                       "aggregation": "min of mins, median of per-run medians, max of maxes",
                       "operations": rows, "problems": problems}, f, indent=2)
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    if check and problems:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The verdict on a C-vs-Swift table (compare.tsv of scripts/guest/compare-c.sh), stdlib only.

Usage: compare-verdict.py COMPARE_TSV ALLOW_FILE [--quiet]
A row agrees when C and Swift have the same kind of verdict (ok, not ok, skip); a row that does
not is allowed when ALLOW_FILE (scripts/compare-c.allow: a glob over the test name, TAB, the
reason) lists it. Prints every unexplained disagreement, then per program the counts, then one
line of totals. Exit status: 0 when nothing disagrees unexplained, 1 otherwise (or an empty
table), 2 on an unreadable table or allow file. The verdict kinds are scripts/lib/results.py's.
"""
import csv
import fnmatch
import os
import sys
from collections import Counter, OrderedDict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
sys.dont_write_bytecode = True
from results import verdict_kind as kind  # noqa: E402


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    tsv, allow_path = argv[1], argv[2]
    quiet = "--quiet" in argv[3:]
    allow = []
    try:
        for n, line in enumerate(open(allow_path), 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            pattern, _, reason = line.partition("\t")
            if not reason.strip():
                print(f"compare: {allow_path}:{n}: '{pattern}' has no reason", file=sys.stderr)
                return 2
            allow.append((pattern, reason))
        rows = list(csv.reader(open(tsv), delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    except OSError as e:
        print(f"compare: {e}", file=sys.stderr)
        return 2
    per = OrderedDict()
    disagree = allowed = 0
    for r in rows:
        prog, name, c, swift, c_s, swift_s = (r + [""] * 6)[:6]
        p = per.setdefault(prog, Counter())
        # Times: C's whole-program wall time sits on its first row (the driver test: per case);
        # Swift's are per test (its JUnit), summed over the tests C has too.
        for side, v in (("C s", c_s), ("Swift s", swift_s if kind(c) != "missing" else "")):
            try:
                p[side] += float(v)
            except ValueError:
                pass
        p["tests"] += 1
        p[f"C {kind(c)}"] += 1
        p[f"Swift {kind(swift)}"] += 1
        if kind(c) == kind(swift):
            p["agree"] += 1
            continue
        reason = next((why for pat, why in allow if fnmatch.fnmatchcase(name, pat)), None)
        if reason is not None:
            allowed += 1
            p["allowed"] += 1
            continue
        disagree += 1
        print(f"compare: DISAGREE: {prog} {name}: C '{c}', Swift '{swift}'")
    if not quiet:
        for prog, p in per.items():
            sides = "; ".join(
                f"{s} " + ", ".join(f"{p[f'{s} {k}']} {k}" for k in ("ok", "not ok", "skip", "missing", "pending", "error") if p[f"{s} {k}"])
                for s in ("C", "Swift"))
            times = ""
            if p["C s"] and p["Swift s"]:
                times = f"; C {p['C s']:.1f} s, Swift {p['Swift s']:.1f} s ({p['Swift s'] / p['C s']:.2f}x)"
            print(f"compare: {prog}: {p['tests']} tests, {p['agree']} agree, {p['allowed']} allowed ({sides}){times}")
    c_total, swift_total = sum(p["C s"] for p in per.values()), sum(p["Swift s"] for p in per.values())
    times = f"; C {c_total:.1f} s, Swift {swift_total:.1f} s" if c_total and swift_total else ""
    print(f"compare: {len(rows)} tests compared, {allowed} allowed and {disagree} unexplained disagreement(s){times}")
    return 1 if disagree or not rows else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Summarises the JUnit XML of each vm-test.sh stage (stdlib; read by scripts/lib/results.py).

Usage: junit-summary.py STAGE_DIR [STAGE_DIR...]
Each STAGE_DIR (results/<label>/stageN) should hold junit*.xml (Swift Testing --xunit-output;
a two-stage run writes one per run of the test binary), exit-code (written by the guest /init)
and kernel-reports.log (`vfio-selftests kernel-reports`: the kernel's detectors and reports). Prints, per stage, per suite (testcase classname):
passed/failed/skipped counts, every skipped test with its reason, every failure with its
message; then as the very last line: "N passed, N failed, N skipped" (totals).
Exit status: 0 only if every stage reported, exit-code is 0 everywhere and nothing failed.
"""
import glob
import os
import sys
import xml.etree.ElementTree as ET
from collections import OrderedDict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
sys.dont_write_bytecode = True
import results  # noqa: E402


def one_line(text, limit=400):
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def why_exited(stage_dir, limit=12):
    """The guest's own words for a non-zero exit: run-suites.log's error lines, a run or the CLI
    acceptance exiting non-zero, and the CLI acceptance's FAIL lines (the files stay in the guest's
    results directory, which a CI log does not show)."""
    lines = []
    log = os.path.join(stage_dir, "run-suites.log")
    if os.path.exists(log):
        for line in open(log, errors="replace"):
            line = line.rstrip()
            if ("error:" in line or "warning:" in line
                    or (" exited " in line and not line.endswith(" exited 0") and not line.endswith(" exited 4"))):
                lines.append(line)
    acceptance = os.path.join(stage_dir, "cli-acceptance.log")
    if os.path.exists(acceptance):
        lines += [l.rstrip() for l in open(acceptance, errors="replace") if "cli-acceptance: FAIL:" in l]
    if not lines:
        return ""
    shown = [one_line(l, 300) for l in lines[:limit]]
    more = f"\n      ({len(lines) - limit} more in run-suites.log / cli-acceptance.log)" if len(lines) > limit else ""
    return ":\n      " + "\n      ".join(shown) + more


def summarise(stage_dir):
    """Returns (passed, failed, skipped, problems) and prints the stage's report."""
    name = os.path.basename(os.path.normpath(stage_dir))
    problems = []
    passed = failed = skipped = 0
    rc_path = os.path.join(stage_dir, "exit-code")
    junits = sorted(glob.glob(os.path.join(stage_dir, "junit*.xml")))
    rc = None
    if os.path.exists(rc_path):
        try:
            rc = int(open(rc_path).read().strip())
        except ValueError:
            problems.append("unreadable exit-code file")
    else:
        problems.append("guest never reported an exit code (boot failure, panic, hang or kexec failure)")
    init_err = os.path.join(stage_dir, "init-error")
    if os.path.exists(init_err):
        problems.append(one_line(open(init_err, errors="replace").read()))
    print(f"== {name}" + ("" if rc is None else f" (guest exit code {rc})"))
    if rc not in (None, 0):
        problems.append(f"guest test script exited {rc}" + why_exited(stage_dir))

    suites = OrderedDict()
    if not junits:
        if rc is not None:
            problems.append("no junit*.xml (test binary missing, crashed or never ran)")
    for junit in junits:
        try:
            cases = results.junit_cases(junit)
        except ET.ParseError as e:
            problems.append(f"{os.path.basename(junit)} does not parse ({e}); the test binary probably crashed")
            continue
        for case in cases:
            suite = case.classname or "(no suite)"
            s = suites.setdefault(suite, {"passed": 0, "failed": 0, "skipped": 0, "notes": []})
            test = "?" if case.name is None else case.name
            if case.failures:
                s["failed"] += 1
                for msg in case.failures:
                    s["notes"].append(f"    FAIL {test}: {one_line(msg)}")
            elif case.skipped is not None:
                s["skipped"] += 1
                reason = case.skipped or "(no reason given)"
                s["notes"].append(f"    SKIP {test}: {one_line(reason)}")
            else:
                s["passed"] += 1
    for suite, s in suites.items():
        print(f"  {suite}: {s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped")
        for note in s["notes"]:
            print(note)
        passed += s["passed"]
        failed += s["failed"]
        skipped += s["skipped"]
    if not suites and junits and not problems:
        print("  (no test cases in junit*.xml)")
    verdict = os.path.join(stage_dir, "compare-verdict.log")
    if os.path.exists(verdict):
        # The C selftests beside the port in this boot (run-suites.sh, VFIO_SELFTESTS_COMPARE_C).
        for line in open(verdict, errors="replace").read().splitlines()[:60]:
            print(f"  {line}")
    reports = os.path.join(stage_dir, "kernel-reports.log")
    if os.path.exists(reports):
        lines = open(reports, errors="replace").read().splitlines()
        for line in lines[:40]:
            print(f"  {line}")
        if any(l.startswith("kernel reports since boot:") and not l.endswith("none") for l in lines):
            problems.append("the kernel logged reports during this boot (kernel-reports.log)")
    for p in problems:
        print(f"  PROBLEM: {p}")
    return passed, failed, skipped, problems


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    totals = [0, 0, 0]
    bad = False
    for stage_dir in argv[1:]:
        p, f, s, problems = summarise(stage_dir)
        totals[0] += p
        totals[1] += f
        totals[2] += s
        bad = bad or bool(problems) or f > 0
    print(f"{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

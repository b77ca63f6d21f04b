#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""C against Swift from two kselftest runs by name (scripts/lib/results.py: the kernel's kunit_parser).

Usage: kselftest-compare.py --c FILE [--c FILE...] --swift FILE [--swift FILE...]
                            [--swift-only FILE...] [--tsv OUT] [--junit OUT] [--program-level REGEX]
Each FILE is what run_kselftest.sh printed (or the same format from scripts/guest/run-kselftest.sh
for the kexec programs run by hand): per program a top-level `ok N selftests: COLL: PROG` line, and
before it the program's own KTAP prefixed with "# " (`# ok N fixture.variant.test`, `# SKIP`).
Writes compare.tsv (program, test, C, Swift, C s, Swift s, note: the table
scripts/compare-verdict.py judges) and a JUnit file of the Swift side (one testcase a test, for
scripts/junit-summary.py; --swift-only files, programs the port ran without C in this boot, are
in it too but not compared). Programs matching --program-level (default: the kexec programs, plain
kselftest programs with one result each), or with no per-test lines on one side, are compared
by the program's own result. Prints one line of counts. Exit 4 when kunit_parser is not in
.build-vm/kunit (scripts/fetch-kunit.sh brings it).
"""
import argparse
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections import OrderedDict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
sys.dont_write_bytecode = True
import results  # noqa: E402


def parse(paths):
    """program -> {"verdict": str, "tests": OrderedDict(name -> verdict), "collection": str}"""
    return results.kselftest_programs(paths, warn=lambda e: print(f"kselftest-compare: {e}", file=sys.stderr))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--c", action="append", default=[])
    ap.add_argument("--swift", action="append", default=[])
    ap.add_argument("--swift-only", action="append", default=[])
    ap.add_argument("--tsv")
    ap.add_argument("--junit")
    ap.add_argument("--program-level", default=r"^(luo_.*|vfio_pci_liveupdate_kexec_test)$")
    a = ap.parse_args()
    try:
        c, s, only = parse(a.c), parse(a.swift), parse(a.swift_only)
    except results.KunitUnavailable as e:
        print(f"kselftest-compare: {e}", file=sys.stderr)
        return results.EXIT_NO_KUNIT
    flat = re.compile(a.program_level)
    rows = [["program", "test", "C", "Swift", "C s", "Swift s", "note"]]
    for prog in list(OrderedDict.fromkeys(list(c) + list(s))):
        cp, sp = c.get(prog), s.get(prog)
        if cp is None or sp is None or flat.search(prog) or not cp["tests"] or not sp["tests"]:
            note = "" if cp and sp else ("not run by C" if cp is None else "not run by the port")
            rows.append([prog, prog, cp["verdict"] if cp else "missing", sp["verdict"] if sp else "missing", "", "", note])
            if cp is None or sp is None:
                # The other side's tests, for the record (each one C or Swift only).
                for name, v in (sp or cp)["tests"].items():
                    rows.append([prog, name, "missing" if cp is None else v, v if cp is None else "missing", "", "", note])
            continue
        for name in OrderedDict.fromkeys(list(cp["tests"]) + list(sp["tests"])):
            rows.append([prog, name, cp["tests"].get(name, "missing"), sp["tests"].get(name, "missing"), "", "", ""])
    if a.tsv:
        with open(a.tsv, "w") as f:
            for r in rows:
                f.write("\t".join(x.replace("\t", " ") for x in r) + "\n")
    if a.junit:
        suites = ET.Element("testsuites")
        for prog, p in list(s.items()) + list(only.items()):
            cases = list(p["tests"].items()) or [(prog, p["verdict"])]
            suite = ET.SubElement(suites, "testsuite", name=prog, tests=str(len(cases)))
            for name, v in cases:
                tc = ET.SubElement(suite, "testcase", classname=prog, name=name)
                if v.startswith("skip"):
                    ET.SubElement(tc, "skipped", message=v[5:] or "skipped")
                elif v.startswith("not ok"):
                    ET.SubElement(tc, "failure", message=v)
            # A program that failed on its own (a crash, a timeout) with no failing test.
            if p["tests"] and p["verdict"].startswith("not ok") and not any(v.startswith("not ok") for _, v in cases):
                tc = ET.SubElement(suite, "testcase", classname=prog, name=prog)
                ET.SubElement(tc, "failure", message=f"the program: {p['verdict']}")
        ET.ElementTree(suites).write(a.junit, encoding="unicode", xml_declaration=True)
    print(f"kselftest-compare: C {len(c)} programs, Swift {len(s)} programs compared ({len(rows) - 1} rows), {len(only)} Swift only")
    return 0


if __name__ == "__main__":
    sys.exit(main())

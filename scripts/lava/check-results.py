#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Checks a LAVA job of scripts/lava/vfio-kselftest.yaml against the KTAP its programs printed.

Usage: check-results.py LAVA_LOG [--ktap-out FILE] [--tsv-out FILE] [--definition NAME]

LAVA_LOG is lava-run's log stream (one YAML record a line, as lava-run writes it on stderr, or a
lava-server job log): the per-case results are its `lvl: results` records; the KTAP is the block
the test definition prints on the console between VFIO-KTAP-BEGIN and VFIO-KTAP-END (base64,
with its sha256 and size), which this script decodes and checks. The KTAP is read by
scripts/lib/results.py (the kernel's kunit_parser, not the DUT's awk; exit 4 without it), and
the cases LAVA should have are derived from it, with the same names:
  top-level "selftests: C: P"              -> case C.P (no test set)
  nested results of that program           -> test set C.P, case <name> (deeper: <a>.<b>)
  "# SKIP"/"# TODO" -> skip, "not ok" -> fail, "ok" -> pass; name characters outside
  [A-Za-z0-9._-] become "_".
Prints one line per problem and exits 1 when there is any: the job did not pass, the KTAP block
is missing or damaged, the KTAP plan is not met, a case is missing on either side or has another
result, or any case failed (the test set vfio-kselftest-infra too: modprobe, setup, run,
cleanup). Exit 0: every case passed or skipped, and LAVA's cases are the KTAP's, name by name.
The last line is "N cases: N pass, N fail, N skip".
"""
import argparse
import base64
import collections
import hashlib
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
sys.dont_write_bytecode = True
import results  # noqa: E402

INFRA_SET = "vfio-kselftest-infra"


def load_records(path):
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("- "):
                line = line[2:]
            if not line.startswith("{"):
                continue
            try:
                rec = yaml.load(line, Loader=loader)
            except yaml.YAMLError:
                continue
            if isinstance(rec, dict) and "lvl" in rec:
                yield rec


def clean(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def lava_result(r):
    """A KTAP result as LAVA records it: "# SKIP"/"# TODO" -> skip, "not ok" -> fail, "ok" -> pass."""
    if r.directive.upper().startswith(("SKIP", "TODO")):
        return "skip"
    return "fail" if r.ok_field == "not ok" else "pass"


def lava_name(r, top=False):
    name = r.name
    if top:
        sm = re.match(r"^selftests: ([^:]+): (.+)$", name)
        if sm:
            name = f"{sm.group(1)}.{sm.group(2)}"
    return clean(name or f"test{r.number}")


def subtree(r):
    """(name parts, result) for r and everything below it, children before their parent."""
    out = [([lava_name(r)] + parts, res) for c in r.children for parts, res in subtree(c)]
    return out + [([lava_name(r)], lava_result(r))]


def parse_ktap(text):
    """(set, case, result) for every result line, and the top-level plan and count. The KTAP is
    read by scripts/lib/results.py (the kernel's kunit_parser); the names are LAVA's."""
    cases = []
    top = 0
    for r in results.kselftest_results(text):
        if r.orphan:
            # Results after the last top-level line: a run cut short.
            cases += [("unfinished", ".".join(parts), res) for parts, res in subtree(r)]
            continue
        top += 1
        name = lava_name(r, top=True)
        cases += [(name, ".".join(parts), res) for c in r.children for parts, res in subtree(c)]
        cases.append(("", name, lava_result(r)))
    return cases, results.kselftest_plan(text), top


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log")
    ap.add_argument("--ktap-out", help="write the decoded KTAP here")
    ap.add_argument("--tsv-out", help="write set, case, KTAP result, LAVA result here")
    ap.add_argument("--definition", default="vfio-kselftest",
                    help="the test definition's name in the job (default vfio-kselftest)")
    args = ap.parse_args()

    problems = []
    lava_cases = []  # (set, case, result) of the test definition
    lava_job = {}
    definition_done = False
    begin = None
    b64 = []
    ended = False
    for rec in load_records(args.log):
        lvl, msg = rec["lvl"], rec.get("msg")
        if lvl == "results" and isinstance(msg, dict):
            definition = str(msg.get("definition", ""))
            if definition == "lava":
                if msg.get("case") == "job":
                    lava_job = msg
                elif re.fullmatch(r"\d+_" + re.escape(args.definition), str(msg.get("case", ""))):
                    definition_done = True
            elif re.fullmatch(r"\d+_" + re.escape(args.definition), definition):
                lava_cases.append((str(msg.get("set", "")), str(msg.get("case", "")),
                                   str(msg.get("result", ""))))
        elif lvl == "target" and isinstance(msg, str):
            if "VFIO-KTAP-BEGIN" in msg and begin is None:
                begin = msg[msg.index("VFIO-KTAP-BEGIN"):]
            elif begin is not None and not ended:
                m = re.search(r"VFIO-KTAP: ([A-Za-z0-9+/=]+)\s*$", msg)
                if m:
                    b64.append(m.group(1))
                elif "VFIO-KTAP-END" in msg:
                    ended = True

    if not lava_job:
        problems.append("LAVA job: no job result in the log (lava-run did not finish?)")
    elif lava_job.get("result") != "pass":
        problems.append("LAVA job: %s (%s: %s)" % (lava_job.get("result"),
                        lava_job.get("error_type", "?"), lava_job.get("error_msg", "?")))
    if lava_job and not definition_done:
        problems.append(f"LAVA: the test definition {args.definition} did not run to its end")

    ktap = None
    if begin is None:
        problems.append("KTAP: no VFIO-KTAP-BEGIN block on the console")
    elif not ended:
        problems.append("KTAP: the VFIO-KTAP block has no VFIO-KTAP-END")
    else:
        fields = dict(kv.split("=", 1) for kv in begin.split()[1:] if "=" in kv)
        try:
            data = base64.b64decode("".join(b64), validate=True)
        except ValueError as exc:
            problems.append(f"KTAP: the block does not decode ({exc})")
            data = None
        if data is not None:
            if hashlib.sha256(data).hexdigest() != fields.get("sha256"):
                problems.append("KTAP: sha256 of the decoded block %s != %s printed on the DUT"
                                % (hashlib.sha256(data).hexdigest(), fields.get("sha256")))
            elif str(len(data)) != fields.get("bytes"):
                problems.append(f"KTAP: {len(data)} bytes decoded, {fields.get('bytes')} printed")
            else:
                ktap = data.decode("utf-8", errors="replace")
                if args.ktap_out:
                    with open(args.ktap_out, "w", encoding="utf-8") as f:
                        f.write(ktap)
        if fields.get("exit") not in ("0", None):
            print(f"note: run_kselftest.sh exited {fields.get('exit')}", file=sys.stderr)

    ktap_cases = []
    if ktap is not None:
        try:
            ktap_cases, plan, top = parse_ktap(ktap)
        except results.KunitUnavailable as e:
            print(f"check-results: {e}", file=sys.stderr)
            return results.EXIT_NO_KUNIT
        if plan is None:
            problems.append("KTAP: no top-level plan (1..N): run_kselftest.sh did not start")
        elif plan != top:
            problems.append(f"KTAP: plan 1..{plan} but {top} top-level results (run cut short?)")
        if plan == 0 or not ktap_cases:
            problems.append("KTAP: no test results")

    infra = [c for c in lava_cases if c[0] == INFRA_SET]
    tests = [c for c in lava_cases if c[0] != INFRA_SET]
    for need in ("run", "ktap-transfer"):
        if not any(c[1] == need for c in infra):
            problems.append(f"LAVA: no {INFRA_SET}/{need} case")

    # Name by name (a multiset: a KTAP may repeat a name).
    want = collections.Counter((s, c) for s, c, _ in ktap_cases)
    have = collections.Counter((s, c) for s, c, _ in tests)
    ktap_res = collections.defaultdict(list)
    lava_res = collections.defaultdict(list)
    for s, c, r in ktap_cases:
        ktap_res[(s, c)].append(r)
    for s, c, r in tests:
        lava_res[(s, c)].append(r)
    rows = []
    for key in list(dict.fromkeys([(s, c) for s, c, _ in ktap_cases] + [(s, c) for s, c, _ in tests])):
        name = "/".join(p for p in key if p)
        kr, lr = ktap_res.get(key, []), lava_res.get(key, [])
        rows.append((key[0], key[1], ",".join(kr) or "-", ",".join(lr) or "-"))
        if ktap is not None and want[key] > have[key]:
            problems.append(f"missing in LAVA: {name} (KTAP: {','.join(kr)})")
        elif ktap is not None and have[key] > want[key]:
            problems.append(f"not in the KTAP: {name} (LAVA: {','.join(lr)})")
        elif ktap is not None and sorted(kr) != sorted(lr):
            problems.append(f"result differs: {name}: KTAP {','.join(kr)}, LAVA {','.join(lr)}")
    for s, c, r in lava_cases:
        if r not in ("pass", "skip"):
            problems.append(f"failing case: {'/'.join(p for p in (s, c) if p)}: {r}")
    if ktap is not None:
        for s, c, r in ktap_cases:
            if r == "fail" and (s, c) not in lava_res:
                problems.append(f"failing case (KTAP only): {'/'.join(p for p in (s, c) if p)}")

    if args.tsv_out:
        with open(args.tsv_out, "w", encoding="utf-8") as f:
            f.write("set\tcase\tktap\tlava\n")
            for row in rows:
                f.write("\t".join(row) + "\n")
    for p in problems:
        print(p)
    counts = collections.Counter(r for _, _, r in tests)
    print("%d cases: %d pass, %d fail, %d skip (LAVA; KTAP %d cases; infra %s)"
          % (len(tests), counts["pass"], counts["fail"], counts["skip"], len(ktap_cases),
             ", ".join(f"{c} {r}" for _, c, r in infra) or "none"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The project's one reader of test results: KTAP and JUnit (stdlib, and the kernel's kunit_parser).

KTAP goes through the kernel's own parser, tools/testing/kunit/kunit_parser.py (Debian's
linux-source, fetched by scripts/fetch-kunit.sh into .build-vm/kunit; KUNIT_DIR names another
tools/testing/kunit, KUNIT_PY another kunit.py), on both sides:
  - a KTAP document with indented subtests, as `vfio-selftests run --ktap` writes it
    (parse_ktap: kunit_parser's tree, its counts and errors, as `kunit.py parse` reports them);
  - kselftest output, as run_kselftest.sh and the C harness print it (kselftest_results,
    kselftest_programs): each level's result lines are read by kunit_parser; a program's own
    KTAP, which run_kselftest.sh prefixes with "# ", is the level below the program's result line.
kunit_parser keeps a result's name and status; the raw line is kept too (Result.line), for the
directive after "#" (SKIP's reason, TIMEOUT, exit=N).
JUnit (junit_cases, junit_counts): Swift Testing's --xunit-output, `vfio-selftests run --junit`,
kselftest-compare.py's.

Command line (for the shell scripts):
  results.py junit-counts JUNIT          "P passed, F failed, S skipped" (an unreadable file: 0, 1, 0)
  results.py ktap FILE                   one line per result at any depth of kselftest output
                                         ("# "-nested; children first): depth, result (ok, not
                                         ok, skip), name, directive (TAB separated)
  results.py ktap-tree FILE              the same for a KTAP document with indented subtests
                                         (`vfio-selftests run --ktap`), in the document's order
  results.py check-ktap KTAP [JUNIT]     kunit_parser's verdict on a `vfio-selftests run` KTAP, and
                                         with JUNIT that it counts the same passed/failed/skipped
                                         (what scripts/check-ktap.sh prints; exit 0, 1, 4 without kunit)
Exit status 4 when kunit_parser is not available (one line saying where it was looked for).
"""
import io
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections import OrderedDict

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXIT_NO_KUNIT = 4


class KunitUnavailable(Exception):
    """kunit_parser.py cannot be imported; str() says where it was looked for."""


def kunit_dir():
    if os.environ.get("KUNIT_DIR"):
        return os.environ["KUNIT_DIR"]
    if os.environ.get("KUNIT_PY"):
        return os.path.dirname(os.environ["KUNIT_PY"])
    return os.path.join(REPO, ".build-vm", "kunit", "tools", "testing", "kunit")


_kp = None          # kunit_parser, once imported
_quiet = None       # a kunit_printer.Printer that prints nothing
_Printer = None     # kunit_printer.Printer


def read_text(path, errors="replace"):
    with open(path, errors=errors) as f:
        return f.read()


def kunit_parser():
    """The kernel's kunit_parser module, with parse_test_result wrapped to keep each test's raw
    result line (test.ktap_line)."""
    global _kp, _quiet, _Printer
    if _kp is not None:
        return _kp
    d = kunit_dir()
    if not os.path.isfile(os.path.join(d, "kunit_parser.py")):
        raise KunitUnavailable(f"no kunit_parser.py in {d} (run scripts/fetch-kunit.sh)")
    sys.path.insert(0, d)
    sys.dont_write_bytecode = True
    try:
        import kunit_parser as kp  # noqa: E402
        import kunit_printer
    except ImportError as e:
        raise KunitUnavailable(f"cannot import kunit_parser from {d}: {e}")
    finally:
        sys.path.remove(d)
    original = kp.parse_test_result

    def parse_test_result(lines, test, expected_num, printer):
        line = lines.peek() if lines else ""
        parsed = original(lines, test, expected_num, printer)
        if parsed:
            test.ktap_line = line.strip()
        return parsed

    kp.parse_test_result = parse_test_result
    _quiet, _Printer = kunit_printer.Printer(print=False), kunit_printer.Printer
    _kp = kp
    return kp


# ---- KTAP ----

class Result:
    """One result line: result is "ok", "not ok" or "skip" (kunit_parser's status: a SKIP
    directive makes a skip whatever the line's ok/not ok); ok_field is the line's own "ok" or
    "not ok"; directive is the text after " # " (e.g. "SKIP reason", "TIMEOUT 45 seconds",
    "exit=1"), "" when none; number is the line's test number; children are the results of the
    level below (kselftest output). An orphan is a result of a level below with no result line of
    its own level after it (a run cut short): it is listed where its parent would be."""

    def __init__(self, name, result, ok_field, directive, line, number=0, children=None, orphan=False):
        self.name, self.result, self.ok_field, self.directive, self.line = name, result, ok_field, directive, line
        self.number, self.children, self.orphan = number, children or [], orphan

    @property
    def skip_reason(self):
        d = self.directive
        return d[4:].strip() if d.upper().startswith("SKIP") else ""

    def __repr__(self):
        return f"Result({self.name!r}, {self.result!r}, {self.directive!r}, {len(self.children)} children)"


def _status_word(kp, test):
    if test.status == kp.TestStatus.SKIPPED:
        return "skip"
    if test.status == kp.TestStatus.SUCCESS:
        return "ok"
    return "not ok"


_RESULT = re.compile(r"^(not ok|ok) \d+")


def _result_of(kp, t):
    """The Result of a kunit_parser Test that has a result line of its own, else None (kunit's
    placeholders for missing subtests and the main test have none)."""
    line = getattr(t, "ktap_line", None)
    if line is None:
        return None
    m = re.match(r"^(not ok|ok) (\d+) ?(?:- )?(.*)$", line)
    rest = " " + (m.group(3) if m else "")
    directive = rest[rest.index(" # ") + 3:].strip() if " # " in rest else ""
    return Result((t.name or "").strip(), _status_word(kp, t), m.group(1) if m else "", directive, line,
                  int(m.group(2)) if m else 0)


def _flat_results(lines):
    """The result lines of one flat level of KTAP (no nesting), in order, read by kunit_parser.
    Only the lines that begin with ok or not ok are given to it: a plan cut short or exceeded
    must not hide a result, and kselftest nests by "# ", not by indentation."""
    kp = kunit_parser()
    doc = ["KTAP version 1"] + [l for l in lines if _RESULT.match(l)]
    top = kp.parse_run_tests(doc, _quiet)
    return [r for r in (_result_of(kp, t) for t in top.subtests) if r is not None]


def kselftest_results(text):
    """The results of kselftest output (run_kselftest.sh, a C harness program, a flat KTAP), as a
    list of top-level Results; lines prefixed "# " between two results of a level are the output
    of the later one's program, and their results (after the "# ") are its children. Results in
    "# " lines after a level's last result line are orphans, at the end of that level's list."""
    return _level([l.rstrip("\r\n") for l in text.splitlines()])


def _level(lines):
    own, blocks, block = [], [], []
    for line in lines:
        if line.startswith("# ") or line == "#":
            block.append(line[2:])
        else:
            own.append(line)
            if _RESULT.match(line):
                blocks.append(block)
                block = []
    results = _flat_results(own)
    # Each kunit result line ends a block: match them up in order.
    result_lines = [l.strip() for l in own if _RESULT.match(l)]
    bi = 0
    for r in results:
        while bi < len(result_lines) and result_lines[bi] != r.line:
            bi += 1
        if bi < len(result_lines):
            r.children = _level(blocks[bi])
            bi += 1
    if block:
        for r in _level(block):
            r.orphan = True
            results.append(r)
    return results


def kselftest_plan(text):
    """The top-level plan's count (1..N) of kselftest output, read by kunit_parser; None without one."""
    kp = kunit_parser()
    top = [l.rstrip("\r\n") for l in text.splitlines() if not l.startswith("# ") and l != "#"]
    test = kp.parse_run_tests(top, _quiet)
    return None if test.status == kp.TestStatus.FAILURE_TO_PARSE_TESTS else test.expected_count


def walk(results, depth=0):
    """(depth, Result) for every result, children before their parent, as LAVA lists them."""
    for r in results:
        yield from walk(r.children, depth + 1)
        yield depth, r


def verdict(result, directive, reason):
    """A result as compare.tsv writes it: "ok", "not ok", "skip REASON", "not ok (DIRECTIVE REASON)"."""
    if directive and directive.startswith("SKIP"):
        return ("skip " + (reason or "")).strip()
    if directive and result == "not ok":
        return f"not ok ({directive} {reason or ''})".strip()
    return result


def verdict_kind(v):
    """ok, not ok, skip, or the first word (missing, pending, error) of a compare.tsv verdict."""
    for k in ("not ok", "ok", "skip"):
        if v.startswith(k):
            return k
    return v.split(" ")[0] or "?"


_TOP = re.compile(r"^selftests: (\S+): (\S+)$")


def kselftest_programs(paths, warn=None):
    """program -> {"verdict", "tests": OrderedDict(name -> verdict), "collection"} from
    run_kselftest.sh outputs (a program's tests: its own KTAP's results, one level down)."""
    out = OrderedDict()
    for path in paths:
        try:
            text = read_text(path)
        except OSError as e:
            if warn:
                warn(e)
            continue
        for r in kselftest_results(text):
            m = _TOP.match(r.name)
            if not m or r.orphan:
                continue
            tests = OrderedDict()
            for c in r.children:
                if c.orphan or not re.fullmatch(r"\S+", c.name):
                    continue
                d, _, reason = c.directive.partition(" ")
                if d and not re.match(r"^(SKIP|TIMEOUT)\b", c.directive):
                    continue
                tests[c.name] = verdict(c.ok_field, d or None, reason or None)
            d, _, reason = r.directive.partition(" ")
            out[m.group(2)] = {"verdict": verdict(r.ok_field, d or None, reason), "tests": tests, "collection": m.group(1)}
    return out


def parse_ktap(text):
    """kunit_parser's Test tree of a whole KTAP document, and what its printer said (the
    "[ERROR]" lines, the "Testing complete." summary), as `kunit.py parse` prints them."""
    kp = kunit_parser()
    buf = io.StringIO()
    printer = _Printer(print=True, output=buf)
    test = kp.parse_run_tests(text.splitlines(), printer)
    kp.print_summary_line(test, printer)
    return test, buf.getvalue()


def ktap_tree_results(text):
    """(depth, Result) for every result line of a whole KTAP document (indented subtests, as
    `vfio-selftests run --ktap` writes them), in the document's order, from kunit_parser's tree;
    depth 0 is the top level."""
    kp = kunit_parser()
    test = kp.parse_run_tests(text.splitlines(), _quiet)
    out = []

    def visit(t, depth):
        for sub in t.subtests:
            visit(sub, depth + 1)
        r = _result_of(kp, t)
        if r is not None and depth >= 0:
            out.append((depth, r))

    visit(test, -1)
    return out


def check_ktap(ktap_path, junit_path=None, out=print):
    """scripts/check-ktap.sh: 0 parsed (and, with JUnit, the same counts), 1 not, 4 no kunit."""
    try:
        test, said = parse_ktap(read_text(ktap_path, "backslashreplace"))
    except KunitUnavailable as e:
        out(f"check-ktap: SKIP: {e}")
        return EXIT_NO_KUNIT
    summary = ([m.group(0) for m in re.finditer(r"Testing complete\..*", said)] or [""])[-1]
    out(f"check-ktap: kunit.py: {summary}")
    errors = [l for l in said.splitlines() if "[ERROR]" in l]
    if errors or not summary:
        for l in errors[:5]:
            out(l)
        out("check-ktap: FAIL: kunit.py parse reported errors")
        return 1
    c = test.counts
    k = f"{c.passed} {c.failed} {c.skipped}"
    if junit_path:
        j = " ".join(str(n) for n in junit_counts(junit_path))
        out(f"check-ktap: passed/failed/skipped: kunit.py {k}, Swift Testing JUnit {j}")
        if k != j:
            out("check-ktap: FAIL: counts differ")
            return 1
    out("check-ktap: OK")
    return 0


# ---- JUnit ----

class Case:
    """A JUnit testcase: classname, name, time (s), failures (messages of its failure and error
    elements), skipped (the reason, or None)."""

    def __init__(self, classname, name, time, failures, skipped):
        self.classname, self.name, self.time, self.failures, self.skipped = classname, name, time, failures, skipped

    @property
    def status(self):
        return "failed" if self.failures else "skipped" if self.skipped is not None else "passed"


def junit_cases(path):
    """Every testcase of a JUnit file. Raises OSError or ET.ParseError."""
    cases = []
    for tc in ET.parse(path).getroot().iter("testcase"):
        failures = [f.get("message") or f.text or "" for f in tc.findall("failure") + tc.findall("error")]
        skip = tc.find("skipped")
        skipped = None if skip is None else (skip.get("message") or skip.text or "")
        try:
            time = float(tc.get("time") or 0)
        except ValueError:
            time = 0.0
        cases.append(Case(tc.get("classname"), tc.get("name"), time, failures, skipped))
    return cases


def junit_counts(path):
    """(passed, failed, skipped); an unreadable or unparsable file counts as one failure."""
    p = f = s = 0
    try:
        for c in junit_cases(path):
            if c.failures:
                f += 1
            elif c.skipped is not None:
                s += 1
            else:
                p += 1
    except (OSError, ET.ParseError):
        return 0, 1, 0
    return p, f, s


def main(argv):
    usage = __doc__[__doc__.index("Command line"):].strip()
    if len(argv) < 3:
        print(usage, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    try:
        if cmd == "junit-counts" and len(args) == 1:
            p, f, s = junit_counts(args[0])
            print(p, "passed,", f, "failed,", s, "skipped")
            return 0
        if cmd == "ktap" and len(args) == 1:
            text = read_text(args[0])
            for depth, r in walk(kselftest_results(text)):
                print(f"{depth}\t{r.result}\t{r.name}\t{r.directive}")
            return 0
        if cmd == "ktap-tree" and len(args) == 1:
            for depth, r in ktap_tree_results(read_text(args[0])):
                print(f"{depth}\t{r.result}\t{r.name}\t{r.directive}")
            return 0
        if cmd == "check-ktap" and len(args) in (1, 2):
            return check_ktap(*args)
    except KunitUnavailable as e:
        print(f"results: {e}", file=sys.stderr)
        return EXIT_NO_KUNIT
    except OSError as e:
        print(f"results: {e}", file=sys.stderr)
        return 2
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Unit tests of scripts/lib/results.py and of the scripts that read results through it
(stdlib unittest; run by scripts/test.sh: python3 -m unittest discover -s scripts/lib).

The fixtures are in scripts/lib/testdata: run_kselftest.sh outputs (c.ktap, swift.ktap, the
kexec and swift-only files), a `vfio-selftests run` KTAP (run.ktap, run-bad.ktap), a C harness
program's output (c-program.log), JUnit (junit.xml, stage1/, stage2/), and results recorded by
real guest runs (testdata/recorded). testdata/expected and testdata/recorded/expected-* hold
what kselftest-compare.py, compare-verdict.py and junit-summary.py printed and wrote on them
before they read results through this module (their own parsers): the outputs must not change.
The KTAP tests need kunit_parser (scripts/fetch-kunit.sh): without it they skip, saying so, as
test.sh's Swift KTAP tests do; with CI=true they fail instead.
"""
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.dirname(HERE)
DATA = os.path.join(HERE, "testdata")
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import results  # noqa: E402


def data(name):
    return os.path.join(DATA, name)


def text(name):
    with open(data(name)) as f:
        return f.read()


def kunit_missing():
    """Why kunit_parser cannot be used, or None."""
    try:
        results.kunit_parser()
        return None
    except results.KunitUnavailable as e:
        return str(e)


class NeedsKunit(unittest.TestCase):
    """Skips without kunit_parser, saying why; with CI=true fails instead (CI must not pass with
    the KTAP readers untested)."""

    @classmethod
    def setUpClass(cls):
        why = kunit_missing()
        if why and os.environ.get("CI") != "true":
            raise unittest.SkipTest(why)


def run(args, cwd=DATA):
    p = subprocess.run([sys.executable, "-B"] + args, cwd=cwd, capture_output=True, text=True)
    return p.stdout + p.stderr + f"rc={p.returncode}\n"


class Kunit(NeedsKunit):
    def test_kunit_parser_is_there(self):
        why = kunit_missing()
        self.assertIsNone(why, why)

    def test_missing_kunit_is_one_clear_error(self):
        env = dict(os.environ, KUNIT_DIR="/nonexistent/kunit")
        p = subprocess.run([sys.executable, "-B", os.path.join(HERE, "results.py"), "ktap", data("c.ktap")],
                           env=env, capture_output=True, text=True)
        self.assertEqual(p.returncode, results.EXIT_NO_KUNIT)
        self.assertEqual(p.stdout, "")
        self.assertEqual(p.stderr, "results: no kunit_parser.py in /nonexistent/kunit (run scripts/fetch-kunit.sh)\n")


class Kselftest(NeedsKunit):
    def test_programs_and_their_tests(self):
        progs = results.kselftest_programs([data("c.ktap"), data("c-kexec.ktap")])
        self.assertEqual(list(progs), ["vfio_dma_mapping_test", "vfio_pci_device_test", "liveupdate",
                                       "vfio_iommufd_setup_test", "vfio_pci_liveupdate_kexec_test", "luo_kexec_simple"])
        dma = progs["vfio_dma_mapping_test"]
        self.assertEqual(dma["collection"], "vfio")
        self.assertEqual(dma["verdict"], "not ok (exit=1 )")  # kselftest-compare.py's own spelling
        self.assertEqual(list(dma["tests"].values()), ["ok", "skip no huge pages", "not ok"])
        self.assertEqual(progs["vfio_pci_device_test"]["verdict"], "not ok (TIMEOUT 900 seconds)")
        self.assertEqual(progs["vfio_pci_device_test"]["tests"]["vfio_pci_device_test.reset"], "not ok (TIMEOUT 30 seconds)")
        self.assertEqual(progs["liveupdate"], {"verdict": "skip", "tests": {}, "collection": "liveupdate"})
        # A name with spaces is not a C test name: left out, as before.
        self.assertEqual(list(progs["vfio_iommufd_setup_test"]["tests"]),
                         ["vfio_iommufd_setup_test.cdev_bind", "vfio_iommufd_setup_test.iommufd_alloc"])
        self.assertEqual(progs["luo_kexec_simple"]["verdict"], "not ok (exit=1 )")

    def test_nesting_by_hash_prefix_and_orphans(self):
        t = ("TAP version 13\n1..2\n# selftests: v: p\n# TAP version 13\n# 1..1\n# ok 1 a\n"
             "ok 1 selftests: v: p\n# selftests: v: q\n# TAP version 13\n# ok 1 b\n# # ok 1 deep\n")
        tops = results.kselftest_results(t)
        self.assertEqual([(r.name, r.result, r.orphan) for r in tops],
                         [("selftests: v: p", "ok", False), ("b", "ok", True), ("deep", "ok", True)])
        self.assertEqual([c.name for c in tops[0].children], ["a"])
        self.assertEqual(results.kselftest_plan(t), 2)
        self.assertIsNone(results.kselftest_plan(text("c-kexec.ktap")))

    def test_a_plan_cut_short_hides_no_result(self):
        t = "TAP version 13\n1..1\nok 1 a\nnot ok 2 b # exit=3\nok 3 c # SKIP why\n"
        got = [(r.name, r.result, r.ok_field, r.directive, r.number) for r in results.kselftest_results(t)]
        self.assertEqual(got, [("a", "ok", "ok", "", 1), ("b", "not ok", "not ok", "exit=3", 2),
                               ("c", "skip", "ok", "SKIP why", 3)])
        self.assertEqual(results.kselftest_results(t)[2].skip_reason, "why")

    def test_c_harness_output(self):
        out = run([os.path.join(HERE, "results.py"), "ktap", data("c-program.log")])
        self.assertEqual(out, "0\tok\tvfio_pci_device_test.iommufd.config_space_read_write\t\n"
                              "0\tnot ok\tvfio_pci_device_test.iommufd.reset\t\n"
                              "0\tskip\tvfio_pci_device_test.iommufd.irq\tSKIP no MSI-X\n"
                              "0\tok\tvfio_pci_device_test.iommufd.two\tXFAIL expected\n"
                              "rc=0\n")

    def test_verdicts(self):
        self.assertEqual(results.verdict("ok", "SKIP", "no device"), "skip no device")
        self.assertEqual(results.verdict("not ok", "SKIP", None), "skip")
        self.assertEqual(results.verdict("not ok", "TIMEOUT", "45 seconds"), "not ok (TIMEOUT 45 seconds)")
        self.assertEqual(results.verdict("ok", "TIMEOUT", "x"), "ok")
        for v, k in (("not ok (exit=1 )", "not ok"), ("ok", "ok"), ("skip: why", "skip"), ("missing", "missing"),
                     ("pending", "pending"), ("", "?")):
            self.assertEqual(results.verdict_kind(v), k)


class KtapDocument(NeedsKunit):
    def test_tree(self):
        got = [(d, r.result, r.name, r.directive) for d, r in results.ktap_tree_results(text("run.ktap"))]
        self.assertEqual(got[:4], [(1, "ok", "vfio_pci_device_test.iommufd.config_space_read", ""),
                                   (1, "not ok", "vfio_pci_device_test.iommufd.reset", ""),
                                   (1, "skip", "vfio_pci_device_test.vfio_type1_iommu.reset", "SKIP VFIO_SELFTESTS_IOMMU_MODE=iommufd"),
                                   (0, "not ok", "vfio_pci_device_test", "")])
        self.assertEqual(len(got), 8)

    def check(self, *names):
        lines = []
        rc = results.check_ktap(*[data(n) for n in names], out=lines.append)
        return rc, [l.split("] ", 1)[-1] for l in lines]

    def test_check_ktap_counts_against_junit(self):
        rc, lines = self.check("run.ktap", "junit.xml")
        self.assertEqual(rc, 0)
        self.assertEqual(lines, ["check-ktap: kunit.py: Testing complete. Ran 6 tests: passed: 2, failed: 2, skipped: 2",
                                 "check-ktap: passed/failed/skipped: kunit.py 2 2 2, Swift Testing JUnit 2 2 2",
                                 "check-ktap: OK"])

    def test_check_ktap_parse_errors_fail(self):
        rc, lines = self.check("run-bad.ktap")
        self.assertEqual(rc, 1)
        self.assertIn("[ERROR] Test: vfio_pci_device_test: missing expected subtest!", lines)
        self.assertEqual(lines[-1], "check-ktap: FAIL: kunit.py parse reported errors")

    def test_check_ktap_different_counts_fail(self):
        rc, lines = self.check("swift.ktap", "junit.xml")
        self.assertEqual(rc, 1)
        self.assertEqual(lines[-1], "check-ktap: FAIL: counts differ")


class JUnit(unittest.TestCase):
    def test_cases(self):
        cases = results.junit_cases(data("junit.xml"))
        self.assertEqual([c.status for c in cases], ["passed", "failed", "skipped", "failed", "skipped", "passed"])
        self.assertEqual(cases[3].failures, ["second", "crashed\n  with signal 11"])  # failure before error
        self.assertEqual(cases[2].skipped, "VFIO_SELFTESTS_IOMMU_MODE=iommufd")
        self.assertEqual(cases[4].skipped, "")
        self.assertEqual(cases[4].time, 0.0)  # time="x"
        self.assertIsNone(cases[5].classname)

    def test_counts(self):
        self.assertEqual(results.junit_counts(data("junit.xml")), (2, 2, 2))
        self.assertEqual(results.junit_counts("/nonexistent.xml"), (0, 1, 0))
        self.assertEqual(results.junit_counts(data("stage2/junit-1.xml")), (0, 1, 0))
        self.assertEqual(run([os.path.join(HERE, "results.py"), "junit-counts", data("junit.xml")]),
                         "2 passed, 2 failed, 2 skipped\nrc=0\n")


class ScriptsUnchanged(NeedsKunit):
    """The scripts print and write what they did with their own parsers (testdata/expected)."""

    maxDiff = None

    def test_kselftest_compare_and_verdict(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = run([os.path.join(SCRIPTS, "kselftest-compare.py"), "--c", "c.ktap", "--c", "c-kexec.ktap",
                       "--swift", "swift.ktap", "--swift", "swift-kexec.ktap", "--swift-only", "swift-only.ktap",
                       "--tsv", os.path.join(tmp, "compare.tsv"), "--junit", os.path.join(tmp, "junit.xml")])
            self.assertEqual(out, text("expected/kselftest-compare.out"))
            for f in ("compare.tsv", "junit.xml"):
                with open(os.path.join(tmp, f)) as got:
                    self.assertEqual(got.read(), text("expected/" + f), f)
            out = run([os.path.join(SCRIPTS, "compare-verdict.py"), os.path.join(tmp, "compare.tsv"),
                       os.path.join(SCRIPTS, "compare-c.allow")])
            self.assertEqual(out, text("expected/compare-verdict.out"))

    def test_junit_summary(self):
        out = run([os.path.join(SCRIPTS, "junit-summary.py"), "stage1", "stage2", "nonexistent"])
        self.assertEqual(out, text("expected/junit-summary.out"))


class Recorded(NeedsKunit):
    """Results recorded by real guest runs (testdata/recorded, 2026-12-07, ../shared/kernel):
    a `vm-test.sh --rootfs` boot's two run_kselftest.sh outputs (kselftest-stage1) and a
    `vm-test.sh` boot's `vfio-selftests run` KTAP and JUnit (run-stage1). The expected-* files are
    what the scripts printed and wrote with their own parsers, before results.py."""

    maxDiff = None
    REC = os.path.join(DATA, "recorded")

    def expected(self, name):
        return text(os.path.join("recorded", "expected-" + name))

    def test_kselftest_compare_and_verdict(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = run([os.path.join(SCRIPTS, "kselftest-compare.py"), "--c", "kselftest-stage1/c.ktap",
                       "--swift", "kselftest-stage1/swift.ktap", "--tsv", os.path.join(tmp, "compare.tsv"),
                       "--junit", os.path.join(tmp, "junit.xml")], cwd=self.REC)
            self.assertEqual(out, self.expected("kselftest-compare.out"))
            for f in ("compare.tsv", "junit.xml"):
                with open(os.path.join(tmp, f)) as got:
                    self.assertEqual(got.read(), self.expected(f), f)
            out = run([os.path.join(SCRIPTS, "compare-verdict.py"), os.path.join(tmp, "compare.tsv"),
                       os.path.join(SCRIPTS, "compare-c.allow")], cwd=self.REC)
            self.assertEqual(out, self.expected("compare-verdict.out"))

    def test_junit_summary(self):
        out = run([os.path.join(SCRIPTS, "junit-summary.py"), "run-stage1", "kselftest-stage1"], cwd=self.REC)
        self.assertEqual(out, self.expected("junit-summary.out"))

    def test_check_ktap(self):
        lines = []
        rc = results.check_ktap(os.path.join(self.REC, "run-stage1/results-1.ktap"),
                                os.path.join(self.REC, "run-stage1/junit-1.xml"), out=lines.append)
        self.assertEqual("".join(l + "\n" for l in lines) + f"rc={rc}\n", self.expected("check-ktap.out"))

    def test_both_sides_through_kunit_parser(self):
        # The C install's and the port's run_kselftest.sh outputs: three programs each, every
        # C test with a verdict on both sides where C ran it.
        c = results.kselftest_programs([os.path.join(self.REC, "kselftest-stage1/c.ktap")])
        swift = results.kselftest_programs([os.path.join(self.REC, "kselftest-stage1/swift.ktap")])
        self.assertEqual(list(c), list(swift))
        self.assertEqual(len(c["liveupdate"]["tests"]), 15)
        self.assertEqual(c["liveupdate"]["tests"], swift["liveupdate"]["tests"])


if __name__ == "__main__":
    unittest.main()

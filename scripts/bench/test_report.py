# SPDX-License-Identifier: GPL-2.0-only
"""Unit tests of scripts/bench/report.py on synthetic runs (stdlib unittest; run by scripts/test.sh)."""
import contextlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def write_interleaved(stage, sides):
    """sides: {side: [(alternation, op, rounds, min, median, max) or (alternation, op, "SKIP", reason)]}"""
    os.makedirs(os.path.join(stage, "interleaved"), exist_ok=True)
    for side, rows in sides.items():
        with open(os.path.join(stage, "interleaved", f"{side}.tsv"), "w") as f:
            for r in rows:
                f.write("\t".join(str(x) for x in r) + "\n")


class Interleaved(unittest.TestCase):
    def test_ratio_is_the_median_of_per_alternation_ratios(self):
        # Both sides move between a fast and a slow mode together, alternation by alternation:
        # the pooled medians would mislead, the paired ratios are all 1.5.
        rng = random.Random(1)
        c, o2, sw = [], [], []
        for k in range(1, 21):
            base = 100 if rng.random() < 0.5 else 200
            c.append((k, "op", 10, base - 5, base, base * 3))
            o2.append((k, "op", 10, base - 10, base * 4 // 5, base * 3))
            sw.append((k, "op", 10, base * 3 // 2 - 5, base * 3 // 2, base * 4))
        with tempfile.TemporaryDirectory() as d:
            write_interleaved(d, {"c": c, "c-O2": o2, "swift": sw})
            data = report.load_interleaved(d)
            r = report.paired(data, "op", "c")
            self.assertEqual(r["alternations"], 20)
            self.assertAlmostEqual(r["median"], 1.5, places=3)
            self.assertEqual(r["ci95"], [1.5, 1.5])
            self.assertTrue(r["within_3pct"])
            self.assertAlmostEqual(report.paired(data, "op", "c-O2")["median"], 1.875, places=3)
            self.assertEqual(report.converged(d, "op"), 0)

    def test_a_wide_interval_has_not_converged(self):
        rng = random.Random(2)
        c = [(k, "op", 10, 90, 100, 300) for k in range(1, 13)]
        sw = [(k, "op", 10, 90, int(100 * rng.uniform(0.7, 1.4)), 300) for k in range(1, 13)]
        with tempfile.TemporaryDirectory() as d:
            write_interleaved(d, {"c": c, "swift": sw})
            r = report.paired(report.load_interleaved(d), "op", "c")
            self.assertLess(r["ci95"][0], r["median"])
            self.assertGreater(r["ci95"][1], r["median"])
            self.assertFalse(r["within_3pct"])
            self.assertEqual(report.converged(d, "op"), 1)
            out = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), d, "--converged", "op"])
            self.assertEqual(out.returncode, 1)

    def test_bootstrap_is_deterministic_and_brackets_the_median(self):
        values = [1.0, 1.1, 0.9, 1.2, 1.05, 0.95, 1.0, 1.02]
        self.assertEqual(report.bootstrap_median(values), report.bootstrap_median(values))
        med, lo, hi = report.bootstrap_median(values)
        self.assertLessEqual(lo, med)
        self.assertGreaterEqual(hi, med)

    def test_skips_are_reported_not_paired(self):
        with tempfile.TemporaryDirectory() as d:
            write_interleaved(d, {"c": [(1, "op", "SKIP", "kernel has no iommufd")],
                                  "swift": [(1, "op", "SKIP", "kernel has no iommufd")]})
            data = report.load_interleaved(d)
            self.assertIsNone(report.paired(data, "op", "c"))
            self.assertEqual(report.side_summary(data, "c", "op"), {"skip": "kernel has no iommufd"})
            self.assertEqual(report.converged(d, "op"), 1)

    def test_json_and_table(self):
        with tempfile.TemporaryDirectory() as d:
            write_interleaved(d, {"c": [(k, "op", 10, 90, 100, 300) for k in (1, 2)],
                                  "swift": [(k, "op", 10, 95, 104, 300) for k in (1, 2)]})
            out = os.path.join(d, "r.json")
            with contextlib.redirect_stdout(io.StringIO()) as table:
                self.assertEqual(report.interleaved_report(d, out, markdown=True), 0)
            self.assertIn("| op | 2 × 10 |", table.getvalue())
            self.assertIn("1.040 [1.040, 1.040]", table.getvalue())
            rows = json.load(open(out))["operations"]
            self.assertEqual(rows[0]["swift_over_c"]["median"], 1.04)

    def test_two_stage_dirs_are_pooled(self):
        # A two-stage boot: most operations in stage 1, luo_retrieve_memfd in stage 2 (after the kexec).
        with tempfile.TemporaryDirectory() as d:
            s1, s2 = os.path.join(d, "stage1"), os.path.join(d, "stage2")
            write_interleaved(s1, {"c": [(k, "op", 10, 90, 100, 300) for k in (1, 2)],
                                   "swift": [(k, "op", 10, 95, 110, 300) for k in (1, 2)]})
            write_interleaved(s2, {"c": [(k, "luo_retrieve_memfd", 5, 90, 200, 300) for k in (1, 2)],
                                   "swift": [(k, "luo_retrieve_memfd", 5, 95, 250, 300) for k in (1, 2)]})
            data = report.load_interleaved([s1, s2])
            self.assertAlmostEqual(report.paired(data, "op", "c")["median"], 1.1, places=3)
            self.assertAlmostEqual(report.paired(data, "luo_retrieve_memfd", "c")["median"], 1.25, places=3)
            out = os.path.join(d, "r.json")
            r = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), s1, s2, "--json", out], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual([row["op"] for row in json.load(open(out))["operations"]], ["op", "luo_retrieve_memfd"])


class Short(unittest.TestCase):
    def test_stage2_numbers_replace_stage1_skips(self):
        # CI's short mode: stage 1 lists luo_retrieve_memfd as skipped on every side (no sessions
        # yet), stage 2 measures it: --check passes; a side with no stage-2 numbers fails it.
        with tempfile.TemporaryDirectory() as d:
            s1, s2 = os.path.join(d, "stage1"), os.path.join(d, "stage2")
            os.makedirs(s1)
            os.makedirs(s2)
            for side in ("c", "c-O2", "swift"):
                with open(os.path.join(s1, f"{side}-1.tsv"), "w") as f:
                    f.write("op\t5\t90\t100\t300\nluo_retrieve_memfd\tSKIP\tneeds the sessions\n")
                with open(os.path.join(s2, f"{side}-1.tsv"), "w") as f:
                    f.write("luo_retrieve_memfd\t5\t90\t100\t300\n" if side != "swift" else "luo_retrieve_memfd\t5\t90\t150\t300\n")
            out = os.path.join(d, "r.json")
            r = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), s1, s2, "--check", "--json", out], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            rows = {row["op"]: row for row in json.load(open(out))["operations"]}
            self.assertEqual(rows["luo_retrieve_memfd"]["ratio"], 1.5)
            os.remove(os.path.join(s2, "swift-1.tsv"))
            r = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), s1, s2, "--check"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn("luo_retrieve_memfd: measured on one side only", r.stderr)

    def test_O2_runs_are_not_read_as_selftest_flag_runs(self):
        with tempfile.TemporaryDirectory() as d:
            for name, med in (("c-1.tsv", 100), ("c-O2-1.tsv", 50), ("swift-1.tsv", 110)):
                with open(os.path.join(d, name), "w") as f:
                    f.write(f"op\t5\t90\t{med}\t300\n")
            self.assertEqual([r["op"]["median"] for r in report.load(d, "c")], [100])
            self.assertEqual([r["op"]["median"] for r in report.load(d, "c-O2")], [50])
            out = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), d, "--check", "--json", os.path.join(d, "r.json")],
                                 capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stderr)
            row = json.load(open(os.path.join(d, "r.json")))["operations"][0]
            self.assertEqual((row["ratio"], row["ratio_O2"]), (1.1, 2.2))

    def test_check_fails_when_O2_lacks_an_operation(self):
        with tempfile.TemporaryDirectory() as d:
            for name, line in (("c-1.tsv", "op\t5\t90\t100\t300\n"), ("c-O2-1.tsv", "op\tSKIP\tchild failed (exit 1)\n"),
                               ("swift-1.tsv", "op\t5\t90\t110\t300\n")):
                with open(os.path.join(d, name), "w") as f:
                    f.write(line)
            out = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), d, "--check"], capture_output=True, text=True)
            self.assertEqual(out.returncode, 1)
            self.assertIn("C -O2 skipped", out.stderr)


if __name__ == "__main__":
    unittest.main()

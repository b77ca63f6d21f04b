#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Every test name in KTAP files, one a line, in document order, as `<parent>/<name>` (the
parent: the `# Subtest:` the line is in, empty at the top level). For comparing two runs'
names: `diff <(scripts/ktap-names.py a.ktap) <(scripts/ktap-names.py b.ktap)`.
--sorted: sorted and without duplicates. --no-directives: the names only (the default;
skips' reasons are never part of a name)."""
import re
import sys

RESULT = re.compile(r"^(\s*)(?:not )?ok \d+ (.*?)(?:\s+#\s*(?:SKIP|TODO|XFAIL).*)?$", re.IGNORECASE)
SUBTEST = re.compile(r"^(\s*)# Subtest: (.*)$")


def names(path):
    out = []
    stack = []  # (indent, name) of the open subtests
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = SUBTEST.match(line)
            if m:
                indent = len(m.group(1))
                while stack and stack[-1][0] >= indent:
                    stack.pop()
                stack.append((indent, m.group(2).strip()))
                continue
            m = RESULT.match(line)
            if not m:
                continue
            indent = len(m.group(1))
            # A subtest's children sit at its header's indent; its own result line less deep.
            while stack and stack[-1][0] > indent:
                stack.pop()
            parent = stack[-1][1] if stack and stack[-1][0] == indent else ""
            out.append(f"{parent}/{m.group(2).strip()}")
    return out


def main(argv):
    paths = [a for a in argv if not a.startswith("--")]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    all_names = [n for p in paths for n in names(p)]
    if "--sorted" in argv:
        all_names = sorted(set(all_names))
    print("\n".join(all_names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

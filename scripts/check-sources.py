#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The project's source rules that the compiler does not check (scripts/test.sh runs this first).

1. The `xResult` rule: a public function that returns `Result<_, _>` is named `fooResult(...)`
   (its throwing twin is `foo(...)`), and none both throws and returns a Result.

Prints one line per violation (file:line: what) and exits 1 when there is any.
Usage: scripts/check-sources.py [REPO]   (default: the repository this script is in)
"""
import pathlib
import re
import sys

repo = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
PUBLIC_FUNC = re.compile(
    r'\bpublic\s+(?:(?:static|final|mutating|nonisolated|class|override|@\w+)\s+)*func\s+(\w+)\s*(<[^>]*>)?\s*\(([^{]*)\{',
    re.S)


def line_of(text, index):
    return text.count('\n', 0, index) + 1


def naming_violations(path, text):
    for m in PUBLIC_FUNC.finditer(text):
        name, signature = m.group(1), m.group(3)
        if '->' not in signature:
            continue
        params_and_effects, result = signature.rsplit('->', 1)
        if not re.match(r'\s*Result\s*<', result):
            continue
        if re.search(r'\)\s*(?:async\s+)?(?:re)?throws\b', params_and_effects):
            yield f"{path}:{line_of(text, m.start())}: {name} both throws and returns a Result (make it {name.removesuffix('Result')}Result() returning the Result and a throwing {name.removesuffix('Result')}())"
        elif not name.endswith('Result'):
            yield f"{path}:{line_of(text, m.start())}: {name} returns a Result: name it {name}Result (and its throwing twin {name})"


def main():
    violations = []
    for path in sorted((repo / 'Sources').rglob('*.swift')):
        text = path.read_text()
        rel = path.relative_to(repo)
        violations += naming_violations(rel, text)
    for v in violations:
        print(v)
    if violations:
        print(f"check-sources: {len(violations)} violation(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

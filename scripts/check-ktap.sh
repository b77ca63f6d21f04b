#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Checks a KTAP file written by `vfio-selftests run --ktap` with the kernel's own parser
# (tools/testing/kunit/kunit_parser.py, fetched by scripts/fetch-kunit.sh, read through
# scripts/lib/results.py) and, given the run's JUnit, that kunit_parser counts the same
# passed/failed/skipped tests as Swift Testing did.
# Usage: check-ktap.sh KTAP [JUNIT]
# Env:   KUNIT_PY (default <repo>/.build-vm/kunit/tools/testing/kunit/kunit.py).
# Exit:  0 parsed (and counts equal), 1 parse errors or different counts, 4 kunit.py not available.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
ktap=$(realpath "${1:?usage: check-ktap.sh KTAP [JUNIT]}")
junit=${2:+$(realpath "$2")}
kunit=${KUNIT_PY:-$repo/.build-vm/kunit/tools/testing/kunit/kunit.py}
if [[ ! -f $kunit ]]; then echo "check-ktap: SKIP: no kunit.py at $kunit (run scripts/fetch-kunit.sh)"; exit 4; fi
command -v python3 >/dev/null || { echo "check-ktap: SKIP: no python3"; exit 4; }
# The parse, the counts and the comparison: scripts/lib/results.py (kunit_parser, as kunit.py
# parse runs it; the JUnit read as every other script reads it).
KUNIT_PY=$kunit exec python3 -B "$here/lib/results.py" check-ktap "$ktap" ${junit:+"$junit"}

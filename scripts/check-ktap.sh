#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Checks a KTAP file written by `vfio-selftests run --ktap` with the kernel's own parser
# (tools/testing/kunit/kunit.py parse, fetched by scripts/fetch-kunit.sh) and, given the
# run's JUnit, that kunit.py counts the same passed/failed/skipped tests as Swift Testing did.
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
out=$(python3 -B "$kunit" parse "$ktap" 2>&1)
summary=$(grep -o 'Testing complete\..*' <<<"$out" | tail -n1)
echo "check-ktap: kunit.py: $summary"
if grep -q '\[ERROR\]' <<<"$out" || [[ -z $summary ]]; then
  grep '\[ERROR\]' <<<"$out" | head -5
  echo "check-ktap: FAIL: kunit.py parse reported errors"; exit 1
fi
count() { local v; v=$(grep -o "$1: [0-9]*" <<<"$summary" | grep -o '[0-9]*$'); echo "${v:-0}"; }
k="$(count passed) $(count failed) $(count skipped)"
if [[ -n $junit ]]; then
  j=$(python3 - "$junit" <<'PY'
import sys, xml.etree.ElementTree as ET
p = f = s = 0
for tc in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    if tc.find("failure") is not None or tc.find("error") is not None: f += 1
    elif tc.find("skipped") is not None: s += 1
    else: p += 1
print(p, f, s)
PY
)
  echo "check-ktap: passed/failed/skipped: kunit.py $k, Swift Testing JUnit $j"
  [[ $k == "$j" ]] || { echo "check-ktap: FAIL: counts differ"; exit 1; }
fi
echo "check-ktap: OK"

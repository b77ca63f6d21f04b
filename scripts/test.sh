#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The project's test command on this machine: builds, then runs every Swift Testing suite.
# Unit tests and the uAPI and driver conformance tests run anywhere; the hardware suites run when
# VFIO_SELFTESTS_BDF names a device bound to vfio-pci and the caller is root, and otherwise
# skip, each with its reason. Installs what it lacks (libkmod-dev, a C compiler) on Debian/Ubuntu.
# Before the build, the Python unit tests of scripts/lib/results.py (scripts/lib/test_results.py)
# and of the benchmark's report (scripts/bench/test_report.py).
# Extra arguments go to `swift test` (e.g. --filter vfio_dma_mapping_test).
# `test.sh --prepare`: only install, fetch and build (CI starts its guests then, while the tests
# run); `test.sh --deps`: only install what is missing.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

missing=()
pkg-config --exists libkmod 2>/dev/null || missing+=(libkmod-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
command -v xz >/dev/null || missing+=(xz-utils)
command -v python3 >/dev/null || missing+=(python3)
# The kernel's C selftests (scripts/build-c-selftests.sh, for the C-vs-Swift comparison).
command -v make >/dev/null || missing+=(make)
command -v rsync >/dev/null || missing+=(rsync)  # its --gen-tar: kselftest's make install
[[ -e /usr/include/uuid/uuid.h ]] || missing+=(uuid-dev)
if ((${#missing[@]})); then
  echo "test.sh: installing ${missing[*]}" >&2
  . scripts/lib/apt-install.sh
  apt_install "${missing[@]}" || exit 2
fi
command -v swift >/dev/null || { echo "test.sh: no swift toolchain on PATH (Swift 6.2 or newer)" >&2; exit 2; }
[[ ${1:-} == --deps ]] && exit 0

# The C selftest drivers and their kernel headers (from Debian's linux-source) for the driver
# conformance test, and the kernel's KTAP parser (tools/testing/kunit) for the KTAP tests and
# scripts/lib/results.py. Without them those tests skip, saying so; in CI (CI=true) a failed
# fetch is fatal, so that CI cannot pass with the conformance test skipped.
fetch_failed() {
  if [[ ${CI:-} == true ]]; then
    echo "test.sh: error: $1 failed (CI=true: $2 must not skip)" >&2; exit 2
  fi
  echo "test.sh: warning: $1 failed; $2 will skip" >&2
}
[[ -e .build-vm/kernel-source/VERSION ]] || scripts/fetch-kernel-source.sh >&2 ||
  fetch_failed scripts/fetch-kernel-source.sh "the driver conformance test"
[[ -e .build-vm/kunit/tools/testing/kunit/kunit.py ]] || scripts/fetch-kunit.sh >&2 ||
  fetch_failed scripts/fetch-kunit.sh "the KTAP parse tests"

# scripts/lib/results.py (the one reader of KTAP and JUnit for the scripts) and the scripts that
# read results through it, on recorded results: stdlib unittest, a few seconds.
if [[ ${1:-} != --prepare ]]; then
  echo "test.sh: python3 -m unittest discover -s scripts/lib and -s scripts/bench (test_results.py, test_report.py)" >&2
  python3 -B -m unittest discover -s scripts/lib -p 'test_*.py' >&2 ||
    { echo "test.sh: error: the Python unit tests of scripts/lib/results.py failed" >&2; exit 1; }
  python3 -B -m unittest discover -s scripts/bench -p 'test_*.py' >&2 ||
    { echo "test.sh: error: the Python unit tests of scripts/bench/report.py failed" >&2; exit 1; }
fi

# The source rules the compiler does not check (the xResult naming rule, ...): one line each.
python3 scripts/check-sources.py || { echo "test.sh: scripts/check-sources.py found violations" >&2; exit 1; }

mkdir -p results/host
swift build --build-tests
[[ ${1:-} == --prepare ]] && exit 0
exec swift test --skip-build --disable-xctest --xunit-output results/host/junit.xml "$@"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Where `run_one_test`'s time goes (docs/benchmark.md): one Swift test run through the CLI and the
# same test of the C program, each under `perf record -e cpu-clock -g` (TCG has no PMU), STARTUP_RUNS
# times (default 5). Run like scripts/guest/bench.sh (scripts/vm-test.sh --guest-script ... with
# VFIO_SELFTESTS_BIN_DIR holding bench-bin's run/ and selftests/). Writes $RESULTS/startup/:
# {c,swift}.comm (samples per process), .dso (per shared object), .sym (per symbol, self),
# .children (inclusive), and wall.tsv (side, run, seconds, without perf; the sides interleaved).
# The sides timed: c and c_o2 (the C program, the selftests' flags and -O2, when O2/ has it),
# swift (the CLI running the test binary), cli (`--help`), xctest (the test binary matching no
# test), xctest_one (the test binary running the one test as the CLI starts it, with no CLI) and
# probe (run/startup-probe.xctest when present: scripts/bench/startup-probe, a Swift Testing
# binary with one empty test, the floor), any run/extra-NAME (as extra_NAME), and a second build
# in run-alt/ (swift_alt, xctest_one_alt); each side's output of its last run is in $side.out.
# The perf profiles are of STARTUP_PERF_SIDES (comma-separated, default c,swift); STARTUP_PERF=0 skips them,
# STARTUP_PERF_SCRIPT=1 also keeps each one's samples ($side.script.gz).
set -u
RESULTS=${VFIO_SELFTESTS_RESULTS:?}; BIN=${VFIO_SELFTESTS_BIN_DIR:?}; BDF=${VFIO_SELFTESTS_BDF:-0000:00:03.0}
out=$RESULTS/startup; mkdir -p "$out"
cli=$BIN/vfio-selftests
"$cli" modprobe vfio-pci vfio_iommu_type1 iommufd > "$out/setup.log" 2>&1
"$cli" setup "$BDF" >> "$out/setup.log" 2>&1 || exit 1
swift_cmd=("$BIN/run/vfio-selftests" run --iommu-mode iommufd --filter VFIOPCIDeviceSuite/config_space_read_write --ktap - "$BDF")
c_cmd=("$BIN/selftests/vfio_pci_device_test" -r vfio_pci_device_test.config_space_read_write "$BDF")
# The CLI alone (argument parsing, no test binary) and the test binary alone (no test matches).
cli_cmd=("$BIN/run/vfio-selftests" --help)
xctest_cmd=("$BIN/run/vfio-selftestsPackageTests.xctest" --filter no-such-test)
# The one test with no CLI: the arguments and environment `vfio-selftests run` gives the binary
# (less the event stream, which the CLI reads).
# one_test ARRAY BINARY: sets ARRAY to that command for BINARY.
one_test() {
  local -n into=$1
  into=(env VFIO_SELFTESTS_BDF="$BDF" VFIO_SELFTESTS_IOMMU_MODE=iommufd VFIO_SELFTESTS_STAGE=0
    "$2" --testing-library swift-testing --filter VFIOPCIDeviceSuite/config_space_read_write)
}
one_test xctest_one_cmd "$BIN/run/vfio-selftestsPackageTests.xctest"
sides=(c swift cli xctest xctest_one)
if [[ -x $BIN/O2/selftests/vfio_pci_device_test ]]; then
  c_o2_cmd=("$BIN/O2/selftests/vfio_pci_device_test" "${c_cmd[@]:1}"); sides+=(c_o2)
fi
if [[ -x $BIN/run/startup-probe.xctest ]]; then
  probe_cmd=("$BIN/run/startup-probe.xctest" --testing-library swift-testing --filter ProbeSuite/empty); sides+=(probe)
fi
# An A/B of two builds in one boot: run-alt/ beside run/, another vfio-selftests and its test
# binary, timed as swift_alt and xctest_one_alt.
if [[ -x $BIN/run-alt/vfio-selftests && -x $BIN/run-alt/vfio-selftestsPackageTests.xctest ]]; then
  swift_alt_cmd=("$BIN/run-alt/vfio-selftests" "${swift_cmd[@]:1}")
  one_test xctest_one_alt_cmd "$BIN/run-alt/vfio-selftestsPackageTests.xctest"
  sides+=(swift_alt xctest_one_alt)
fi
# Any other program put in run/ as extra-NAME is timed too (with no arguments), as side extra_NAME.
for f in "$BIN"/run/extra-*; do
  [[ -x $f ]] || continue
  side=${f##*/}; side=${side//-/_}
  declare -n ref=${side}_cmd; ref=("$f"); unset -n ref
  sides+=("$side")
done
for ((i = 1; i <= ${STARTUP_RUNS:-5}; i++)); do
  for side in "${sides[@]}"; do
    declare -n cmd=${side}_cmd
    t0=$(date +%s%N); "${cmd[@]}" > "$out/$side.out" 2>&1; rc=$?; t1=$(date +%s%N)
    printf '%s\t%s\t%s\t%s\n' "$side" "$i" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" "$rc" >> "$out/wall.tsv"
  done
done
for side in $( ((${STARTUP_PERF:-1})) && echo "${STARTUP_PERF_SIDES:-c swift}" | tr , " "); do
  declare -n cmd=${side}_cmd
  perf record -e cpu-clock -F 4000 -g -o /tmp/startup.data -- "${cmd[@]}" > /dev/null 2> "$out/$side.perf.err"
  perf report -i /tmp/startup.data --sort comm --stdio 2>/dev/null | grep -v '^$' > "$out/$side.comm"
  perf report -i /tmp/startup.data --no-children --sort comm,dso --stdio 2>/dev/null | grep -v '^$' | head -60 > "$out/$side.dso"
  perf report -i /tmp/startup.data --no-children --sort comm,dso,sym --stdio -g none --percent-limit 0.3 2>/dev/null | grep -v '^$' | cut -c1-260 > "$out/$side.sym"
  perf report -i /tmp/startup.data --children --sort comm,sym --stdio -g none --percent-limit 1 2>/dev/null | grep -v '^$' | cut -c1-260 > "$out/$side.children"
  # The samples with their call chains, for scripts/bench/perf-window.py --callers on the host.
  ((${STARTUP_PERF_SCRIPT:-0})) && perf script -i /tmp/startup.data 2>/dev/null | gzip > "$out/$side.script.gz"
done
"$cli" cleanup "$BDF" >> "$out/setup.log" 2>&1
printf '<?xml version="1.0"?><testsuites><testsuite name="startup"><testcase classname="startup" name="ran"/></testsuite></testsuites>\n' > "$RESULTS/junit-startup.xml"
exit 0

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Where `run_one_test`'s time goes (docs/benchmark.md): one Swift test run through the CLI and the
# same test of the C program, each under `perf record -e cpu-clock -g` (TCG has no PMU), STARTUP_RUNS
# times (default 5). Run like scripts/guest/bench.sh (scripts/vm-test.sh --guest-script ... with
# VFIO_SELFTESTS_BIN_DIR holding bench-bin's run/ and selftests/). Writes $RESULTS/startup/:
# {c,swift}.comm (samples per process), .dso (per shared object), .sym (per symbol, self),
# .children (inclusive), and wall.tsv (side, run, seconds, without perf).
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
for ((i = 1; i <= ${STARTUP_RUNS:-5}; i++)); do
  for side in c swift cli xctest; do
    declare -n cmd=${side}_cmd
    t0=$(date +%s%N); "${cmd[@]}" > /dev/null 2>&1; t1=$(date +%s%N)
    printf '%s\t%s\t%s\n' "$side" "$i" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" >> "$out/wall.tsv"
  done
done
for side in c swift; do
  declare -n cmd=${side}_cmd
  perf record -e cpu-clock -F 4000 -g -o /tmp/startup.data -- "${cmd[@]}" > /dev/null 2> "$out/$side.perf.err"
  perf report -i /tmp/startup.data --sort comm --stdio 2>/dev/null | grep -v '^$' > "$out/$side.comm"
  perf report -i /tmp/startup.data --no-children --sort comm,dso --stdio 2>/dev/null | grep -v '^$' | head -60 > "$out/$side.dso"
  perf report -i /tmp/startup.data --no-children --sort comm,dso,sym --stdio -g none --percent-limit 0.3 2>/dev/null | grep -v '^$' | cut -c1-260 > "$out/$side.sym"
  perf report -i /tmp/startup.data --children --sort comm,sym --stdio -g none --percent-limit 1 2>/dev/null | grep -v '^$' | cut -c1-260 > "$out/$side.children"
done
"$cli" cleanup "$BDF" >> "$out/setup.log" 2>&1
printf '<?xml version="1.0"?><testsuites><testsuite name="startup"><testcase classname="startup" name="ran"/></testsuite></testsuites>\n' > "$RESULTS/junit-startup.xml"
exit 0

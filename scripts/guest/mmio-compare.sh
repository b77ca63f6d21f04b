#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Diagnostic, not run by CI (docs/benchmark.md, "vfio_dma_mapping_mmio_test"): the kernel's C
# vfio_dma_mapping_mmio_test against the Swift suite (VFIODMAMappingMMIOSuite through
# `vfio-selftests run`, as CI's comparison runs it), alternately, REPS times each in one boot;
# then, with PROFILE=1, strace -f -tt -T and a perf profile (cpu-clock: TCG has no PMU) of one
# more run of each side.
#   scripts/vm-test.sh --kernel ../shared/kernel --skip-build --quiet \
#     --guest-script scripts/guest/mmio-compare.sh --env MMIO_C_DIR=<dir of the C program> \
#     [--env REPS=3] [--env SWIFT_BINS=new=<bin dir>,old=<bin dir>] [--env PROFILE=1]
# SWIFT_BINS: builds to compare (label=dir of vfio-selftests and its .xctest, comma-separated;
# default: VFIO_SELFTESTS_BIN_DIR as "swift"), each run once per rep after C, their order turning
# each rep; the profiles are of the first.
# Writes times.tsv (rep, side, test, seconds: C the whole program's wall as compare-c.sh takes it,
# a Swift build each test's JUnit time and the sum), strace-*.txt, perf-*.txt.
# Another program: COMPARE_PROGRAM (the C program's name, default vfio_dma_mapping_mmio_test)
# and COMPARE_FILTER (the Swift suite, default VFIODMAMappingMMIOSuite/); EXTRA_BDFS (space-
# separated, e.g. for vfio_pci_device_init_perf_test) are set up too and passed to both sides
# (C: after BDF; Swift: --extra-device).
set -u
RESULTS=${VFIO_SELFTESTS_RESULTS:?}
REPO=${VFIO_SELFTESTS_REPO:?}
BDF=${VFIO_SELFTESTS_BDF:?}
C=${MMIO_C_DIR:?}/${COMPARE_PROGRAM:-vfio_dma_mapping_mmio_test}
FILTER=${COMPARE_FILTER:-VFIODMAMappingMMIOSuite/}
read -r -a extra <<<"${EXTRA_BDFS:-}"
extra_args=(); for d in "${extra[@]}"; do extra_args+=(--extra-device "$d"); done
REPS=${REPS:-3}
BIN=${VFIO_SELFTESTS_BIN_DIR:-$REPO/.build/debug}
IFS=, read -r -a bins <<<"${SWIFT_BINS:-swift=$BIN}"
cli=${bins[0]#*=}/vfio-selftests
out=$RESULTS/times.tsv
log() { echo "mmio-compare +$(cut -d' ' -f1 /proc/uptime)s: $*" | tee -a "$RESULTS/log.txt"; }
"$cli" modprobe vfio-pci vfio_iommu_type1 iommufd >> "$RESULTS/log.txt" 2>&1
for d in "$BDF" "${extra[@]}"; do "$cli" setup "$d" >> "$RESULTS/log.txt" 2>&1; done
# The binaries into the page cache first (the first run of each otherwise pays reading it).
cat "$C" > /dev/null
for b in "${bins[@]}"; do cat "${b#*=}/vfio-selftests" "${b#*=}/vfio-selftestsPackageTests.xctest" > /dev/null; done
now() { date +%s.%N; }
c_run() { # rep [wrapper...]
  local r=$1 t0 t1 rc; shift
  t0=$(now); VFIO_SELFTESTS_BDF=$BDF "$@" timeout -k 10 900 stdbuf -oL -eL "$C" "$BDF" "${extra[@]}" > "$RESULTS/c-$r.log" 2>&1; rc=$?; t1=$(now)
  printf '%s\tC\twhole program\t%s\trc=%s ok=%s\n' "$r" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" "$rc" \
    "$(grep -c '^ok ' "$RESULTS/c-$r.log")" >> "$out"
}
swift_run() { # rep label=bindir [wrapper...]
  local r=$1 label=${2%%=*} bin=${2#*=} t0 t1 rc; shift 2
  t0=$(now)
  "$@" "$bin/vfio-selftests" run --filter "$FILTER" "${extra_args[@]}" --junit "$RESULTS/junit-$label-$r.xml" "$BDF" \
    > "$RESULTS/$label-$r.log" 2>&1; rc=$?; t1=$(now)
  python3 - "$RESULTS/junit-$label-$r.xml" "$r" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" "$rc" "$label" >> "$out" <<'EOF'
import sys, xml.etree.ElementTree as ET
f, rep, wall, rc, label = sys.argv[1:]
total, passed = 0.0, 0
for c in ET.parse(f).iter("testcase"):
    t = float(c.get("time"))
    total += t
    passed += not any(x.tag in ("failure", "error", "skipped") for x in c)
    print(f"{rep}\t{label}\t{c.get('name')}\t{t:.3f}")
print(f"{rep}\t{label}\tsum\t{total:.3f}\trc={rc} passed={passed} run-wall={wall}")
EOF
}
log "kernel $(uname -r); cpus $(nproc)"
n=${#bins[@]}
for r in $(seq 1 "$REPS"); do
  c_run "$r"
  for i in $(seq 0 $((n - 1))); do swift_run "$r" "${bins[$(( (i + r) % n ))]}"; done
  log "rep $r done"
done
if [[ ${PROFILE:-0} == 1 ]]; then
  c_run strace strace -f -tt -T -o "$RESULTS/strace-c.txt"
  swift_run strace "${bins[0]}" strace -f -tt -T -o "$RESULTS/strace-swift.txt"
  c_run strace-c strace -f -c -o "$RESULTS/strace-c-summary.txt"
  swift_run strace-c "${bins[0]}" strace -f -c -o "$RESULTS/strace-swift-summary.txt"
  c_run perf perf record -e cpu-clock -F 4000 -g -o /tmp/c.data --
  swift_run perf "${bins[0]}" perf record -e cpu-clock -F 4000 -g -o /tmp/s.data --
  for d in c s; do
    perf report -i /tmp/$d.data --children --sort sym -g none --stdio --percent-limit 0.3 2>/dev/null | grep -v '^$' | cut -c1-240 > "$RESULTS/perf-$d-children.txt"
    perf report -i /tmp/$d.data --no-children --sort comm,dso,sym -g none --stdio --percent-limit 0.3 2>/dev/null | grep -v '^$' | cut -c1-240 > "$RESULTS/perf-$d-self.txt"
    perf script -i /tmp/$d.data 2>/dev/null | gzip > "$RESULTS/perf-$d-script.txt.gz"
  done
fi
for d in "$BDF" "${extra[@]}"; do "$cli" cleanup "$d" >> "$RESULTS/log.txt" 2>&1; done
log "done"
exit 0

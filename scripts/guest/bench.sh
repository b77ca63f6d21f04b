#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The guest side of scripts/bench.sh, run by scripts/vm-test.sh --guest-script in the guest chroot
# (root). Binaries in VFIO_SELFTESTS_BIN_DIR: vfio-selftests (the CLI), bench (C, from
# scripts/bench/bench.c), vfio-bench (Swift, release). Sets the device under test up for vfio-pci
# with the CLI, then alternates the two programs BENCH_ALTERNATIONS times (C all operations,
# Swift all operations), each writing $RESULTS/{c,swift}-N.tsv; with BENCH_STRACE=1, counts
# the system calls of each operation on both sides afterwards (strace -c -f, 1/BENCH_STRACE_DIVISOR
# of the rounds) into $RESULTS/strace/{c,swift}-<op>.txt, and of a run with no operation
# (start-up and exit) into {c,swift}-baseline.txt; cleans up; writes junit-bench.xml
# (one test case per operation and side: passed with numbers, skipped with the reason) for
# vm-test.sh's summary. Env: BENCH_DIVISOR (1; 20 for --short), BENCH_ALTERNATIONS (3).
set -u
REPO=${VFIO_SELFTESTS_REPO:?VFIO_SELFTESTS_REPO not set}
RESULTS=${VFIO_SELFTESTS_RESULTS:?VFIO_SELFTESTS_RESULTS not set}
BDF=${VFIO_SELFTESTS_BDF:-0000:00:03.0}
BIN=${VFIO_SELFTESTS_BIN_DIR:?VFIO_SELFTESTS_BIN_DIR not set}
divisor=${BENCH_DIVISOR:-1} alternations=${BENCH_ALTERNATIONS:-3}
cli=$BIN/vfio-selftests
mkdir -p "$RESULTS"
log() { echo "bench[guest] +$(cut -d' ' -f1 /proc/uptime)s: $*" | tee -a "$RESULTS/bench.log"; }
{ echo "uname_r=$(uname -r)"; echo "cmdline=$(cat /proc/cmdline)"; echo "bdf=$BDF"
  echo "cpus_online=$(cat /sys/devices/system/cpu/online)"; grep MemTotal /proc/meminfo
  echo "divisor=$divisor alternations=$alternations"; } > "$RESULTS/guest-info"

"$cli" modprobe vfio-pci vfio_iommu_type1 iommufd 2>&1 | tee -a "$RESULTS/bench.log"
"$cli" setup "$BDF" 2>&1 | tee -a "$RESULTS/bench.log"
setup_rc=${PIPESTATUS[0]}
((setup_rc == 0)) || log "error: setup $BDF exited $setup_rc"

rc=0
for ((n = 1; n <= alternations; n++)); do
  for side in c swift; do
    prog=$BIN/bench; [[ $side == swift ]] && prog=$BIN/vfio-bench
    t0=$(date +%s.%N)
    "$prog" -d "$BDF" -s "$divisor" > "$RESULTS/$side-$n.tsv" 2> "$RESULTS/$side-$n.err"
    r=$?
    log "$side run $n: exit $r, $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s, $(grep -c . "$RESULTS/$side-$n.tsv") operations"
    ((r == 0)) || rc=1
  done
done

if [[ ${BENCH_STRACE:-0} == 1 ]] && command -v strace >/dev/null; then
  mkdir -p "$RESULTS/strace"
  # The start-up and exit of each program, without any operation: subtracted by report.py.
  for side in c swift; do
    prog=$BIN/bench; [[ $side == swift ]] && prog=$BIN/vfio-bench
    strace -c -f -o "$RESULTS/strace/$side-baseline.txt" "$prog" -d "$BDF" -f no-such-operation > /dev/null 2>&1
  done
  for op in $(cut -f1 "$RESULTS/c-1.tsv"); do
    grep -q "^$op	SKIP" "$RESULTS/c-1.tsv" && continue
    for side in c swift; do
      prog=$BIN/bench; [[ $side == swift ]] && prog=$BIN/vfio-bench
      strace -c -f -o "$RESULTS/strace/$side-${op//:/_}.txt" "$prog" -d "$BDF" -s "${BENCH_STRACE_DIVISOR:-10}" -f "$op" \
        > "$RESULTS/strace/$side-${op//:/_}.tsv" 2>/dev/null
    done
  done
  log "strace -c done"
fi

"$cli" cleanup "$BDF" 2>&1 | tee -a "$RESULTS/bench.log"

# JUnit for vm-test.sh's summary: an operation passes on a side when it produced numbers.
{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  echo '<testsuites><testsuite name="bench">'
  for side in c swift; do
    f=$RESULTS/$side-1.tsv
    [[ -s $f ]] || { echo "<testcase classname=\"bench.$side\" name=\"run\"><failure message=\"no output\"/></testcase>"; continue; }
    while IFS=$'\t' read -r op rounds rest; do
      if [[ $rounds == SKIP ]]; then
        reason=$(printf '%s' "$rest" | sed 's/&/\&amp;/g; s/</\&lt;/g; s/"/\&quot;/g')
        echo "<testcase classname=\"bench.$side\" name=\"$op\"><skipped message=\"$reason\"/></testcase>"
      else
        echo "<testcase classname=\"bench.$side\" name=\"$op\"/>"
      fi
    done < "$f"
  done
  echo '</testsuite></testsuites>'
} > "$RESULTS/junit-bench.xml"
((setup_rc == 0)) || rc=$setup_rc
exit "$rc"

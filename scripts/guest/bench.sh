#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The guest side of scripts/bench.sh, run by scripts/vm-test.sh --guest-script in the guest chroot
# (root). Binaries in VFIO_SELFTESTS_BIN_DIR: vfio-selftests (the CLI), bench (C, from
# scripts/bench/bench.c, the selftests' flags), bench-O2 (the same at -O2; optional), vfio-bench
# (Swift). Sets the device under test up for vfio-pci with the CLI, then:
# - BENCH_MODE=interleaved (scripts/bench.sh's full run): per operation, alternations of one
#   short batch on each side (BENCH_BATCH_DIVISOR of its default rounds; first_init: one round,
#   a fresh process each), the sides' order rotating every alternation, appended to
#   $RESULTS/interleaved/<side>.tsv as "alternation<TAB>op<TAB>rounds<TAB>min<TAB>median<TAB>max";
#   after BENCH_MIN_ALTERNATIONS, every 4th alternation asks scripts/bench/report.py --converged
#   whether the 95% interval of Swift ÷ C (the median of per-alternation ratios) is within ±3%
#   against each C build, and stops there or at BENCH_MAX_ALTERNATIONS;
# - otherwise (--short, CI): every side runs all operations BENCH_ALTERNATIONS times, each
#   writing $RESULTS/{c,c-O2,swift}-N.tsv.
# With BENCH_STRACE=1, counts the system calls of each operation on both sides afterwards
# (strace -c -f, 1/BENCH_STRACE_DIVISOR of the rounds) into $RESULTS/strace/{c,swift}-<op>.txt,
# and of a run with no operation (start-up and exit) into {c,swift}-baseline.txt; cleans up;
# writes junit-bench.xml (one test case per operation and side: passed with numbers, skipped with
# the reason) for vm-test.sh's summary. Env: BENCH_DIVISOR (1; 20 for --short),
# BENCH_ALTERNATIONS (3), BENCH_BATCH_DIVISOR (20), BENCH_MIN_ALTERNATIONS (12),
# BENCH_MAX_ALTERNATIONS (60), BENCH_FILTER (an extended regex: only the operations it matches), BENCH_DRIVER_BDF
# (a device with a selftest DMA driver for driver_memcpy_*: set up and cleaned up here too).
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
# BENCH_DRIVER_BDF: the igb of the driver_memcpy operations (both programs read it), set up too.
if [[ -n ${BENCH_DRIVER_BDF:-} ]]; then
  "$cli" setup "$BENCH_DRIVER_BDF" 2>&1 | tee -a "$RESULTS/bench.log"
  r=${PIPESTATUS[0]}
  ((r == 0)) || { log "error: setup $BENCH_DRIVER_BDF exited $r"; setup_rc=$r; }
  echo "driver_bdf=$BENCH_DRIVER_BDF" >> "$RESULTS/guest-info"
fi

sides=(c swift)
[[ -x $BIN/bench-O2 ]] && sides=(c c-O2 swift)
prog_of() { case $1 in c) echo "$BIN/bench" ;; c-O2) echo "$BIN/bench-O2" ;; swift) echo "$BIN/vfio-bench" ;; esac; }
report=$REPO/scripts/bench/report.py

rc=0
if [[ ${BENCH_MODE:-} == interleaved ]]; then
  batch_div=${BENCH_BATCH_DIVISOR:-20} min_alt=${BENCH_MIN_ALTERNATIONS:-12} max_alt=${BENCH_MAX_ALTERNATIONS:-60}
  echo "mode=interleaved sides=${sides[*]} batch_divisor=$batch_div min_alternations=$min_alt max_alternations=$max_alt" >> "$RESULTS/guest-info"
  mkdir -p "$RESULTS/interleaved"
  while IFS=$'\t' read -r op default; do
    [[ -n ${BENCH_FILTER:-} && ! $op =~ $BENCH_FILTER ]] && continue
    batch=$((default / batch_div)); ((batch < 5)) && batch=5
    [[ $op == first_init:* ]] && batch=1
    t0=$(date +%s.%N) k=0 skipped=""
    while ((k < max_alt)); do
      k=$((k + 1))
      n=${#sides[@]} order=()
      for ((i = 0; i < n; i++)); do order+=("${sides[$(((i + k) % n))]}"); done
      for side in "${order[@]}"; do
        line=$("$(prog_of "$side")" -d "$BDF" -n "$batch" -f "$op" 2>> "$RESULTS/interleaved/$side.err")
        [[ -n $line ]] || line="$op	SKIP	no output (exit $?)"
        # One line per operation, but run_one_test adds run_one_test_to_ktap: each line its own row.
        while IFS= read -r l; do printf '%s\t%s\n' "$k" "$l"; done <<< "$line" >> "$RESULTS/interleaved/$side.tsv"
        [[ $line == *"	SKIP	"* ]] && skipped+="$side "
      done
      [[ -n $skipped ]] && break
      if ((k >= min_alt && k % 4 == 0)) && python3 "$report" "$RESULTS" --converged "$op" 2>/dev/null; then break; fi
    done
    log "$op: $k alternation(s) of $batch round(s) on ${sides[*]}, $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s${skipped:+; skipped on $skipped}"
  done < <("$BIN/bench" -l)
  # The JUnit below reads the first alternation of each side.
  for side in "${sides[@]}"; do
    awk -F'\t' '$1 == 1 { print substr($0, index($0, "\t") + 1) }' "$RESULTS/interleaved/$side.tsv" > "$RESULTS/$side-1.tsv"
  done
else
  for ((n = 1; n <= alternations; n++)); do
    for side in "${sides[@]}"; do
      prog=$(prog_of "$side")
      t0=$(date +%s.%N)
      "$prog" -d "$BDF" -s "$divisor" > "$RESULTS/$side-$n.tsv" 2> "$RESULTS/$side-$n.err"
      r=$?
      log "$side run $n: exit $r, $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s, $(grep -c . "$RESULTS/$side-$n.tsv") operations"
      ((r == 0)) || rc=1
    done
  done
fi

if [[ ${BENCH_STRACE:-0} == 1 ]] && command -v strace >/dev/null; then
  mkdir -p "$RESULTS/strace"
  # The start-up and exit of each program, without any operation: subtracted by report.py.
  for side in c swift; do
    prog=$(prog_of "$side")
    strace -c -f -o "$RESULTS/strace/$side-baseline.txt" "$prog" -d "$BDF" -f no-such-operation > /dev/null 2>&1
  done
  for op in $(cut -f1 "$RESULTS/c-1.tsv"); do
    grep -q "^$op	SKIP" "$RESULTS/c-1.tsv" && continue
    for side in c swift; do
      prog=$(prog_of "$side")
      strace -c -f -o "$RESULTS/strace/$side-${op//:/_}.txt" "$prog" -d "$BDF" -s "${BENCH_STRACE_DIVISOR:-10}" -f "$op" \
        > "$RESULTS/strace/$side-${op//:/_}.tsv" 2>/dev/null
    done
  done
  log "strace -c done"
fi

"$cli" cleanup "$BDF" 2>&1 | tee -a "$RESULTS/bench.log"
[[ -n ${BENCH_DRIVER_BDF:-} ]] && "$cli" cleanup "$BENCH_DRIVER_BDF" 2>&1 | tee -a "$RESULTS/bench.log"

# JUnit for vm-test.sh's summary: an operation passes on a side when it produced numbers.
{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  echo '<testsuites><testsuite name="bench">'
  for side in "${sides[@]}"; do
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

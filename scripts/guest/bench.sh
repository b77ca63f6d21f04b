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
# luo_retrieve_memfd needs a two-stage boot (VFIO_SELFTESTS_STAGES=2, scripts/vm-test.sh
# --stages 2): stage 1 runs every other operation as above, then each side's program preserves
# the sessions it will retrieve (-P bench-<side> -p <alternations>: untimed, held until the
# kexec); stage 2 sets no device up and runs only that operation, in the same alternations (or
# once per side in the short mode), then retrieves and finishes the sessions left (-c). In a
# one-stage boot it skips on every side.
# With BENCH_STRACE=1, counts the system calls of each operation on both sides afterwards
# (strace -c -f, 1/BENCH_STRACE_DIVISOR of the rounds) into $RESULTS/strace/{c,swift}-<op>.txt,
# and of a run with no operation (start-up and exit) into {c,swift}-baseline.txt; cleans up;
# writes junit-bench.xml (one test case per operation and side: passed with numbers, skipped with
# the reason) for vm-test.sh's summary. Env: BENCH_DIVISOR (1; 20 for --short),
# BENCH_ALTERNATIONS (3), BENCH_BATCH_DIVISOR (20), BENCH_MIN_ALTERNATIONS (12),
# BENCH_MAX_ALTERNATIONS (60; run_one_test and luo_retrieve_memfd at most
# BENCH_RUN_ONE_TEST_MAX_ALTERNATIONS and BENCH_LUO_MAX_ALTERNATIONS, 24 each; the edu memcpy
# operations at most BENCH_EDU_MAX_ALTERNATIONS, 8), BENCH_FILTER (an extended regex: only the operations it matches), BENCH_DRIVER_BDF
# (a device with a selftest DMA driver for driver_memcpy_*: set up and cleaned up here too),
# BENCH_EDU_BDF (QEMU's edu device for driver_memcpy_*_edu: set up and cleaned up here too).
set -u
REPO=${VFIO_SELFTESTS_REPO:?VFIO_SELFTESTS_REPO not set}
RESULTS=${VFIO_SELFTESTS_RESULTS:?VFIO_SELFTESTS_RESULTS not set}
BDF=${VFIO_SELFTESTS_BDF:-0000:00:03.0}
BIN=${VFIO_SELFTESTS_BIN_DIR:?VFIO_SELFTESTS_BIN_DIR not set}
divisor=${BENCH_DIVISOR:-1} alternations=${BENCH_ALTERNATIONS:-3}
STAGE=${VFIO_SELFTESTS_STAGE:-1} STAGES=${VFIO_SELFTESTS_STAGES:-1}
# The operation timed after the kexec of a two-stage boot, and its alternations at most (each
# side preserves (rounds + 1) sessions per alternation in stage 1).
luo_op=luo_retrieve_memfd luo_max_alt=${BENCH_LUO_MAX_ALTERNATIONS:-24}
# run_one_test's alternations at most (each is seconds of Swift test-binary start-up).
run_max_alt=${BENCH_RUN_ONE_TEST_MAX_ALTERNATIONS:-24}
# The edu memcpy operations' alternations at most: a round is two DMA transfers that QEMU runs
# 100 ms of its clock after each command, so an alternation (3 sides, a warm-up and 3 rounds each)
# is ~3 s; 8 of each operation keep the full run ~50 s longer.
edu_max_alt=${BENCH_EDU_MAX_ALTERNATIONS:-8}
cli=$BIN/vfio-selftests
mkdir -p "$RESULTS"
log() { echo "bench[guest] +$(cut -d' ' -f1 /proc/uptime)s: $*" | tee -a "$RESULTS/bench.log"; }
{ echo "uname_r=$(uname -r)"; echo "cmdline=$(cat /proc/cmdline)"; echo "bdf=$BDF"
  echo "cpus_online=$(cat /sys/devices/system/cpu/online)"; grep MemTotal /proc/meminfo
  echo "divisor=$divisor alternations=$alternations stage=$STAGE stages=$STAGES"; } > "$RESULTS/guest-info"

stage2=0
[[ $STAGES == 2 && $STAGE == 2 ]] && stage2=1
setup_rc=0
# Stage 2 times Live Update retrieval only: no device is set up (one the suites preserved across
# the kexec must not be touched).
if ((!stage2)); then
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
  # BENCH_EDU_BDF: QEMU's edu of the driver_memcpy_*_edu operations, the same way.
  if [[ -n ${BENCH_EDU_BDF:-} ]]; then
    "$cli" setup "$BENCH_EDU_BDF" 2>&1 | tee -a "$RESULTS/bench.log"
    r=${PIPESTATUS[0]}
    ((r == 0)) || { log "error: setup $BENCH_EDU_BDF exited $r"; setup_rc=$r; }
    echo "edu_bdf=$BENCH_EDU_BDF" >> "$RESULTS/guest-info"
  fi
fi

sides=(c swift)
[[ -x $BIN/bench-O2 ]] && sides=(c c-O2 swift)
prog_of() { case $1 in c) echo "$BIN/bench" ;; c-O2) echo "$BIN/bench-O2" ;; swift) echo "$BIN/vfio-bench" ;; esac; }
report=$REPO/scripts/bench/report.py

# The program's arguments for luo_retrieve_memfd on a side (its sessions' names).
luo_args() { echo "-P bench-$1"; }
wanted() { [[ -z ${BENCH_FILTER:-} || $1 =~ $BENCH_FILTER ]]; }
# Is luo_retrieve_memfd to run (listed, and selected) in this two-stage boot?
luo_wanted=0
[[ $STAGES == 2 ]] && "$BIN/bench" -l | cut -f1 | grep -qx "$luo_op" && wanted "$luo_op" && luo_wanted=1

# alternate OP BATCH MAX_ALT [EXTRA]: alternations of one batch per side ("-a K" added for
# luo_retrieve_memfd), appended to interleaved/<side>.tsv, until converged or MAX_ALT.
alternate() {
  local op=$1 batch=$2 max=$3 t0 k=0 skipped="" n i side order line extra
  t0=$(date +%s.%N) ran=1
  while ((k < max)); do
    k=$((k + 1))
    n=${#sides[@]} order=()
    for ((i = 0; i < n; i++)); do order+=("${sides[$(((i + k) % n))]}"); done
    for side in "${order[@]}"; do
      extra=()
      ((stage2)) && [[ $op == "$luo_op" ]] && extra=($(luo_args "$side") -a "$k")
      line=$("$(prog_of "$side")" -d "$BDF" -n "$batch" -f "$op" "${extra[@]}" 2>> "$RESULTS/interleaved/$side.err")
      [[ -n $line ]] || line="$op	SKIP	no output (exit $?)"
      # One line per operation, but run_one_test adds run_one_test_to_ktap: each line its own row.
      while IFS= read -r l; do printf '%s\t%s\n' "$k" "$l"; done <<< "$line" >> "$RESULTS/interleaved/$side.tsv"
      [[ $line == *"	SKIP	"* ]] && skipped+="$side "
    done
    [[ -n $skipped ]] && break
    if ((k >= min_alt && k % 4 == 0)) && python3 "$report" "$RESULTS" --converged "$op" 2>/dev/null; then break; fi
  done
  log "$op: $k alternation(s) of $batch round(s) on ${sides[*]}, $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s${skipped:+; skipped on $skipped}"
}

# luo_sessions prepare|drain: each side's program preserves luo_retrieve_memfd's sessions (stage
# 1, held until the kexec) or retrieves and finishes those left (stage 2, after the timed runs).
luo_sessions() {
  local what=$1 side r t0 args
  # Without LUO the operation skips on every side (each program says so): nothing to prepare.
  [[ -e /dev/liveupdate ]] || { log "$luo_op: no /dev/liveupdate, no sessions to $what"; return 0; }
  t0=$(date +%s.%N)
  # The kernel finds a session to retrieve by walking its list of incoming sessions (in the order
  # they were preserved; a finished one leaves it): a side whose sessions were all preserved first
  # would find them sooner. So alternation K's sessions are preserved side after side in the order
  # stage 2's alternation K runs the sides (alternate's rotation), each side's ahead of the next's.
  local k n i order=()
  for ((k = 1; k <= luo_alts; k++)); do
    [[ $what == drain ]] && ((k > 1)) && break
    n=${#sides[@]} order=()
    for ((i = 0; i < n; i++)); do order+=("${sides[$(((i + k) % n))]}"); done
    for side in "${order[@]}"; do
      if [[ ${BENCH_MODE:-} == interleaved ]]; then args=(-n "$luo_batch"); else args=(-s "$divisor"); fi
      if [[ $what == prepare ]]; then args+=(-p "$luo_alts" -q "$k"); else args+=(-c "$luo_alts"); fi
      "$(prog_of "$side")" -f "$luo_op" $(luo_args "$side") "${args[@]}" >> "$RESULTS/luo-$what.log" 2>&1
      r=$?
      ((r == 0)) || { log "error: $side: $luo_op $what exited $r (luo-$what.log)"; rc=1; }
    done
  done
  log "$luo_op: sessions $what on ${sides[*]} (${args[*]}): $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
}

if ((stage2 && !luo_wanted)); then
  log "stage 2: $luo_op not selected (BENCH_FILTER) or not listed: nothing to do"
  exit 0
fi
rc=0 ran=0
batch_div=${BENCH_BATCH_DIVISOR:-20} min_alt=${BENCH_MIN_ALTERNATIONS:-12} max_alt=${BENCH_MAX_ALTERNATIONS:-60}
luo_default=$("$BIN/bench" -l | awk -F'\t' -v op="$luo_op" '$1 == op { print $2 }')
luo_batch=$((${luo_default:-100} / batch_div)); ((luo_batch < 5)) && luo_batch=5
if [[ ${BENCH_MODE:-} == interleaved ]]; then
  luo_alts=$((max_alt < luo_max_alt ? max_alt : luo_max_alt))
else
  luo_alts=$alternations
fi
if [[ ${BENCH_MODE:-} == interleaved ]]; then
  echo "mode=interleaved sides=${sides[*]} batch_divisor=$batch_div min_alternations=$min_alt max_alternations=$max_alt" >> "$RESULTS/guest-info"
  mkdir -p "$RESULTS/interleaved"
  if ((stage2)); then
    ((luo_wanted)) && { alternate "$luo_op" "$luo_batch" "$luo_alts"; luo_sessions drain; }
  else
    while IFS=$'\t' read -r op default; do
      wanted "$op" || continue
      # Two-stage boot: measured in stage 2 (its sessions are prepared below).
      [[ $STAGES == 2 && $op == "$luo_op" ]] && continue
      batch=$((default / batch_div)); ((batch < 5)) && batch=5
      # Never more than the default (the edu memcpy: 3 rounds).
      ((batch > default)) && batch=$default
      [[ $op == first_init:* ]] && batch=1
      # run_one_test's ~20x needs no ±3%, and its alternations cost seconds: at most 24.
      max=$max_alt
      [[ $op == run_one_test ]] && ((max > run_max_alt)) && max=$run_max_alt
      # The edu memcpy's alternations cost seconds of QEMU's DMA timer: at most 8.
      [[ $op == driver_memcpy_*_edu:* ]] && ((max > edu_max_alt)) && max=$edu_max_alt
      alternate "$op" "$batch" "$max"
    done < <("$BIN/bench" -l)
  fi
  # The JUnit below reads the first alternation of each side.
  for side in "${sides[@]}"; do
    awk -F'\t' '$1 == 1 { print substr($0, index($0, "\t") + 1) }' "$RESULTS/interleaved/$side.tsv" > "$RESULTS/$side-1.tsv"
  done
else
  ran=1
  for ((n = 1; n <= alternations; n++)); do
    for side in "${sides[@]}"; do
      prog=$(prog_of "$side")
      t0=$(date +%s.%N)
      if ((stage2)); then
        ((luo_wanted)) || continue
        "$prog" -s "$divisor" -f "$luo_op" $(luo_args "$side") -a "$n" > "$RESULTS/$side-$n.tsv" 2> "$RESULTS/$side-$n.err"
      else
        "$prog" -d "$BDF" -s "$divisor" > "$RESULTS/$side-$n.tsv" 2> "$RESULTS/$side-$n.err"
      fi
      r=$?
      log "$side run $n: exit $r, $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s, $(grep -c . "$RESULTS/$side-$n.tsv") operations"
      ((r == 0)) || rc=1
    done
  done
  ((stage2 && luo_wanted)) && luo_sessions drain
fi
if ((!stage2)) && [[ ${BENCH_STRACE:-0} == 1 ]] && command -v strace >/dev/null; then
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

if ((!stage2)); then
  "$cli" cleanup "$BDF" 2>&1 | tee -a "$RESULTS/bench.log"
  [[ -n ${BENCH_DRIVER_BDF:-} ]] && "$cli" cleanup "$BENCH_DRIVER_BDF" 2>&1 | tee -a "$RESULTS/bench.log"
  [[ -n ${BENCH_EDU_BDF:-} ]] && "$cli" cleanup "$BENCH_EDU_BDF" 2>&1 | tee -a "$RESULTS/bench.log"
fi
# Stage 1 of a two-stage boot: the sessions stage 2 retrieves, last (nothing else runs after).
((!stage2 && luo_wanted)) && luo_sessions prepare

# JUnit for vm-test.sh's summary: an operation passes on a side when it produced numbers.
{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  echo '<testsuites><testsuite name="bench">'
  for side in "${sides[@]}"; do
    f=$RESULTS/$side-1.tsv
    # Nothing ran in this stage (a filter that selects luo_retrieve_memfd only, in stage 1): no case.
    [[ -s $f ]] || ((!ran)) || { echo "<testcase classname=\"bench.$side\" name=\"run\"><failure message=\"no output\"/></testcase>"; continue; }
    [[ -s $f ]] || continue
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

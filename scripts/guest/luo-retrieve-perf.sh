#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Where luo_retrieve_memfd's time goes, C -O2 against Swift (docs/benchmark.md). Two stages
# (scripts/vm-test.sh --stages 2 --guest-script scripts/guest/luo-retrieve-perf.sh --skip-build,
# VFIO_SELFTESTS_BIN_DIR with bench-O2 and vfio-bench, as scripts/bench.sh lays them out):
# stage 1 preserves LUO_PERF_ROUNDS (default 400) sessions per side (C -O2 first, then Swift:
# the kernel walks its incoming list in that order, and C -O2's are finished before Swift's are
# retrieved, so each side finds its own at the head); stage 2 retrieves them under
# `perf record -e cpu-clock -g` (TCG has no PMU), C -O2 then Swift, into $RESULTS/luo-perf/:
# <side>.tsv (the bench line), <side>.dso, <side>.sym (self), <side>.children; with
# LUO_PERF_STRACE=1, `strace -f -tt -T` instead (<side>.strace).
# LUO_PERF_MODE=alternate: no profile but timings, as scripts/guest/bench.sh takes them, of three
# sides: C -O2, Swift (the port) and Swift's "_raw" twin (`vfio-bench -x`: the same system calls
# through LibVFIO's syscall layer, no session object), LUO_PERF_ALTERNATIONS (default 12)
# alternations of LUO_PERF_ROUNDS (default 20) rounds, the sides' order rotating; each
# alternation's sessions preserved in stage 1 in the order stage 2 runs them (-q K), so each
# side finds its own at the head of the kernel's list. Lines: $out/alternate.tsv (side, K, the
# bench line).
set -u
RESULTS=${VFIO_SELFTESTS_RESULTS:?}; BIN=${VFIO_SELFTESTS_BIN_DIR:?}
out=$RESULTS/luo-perf; mkdir -p "$out"
n=${LUO_PERF_ROUNDS:-400} op=luo_retrieve_memfd
declare -A prog=([c-O2]=$BIN/bench-O2 [swift]=$BIN/vfio-bench)
if [[ ${LUO_PERF_MODE:-} == alternate ]]; then
  n=${LUO_PERF_ROUNDS:-20} alts=${LUO_PERF_ALTERNATIONS:-12}
  sides=(c-O2 swift swift-raw)
  # A side's program and operation.
  side_run() {
    case $1 in
      c-O2) "$BIN/bench-O2" -f luo_retrieve_memfd "${@:2}" ;;
      swift) "$BIN/vfio-bench" -f luo_retrieve_memfd "${@:2}" ;;
      swift-raw) "$BIN/vfio-bench" -x -f luo_retrieve_memfd_raw "${@:2}" ;;
    esac
  }
  for ((k = 1; k <= alts; k++)); do
    for ((j = 0; j < 3; j++)); do
      side=${sides[(k + j) % 3]}
      if [[ ${VFIO_SELFTESTS_STAGE:-1} == 1 ]]; then
        side_run "$side" -P "alt-$side" -n "$n" -p "$alts" -q "$k" >> "$out/prepare.log" 2>&1 || echo "$side $k: prepare failed" >> "$out/prepare.log"
      else
        side_run "$side" -P "alt-$side" -n "$n" -a "$k" 2>> "$out/alternate.err" | sed "s/^/$side\t$k\t/" >> "$out/alternate.tsv"
      fi
    done
  done
elif [[ ${VFIO_SELFTESTS_STAGE:-1} == 1 ]]; then
  for side in c-O2 swift; do
    "${prog[$side]}" -f "$op" -P "perf-$side" -n "$n" -p 1 >> "$out/prepare.log" 2>&1 || echo "$side: prepare failed" >> "$out/prepare.log"
  done
else
  for side in c-O2 swift; do
    if [[ ${LUO_PERF_STRACE:-0} == 1 ]]; then
      # The system calls themselves, with their times (-T), instead of a profile.
      strace -f -tt -T -o "$out/$side.strace" "${prog[$side]}" -f "$op" -P "perf-$side" -n "$n" -a 1 > "$out/$side.tsv" 2>> "$out/perf.err"
      continue
    fi
    perf record -e cpu-clock -F 8000 -g -o /tmp/perf.data -- "${prog[$side]}" -f "$op" -P "perf-$side" -n "$n" -a 1 \
      > "$out/$side.tsv" 2>> "$out/perf.err"
    perf report -i /tmp/perf.data -n --no-children --sort comm,dso -g none --stdio 2>> "$out/perf.err" | grep -v '^#' | grep -v '^$' | head -30 > "$out/$side.dso"
    perf report -i /tmp/perf.data -n --no-children --sort dso,sym -g none --stdio --percent-limit 0.3 2>> "$out/perf.err" |
      grep -v '^#' | grep -v '^$' | cut -c1-240 > "$out/$side.sym"
    perf report -i /tmp/perf.data --children --sort sym -g none --stdio --percent-limit 0.5 2>> "$out/perf.err" |
      grep -v '^#' | grep -v '^$' | cut -c1-240 > "$out/$side.children"
  done
fi
printf '<?xml version="1.0"?><testsuites><testsuite name="luo-perf"><testcase classname="luo-perf" name="stage%s"/></testsuite></testsuites>\n' \
  "${VFIO_SELFTESTS_STAGE:-1}" > "$RESULTS/junit-luo-perf.xml"
exit 0

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Where an operation's time goes, on both sides (run like scripts/guest/bench.sh: scripts/vm-test.sh
# --guest-script scripts/guest/bench-perf.sh --skip-build, VFIO_SELFTESTS_BIN_DIR with bench,
# bench-O2 and vfio-bench; --device igb and --env BENCH_DRIVER_BDF=0000:00:06.0 for the memcpy,
# --device edu and --env BENCH_EDU_BDF=0000:00:04.0 for the edu memcpy).
# For each operation of BENCH_PERF_OPS (comma-separated) and side (c, c-O2, swift): one run of
# BENCH_PERF_ROUNDS rounds (default 20000) under `perf record -e cpu-clock -g` (TCG has no PMU),
# then `perf report` by symbol, self time ($RESULTS/perf/<side>-<op>.txt) and with children
# (<side>-<op>.children.txt); the bench lines in $RESULTS/perf/bench.tsv. BENCH_PERF_STRACE=1:
# `strace -f -tt -T` of the same runs instead (<side>-<op>.strace: the system calls, their order
# and times; with BENCH_PERF_ROUNDS=1 and a first_init op, one fresh process's first init).
# BENCH_PERF_BINDINGS=1: the dynamic linker's lazy symbol bindings (LD_DEBUG=bindings) of one
# run, against a run that does nothing (`-f no-such-operation`): <side>-<op>.bindings lists the
# symbols bound only in the operation's run, their count in $RESULTS/perf/bindings.tsv.
# BENCH_PERF_FAULTS=1: the page faults of the operation's run against the do-nothing run's
# (`perf stat -e minor-faults,major-faults -r 10`), in $RESULTS/perf/faults.tsv.
# BENCH_PERF_PROCS=N: the operation in N fresh processes (BENCH_PERF_ROUNDS rounds each) under one
# `perf record -g`, its samples in <side>-<op>.script.gz (`perf script`): for first_init, the
# first init's window of many processes (scripts/bench/perf-window.py sorts them out).
set -u
RESULTS=${VFIO_SELFTESTS_RESULTS:?}
BDF=${VFIO_SELFTESTS_BDF:-0000:00:03.0}
BIN=${VFIO_SELFTESTS_BIN_DIR:?}
cli=$BIN/vfio-selftests
out=$RESULTS/perf
mkdir -p "$out"
"$cli" modprobe vfio-pci vfio_iommu_type1 iommufd > "$out/setup.log" 2>&1
for d in "$BDF" ${BENCH_DRIVER_BDF:-} ${BENCH_EDU_BDF:-}; do "$cli" setup "$d" >> "$out/setup.log" 2>&1; done
IFS=, read -r -a ops <<< "${BENCH_PERF_OPS:?BENCH_PERF_OPS not set}"
for op in "${ops[@]}"; do
  for side in c c-O2 swift; do
    prog=$BIN/bench; [[ $side == c-O2 ]] && prog=$BIN/bench-O2; [[ $side == swift ]] && prog=$BIN/vfio-bench
    [[ -x $prog ]] || continue
    f=$out/$side-${op//:/_}
    if [[ ${BENCH_PERF_BINDINGS:-0} == 1 ]]; then
      rm -f /tmp/bind.*
      LD_DEBUG=bindings LD_DEBUG_OUTPUT=/tmp/bind.base "$prog" -d "$BDF" -f no-such-operation > /dev/null 2>&1
      LD_DEBUG=bindings LD_DEBUG_OUTPUT=/tmp/bind.op "$prog" -d "$BDF" -n "${BENCH_PERF_ROUNDS:-1}" -f "$op" > /dev/null 2>> "$out/perf.err"
      # "file symbol" pairs: which object bound which symbol.
      syms() { cat /tmp/"$1".* 2>/dev/null | sed -n "s/.*binding file \([^ ]*\) .*normal symbol \`\([^']*\)'.*/\1 \2/p" | sort -u; }
      comm -13 <(syms bind.base) <(syms bind.op) > "$f.bindings"
      printf '%s\t%s\t%s\t%s\n' "$side" "$op" "$(syms bind.base | wc -l)" "$(wc -l < "$f.bindings")" >> "$out/bindings.tsv"
    fi
    if [[ ${BENCH_PERF_FAULTS:-0} == 1 ]]; then
      faults() { perf stat -x, -e minor-faults,major-faults -r 10 -- "$@" 2>&1 >/dev/null | awk -F, '/faults/ { printf "%s%s=%s", sep, $3, $1; sep=" " }'; }
      printf '%s\t%s\tbase %s\top %s\n' "$side" "$op" "$(faults "$prog" -d "$BDF" -f no-such-operation)" \
        "$(faults "$prog" -d "$BDF" -n "${BENCH_PERF_ROUNDS:-1}" -f "$op")" >> "$out/faults.tsv"
    fi
    [[ ${BENCH_PERF_BINDINGS:-0} == 1 || ${BENCH_PERF_FAULTS:-0} == 1 ]] && continue
    if [[ ${BENCH_PERF_STRACE:-0} == 1 ]]; then
      strace -f -tt -T -o "$f.strace" "$prog" -d "$BDF" -n "${BENCH_PERF_ROUNDS:-20000}" -f "$op" \
        2>> "$out/perf.err" | sed "s/^/$side\t/" >> "$out/bench.tsv"
      continue
    fi
    if [[ -n ${BENCH_PERF_PROCS:-} ]]; then
      perf record -e cpu-clock -F 8000 -g -o /tmp/perf.data -- sh -c 'for i in $(seq "$1"); do "$2" -d "$3" -n "$4" -f "$5"; done' \
        sh "$BENCH_PERF_PROCS" "$prog" "$BDF" "${BENCH_PERF_ROUNDS:-1}" "$op" 2>> "$out/perf.err" | sed "s/^/$side\t/" >> "$out/bench.tsv"
      perf script -i /tmp/perf.data 2>> "$out/perf.err" | gzip > "$f.script.gz"
      continue
    fi
    perf record -e cpu-clock -F 8000 -g -o /tmp/perf.data -- "$prog" -d "$BDF" -n "${BENCH_PERF_ROUNDS:-20000}" -f "$op" \
      2>> "$out/perf.err" | sed "s/^/$side\t/" >> "$out/bench.tsv"
    perf report -i /tmp/perf.data --no-children --sort dso,sym -g none --stdio --percent-limit 0.3 2>> "$out/perf.err" |
      grep -v '^#' | grep -v '^$' | cut -c1-240 > "$f.txt"
    perf report -i /tmp/perf.data --children --sort sym -g none --stdio --percent-limit 0.5 2>> "$out/perf.err" |
      grep -v '^#' | grep -v '^$' | cut -c1-240 > "$f.children.txt"
  done
done
for d in "$BDF" ${BENCH_DRIVER_BDF:-} ${BENCH_EDU_BDF:-}; do "$cli" cleanup "$d" >> "$out/setup.log" 2>&1; done
exit 0

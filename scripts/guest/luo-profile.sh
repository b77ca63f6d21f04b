#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Diagnostic, not run by CI (docs/benchmark.md, "Live Update programs"): the C programs
# liveupdate -t preserve_many_sessions and luo_stress_sessions -s 1 against their Swift tests, in
# one boot, three and two times each, then perf stat and a perf profile of the debug build.
#   scripts/vm-test.sh --kernel ../shared/kernel --guest-script scripts/guest/luo-profile.sh --skip-build \
#     --env LUO_C_DIR=<build-c-selftests.sh's bin> --env LUO_DBG_XCTEST=<debug .xctest> \
#     [--env LUO_REL_XCTEST=<release .xctest: swift build -c release --build-tests -Xswiftc -enable-testing, for every suite>]
# Writes profile.txt (wall per run, the Swift tests' own times), stat-*.txt, children-dbg.txt.
set -u
RESULTS=${VFIO_SELFTESTS_RESULTS:?}
C=${LUO_C_DIR:?}
DBG=${LUO_DBG_XCTEST:?}
REL=${LUO_REL_XCTEST:-}
out=$RESULTS/profile.txt
log() { echo "$*" | tee -a "$out"; }
wall() { local t0=$(date +%s%N); "$@" > "$RESULTS/last.log" 2>&1; local r=$?; local t1=$(date +%s%N); log "$(( (t1 - t0) / 1000000 )) ms rc=$r: ${*##*/}"; grep -h "passed after\|failed after" "$RESULTS/last.log" | grep -v "Suite\|Test run" | tee -a "$out"; }
killholders() { pkill -KILL -f 'luo_stress_sessions' 2>/dev/null; for f in /run/vfio-selftests/holders/*.pid; do [[ -e $f ]] && kill -KILL "$(cat "$f")" 2>/dev/null; rm -f "$f"; done; sleep 0.5; }
log "kernel $(uname -r); cpus $(nproc); cache: $(ls /run/vfio-selftests 2>&1)"
export VFIO_SELFTESTS_LUO_SESSION_PREFIX=swift-
for i in 1 2 3; do
  wall "$C/liveupdate" -t preserve_many_sessions
  wall "$DBG" --testing-library swift-testing --filter 'preserve_many_sessions'
  [[ -n $REL ]] && wall "$REL" --testing-library swift-testing --filter 'preserve_many_sessions'
done
for i in 1 2; do
  wall "$C/luo_stress_sessions" -s 1; killholders
  VFIO_SELFTESTS_STAGE=1 wall "$DBG" --testing-library swift-testing --filter 'luo_stress_sessions'; killholders
  [[ -n $REL ]] && { VFIO_SELFTESTS_STAGE=1 wall "$REL" --testing-library swift-testing --filter 'luo_stress_sessions'; killholders; }
done
perf stat -e task-clock,context-switches,page-faults -o "$RESULTS/stat-c.txt" "$C/luo_stress_sessions" -s 1 > /dev/null 2>&1; killholders
VFIO_SELFTESTS_STAGE=1 perf stat -e task-clock,context-switches,page-faults -o "$RESULTS/stat-dbg.txt" "$DBG" --testing-library swift-testing --filter 'luo_stress_sessions' > /dev/null 2>&1; killholders
perf record -e cpu-clock -F 4000 -g -o /tmp/p.data -- "$DBG" --testing-library swift-testing --filter 'preserve_many_sessions' > /dev/null 2>&1
perf report -i /tmp/p.data --children --sort sym -g none --stdio --percent-limit 0.5 2>/dev/null | grep -v '^#' | grep -v '^$' | cut -c1-220 > "$RESULTS/children-dbg.txt"
exit 0

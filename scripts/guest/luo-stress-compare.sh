#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Diagnostic, not run by CI (docs/benchmark.md, "The Live Update programs"): luo_stress_files and
# luo_stress_sessions, C against the Swift suite, in stage 1 and stage 2 of one kexec, REPS times
# each in the same boots, then a perf profile of one more Swift stage 2 (and of C's, for the
# kernel's share). The C programs are copies of the kernel's with their session names prefixed
# c<N>- (so several can hold sessions across the same kexec), built on the host with the
# selftests' flags into LUO_C_DIR as luo_stress_{files,sessions}_r<N>; the Swift side is the
# LUOKexecTest suite through `vfio-selftests run`, as CI runs it, with prefix <label><N>-.
#   scripts/vm-test.sh --kernel ../shared/kernel --stages 2 --skip-build --quiet \
#     --guest-script scripts/guest/luo-stress-compare.sh --env LUO_C_DIR=<dir> [--env REPS=3] \
#     [--env SWIFT_BINS=new=<bin dir>,old=<bin dir>]
# The C copies, on the host (L: the kernel's tools/testing/selftests/liveupdate, U: the uAPI
# headers scripts/build-c-selftests.sh installs, .build-vm/c-selftests/uapi/include), REPS
# of them and r9 for the profile:
#   gcc -Wall -O2 -Wno-unused-function -isystem $U -I$L/lib/include -c $L/lib/lu_utils.c
#   for r in 1 2 3 9; do for p in files sessions; do
#     sed 's/"\(kexec_many_files_state\|many_files_session\|kexec_many_state\|many-test-%d\)"/"c'$r'-\1"/g' \
#       $L/luo_stress_$p.c > luo_stress_${p}_r$r.c
#     gcc -Wall -O2 -Wno-unused-function -isystem $U -I$L/lib/include luo_stress_${p}_r$r.c lu_utils.o \
#       -o $LUO_C_DIR/luo_stress_${p}_r$r; done; done
# SWIFT_BINS: builds to compare in the same boots (label=dir of vfio-selftests and its .xctest,
# comma-separated; default: this repo's debug build as "swift"), each run once per rep after C,
# their order turning each rep; the perf profile is of the first. PERF=0: no profile.
# Writes times.tsv (stage, rep, side, program, seconds: C the program's wall, a Swift build the
# test's JUnit time), perf-*.txt and perf-*-script.txt.gz (perf script, for slicing by symbol).
set -u
RESULTS=${VFIO_SELFTESTS_RESULTS:?}
REPO=${VFIO_SELFTESTS_REPO:?}
BDF=${VFIO_SELFTESTS_BDF:?}
STAGE=${VFIO_SELFTESTS_STAGE:-1}
C=${LUO_C_DIR:?}
REPS=${REPS:-3}
BIN=${VFIO_SELFTESTS_BIN_DIR:-$REPO/.build/debug}
IFS=, read -r -a bins <<<"${SWIFT_BINS:-swift=$BIN}"
cli=$BIN/vfio-selftests
out=$RESULTS/times.tsv
log() { echo "luo-stress[stage $STAGE] +$(cut -d' ' -f1 /proc/uptime)s: $*" | tee -a "$RESULTS/log.txt"; }
ulimit -n 65536
"$cli" modprobe vfio-pci >> "$RESULTS/log.txt" 2>&1
"$cli" setup "$BDF" >> "$RESULTS/log.txt" 2>&1
# The binaries into the page cache first (the first run of each otherwise pays reading it).
cat "$C"/luo_stress_* "$cli" > /dev/null
for b in "${bins[@]}"; do cat "${b#*=}/vfio-selftests" "${b#*=}/vfio-selftestsPackageTests.xctest" > /dev/null; done
now() { date +%s.%N; }
c_run() { # rep program
  local t0 t1 rc
  t0=$(now); "$C/luo_stress_$2_r$1" -s "$STAGE" > "$RESULTS/c-$2-$1.log" 2>&1; rc=$?; t1=$(now)
  printf '%s\t%s\tC\tluo_stress_%s\t%s\t%s\n' "$STAGE" "$1" "$2" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" "rc=$rc" >> "$out"
}
swift_run() { # rep label=bindir [wrapper...]
  local r=$1 label=${2%%=*} bin=${2#*=} t0 t1 rc; shift 2
  t0=$(now)
  VFIO_SELFTESTS_LUO_SESSION_PREFIX=$label$r- "$@" "$bin/vfio-selftests" run --stage "$STAGE" --filter 'LUOKexecTest' \
    --junit "$RESULTS/junit-$label-$r.xml" "$BDF" > "$RESULTS/$label-$r.log" 2>&1; rc=$?; t1=$(now)
  python3 - "$RESULTS/junit-$label-$r.xml" "$STAGE" "$r" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" "$rc" "$label" >> "$out" <<'EOF'
import sys, xml.etree.ElementTree as ET
f, stage, rep, wall, rc, label = sys.argv[1:]
for c in ET.parse(f).iter("testcase"):
    print(f"{stage}\t{rep}\t{label}\t{c.get('name')}\t{float(c.get('time')):.3f}\trc={rc} run-wall={wall}")
EOF
}
log "kernel $(uname -r); cpus $(nproc)"
n=${#bins[@]}
for r in $(seq 1 "$REPS"); do
  c_run "$r" files; c_run "$r" sessions
  for i in $(seq 0 $((n - 1))); do swift_run "$r" "${bins[$(( (i + r) % n ))]}"; done
  log "rep $r done"
done
# One more of C and the first build for the profiles (stage 1: plain; stage 2: under perf).
if [[ ${PERF:-1} == 0 ]]; then :
elif [[ $STAGE == 1 ]]; then
  c_run 9 files; c_run 9 sessions; swift_run 9 "${bins[0]}"
else
  perf record -e cpu-clock -F 4000 -g -o /tmp/c.data -- "$C/luo_stress_files_r9" -s 2 > /dev/null 2>&1
  perf record -e cpu-clock -F 4000 -g -o /tmp/c2.data -- "$C/luo_stress_sessions_r9" -s 2 > /dev/null 2>&1
  swift_run 9 "${bins[0]}" perf record -e cpu-clock -F 4000 -g -o /tmp/s.data --
  for d in c c2 s; do
    perf report -i /tmp/$d.data --children --sort sym -g none --stdio --percent-limit 0.5 2>/dev/null | grep -v '^$' | cut -c1-220 > "$RESULTS/perf-$d-children.txt"
    perf report -i /tmp/$d.data --no-children --sort dso,sym -g none --stdio --percent-limit 0.3 2>/dev/null | grep -v '^$' | cut -c1-220 > "$RESULTS/perf-$d-self.txt"
    perf report -i /tmp/$d.data --no-children --sort comm,dso -g none --stdio 2>/dev/null | grep -v '^$' | cut -c1-220 > "$RESULTS/perf-$d-dso.txt"
    perf script -i /tmp/$d.data -F comm,tid,time,ip,sym,dso 2>/dev/null | gzip > "$RESULTS/perf-$d-script.txt.gz"
  done
fi
log "done"
cat "$out"
exit 0

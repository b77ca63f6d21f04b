#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs inside the vm-test.sh guest, chrooted into the host tree (read-only 9p), as root.
# Env (set by the guest /init): VFIO_SELFTESTS_REPO, VFIO_SELFTESTS_BDF, VFIO_SELFTESTS_STAGE,
# VFIO_SELFTESTS_STAGES, VFIO_SELFTESTS_RESULTS (writable dir for this stage),
# VFIO_SELFTESTS_KERNEL (label), VFIO_SELFTESTS_FILTER, VFIO_SELFTESTS_STRICT (only if set on
# the host), VFIO_SELFTESTS_BIN_DIR (default $REPO/.build/debug), VFIO_SELFTESTS_EXTRA_BDFS
# (more devices to set up: vm-test.sh --device), VFIO_SELFTESTS_SRIOV_BDF (the SR-IOV PF),
# VFIO_SELFTESTS_STAGE2_FILTER, VFIO_SELFTESTS_SKIP, VFIO_SELFTESTS_CLI_ACCEPTANCE,
# VFIO_SELFTESTS_COMPARE_C and _COMPARE_C_DIR, VFIO_SELFTESTS_BENCH_BIN (below).
# Steps: CLI modprobe (warning only) -> CLI setup of every device -> `vfio-selftests run`
# (KTAP and JUnit to $RESULTS/results-N.ktap, junit-N.xml; console to $RESULTS/console.log)
# -> CLI cleanup of every device (always) -> CLI kernel-reports: any lockdep, WARNING, BUG,
# hung-task, soft-lockup... report logged since boot fails the stage.
# In a two-stage run the kexec suites run last before the kexec (the device they preserve stays
# held by the stage-1 holder) and first after it (a preserved device cannot be opened by
# anything else until they retrieve it), as a run of their own.
# Exit: 1 if a run failed (kselftest exit 1), else setup's code, else 1 if the CLI acceptance
# failed, the C selftests disagreed with the port (VFIO_SELFTESTS_COMPARE_C) or the kernel
# reported a problem.
set -u
REPO=${VFIO_SELFTESTS_REPO:?VFIO_SELFTESTS_REPO not set}
RESULTS=${VFIO_SELFTESTS_RESULTS:?VFIO_SELFTESTS_RESULTS not set}
BDF=${VFIO_SELFTESTS_BDF:-0000:00:03.0}
STAGE=${VFIO_SELFTESTS_STAGE:-1}
BIN=${VFIO_SELFTESTS_BIN_DIR:-}
[[ -n $BIN ]] || BIN=$REPO/.build/debug
cli=$BIN/vfio-selftests

mkdir -p "$RESULTS"
log() { echo "run-suites[stage $STAGE] +$(cut -d' ' -f1 /proc/uptime)s: $*" | tee -a "$RESULTS/run-suites.log"; }
{ echo "stage=$STAGE"; echo "kernel_label=${VFIO_SELFTESTS_KERNEL:-}"; echo "uname_r=$(uname -r)"
  echo "bdf=$BDF"; echo "cmdline=$(cat /proc/cmdline)"; echo "cpus_online=$(cat /sys/devices/system/cpu/online)"
  echo "memory=$(grep MemTotal /proc/meminfo)"
  for h in /sys/kernel/mm/hugepages/hugepages-*; do
    [[ -d $h ]] && echo "${h##*/}=$(cat "$h/nr_hugepages") free=$(cat "$h/free_hugepages")"
  done; } > "$RESULTS/guest-info"
echo "$STAGE" > "$RESULTS/stage"
log "kernel $(uname -r), modules dir: $(ls -d "/lib/modules/$(uname -r)" 2>&1)"

rc=0
"$cli" modprobe vfio-pci vfio_iommu_type1 iommufd 2>&1 | tee -a "$RESULTS/run-suites.log"
rc=${PIPESTATUS[0]}
((rc == 0)) || log "warning: '$cli modprobe' exited $rc (continuing; suites skip what is missing)"

read -r -a extra <<<"${VFIO_SELFTESTS_EXTRA_BDFS:-}"
devices=("$BDF" "${extra[@]}")
export VFIO_SELFTESTS_BDFS="${devices[*]}"
setup_rc=0 cli_rc=0
# The CLI acceptance on the device under test, from the state setup found it in, with the main
# run's KTAP and JUnit for kunit.py; the device is set up again afterwards.
cli_acceptance() {
  # VFIO_SELFTESTS_CLI_ACCEPTANCE=1: on the device under test; =<BDF>: on that device (one with a
  # kernel driver of its own reaches every setup checkpoint, unbind included).
  local on=$BDF
  [[ $VFIO_SELFTESTS_CLI_ACCEPTANCE != 1 ]] && on=$VFIO_SELFTESTS_CLI_ACCEPTANCE
  log "CLI acceptance on $on (cleanup first; every device set up again after)"
  "$cli" cleanup "$on" 2>&1 | tee -a "$RESULTS/run-suites.log"
  # Not staged: its runs must not start kexec holders (nor see the other devices).
  env -u VFIO_SELFTESTS_BDFS -u VFIO_SELFTESTS_STAGE -u VFIO_SELFTESTS_STAGES VFIO_SELFTESTS_BDF="$on" \
    VFIO_SELFTESTS_RUN_KTAP="$RESULTS/results-1.ktap" VFIO_SELFTESTS_RUN_JUNIT="$RESULTS/junit-1.xml" \
    bash "$REPO/scripts/guest/cli-acceptance.sh"
  cli_rc=$?
  log "CLI acceptance exited $cli_rc"
  # Its `cleanup` (no device named) restores every journaled device: set them all up again.
  for d in "${devices[@]}"; do "$cli" setup "$d" 2>&1 | tee -a "$RESULTS/run-suites.log"; done
}
# VFIO_SELFTESTS_BENCH_BIN=<dir> (stage 1): the benchmark's guest half first, in its short mode
# (scripts/guest/bench.sh: 1/20 of the rounds, one alternation; it sets the device up and cleans
# it up itself), with the C bench, vfio-bench and vfio-selftests from that dir. Only that it
# produces numbers counts (junit-bench.xml: an operation with none fails); timings under a debug
# build and shared TCG mean nothing: scripts/bench.sh is the benchmark.
# Stage 2 of the same: luo_retrieve_memfd, whose sessions each side preserved at the end of the
# stage-1 run (no device touched; first, as its sessions are the oldest). bench.sh knows its
# stage from the environment; both stages report the same way.
if [[ -n ${VFIO_SELFTESTS_BENCH_BIN:-} ]]; then
  what="benchmark, short mode"; [[ $STAGE == 2 ]] && what+=", stage 2 (luo_retrieve_memfd)"
  log "$what (scripts/guest/bench.sh on $BDF, binaries in $VFIO_SELFTESTS_BENCH_BIN)"
  VFIO_SELFTESTS_RESULTS=$RESULTS/bench VFIO_SELFTESTS_BIN_DIR=$VFIO_SELFTESTS_BENCH_BIN \
    BENCH_DIVISOR=20 BENCH_ALTERNATIONS=1 bash "$REPO/scripts/guest/bench.sh" > /dev/null 2>&1
  r=$?
  cp "$RESULTS/bench/junit-bench.xml" "$RESULTS/junit-bench.xml" 2>/dev/null
  log "$what exited $r: $(tail -n 2 "$RESULTS/bench/bench.log" 2>/dev/null | tr '\n' ' ')"
  ((r == 0)) || { log "error: the $what exited $r (bench/bench.log)"; setup_rc=1; }
fi
for d in "${devices[@]}"; do
  "$cli" setup "$d" 2>&1 | tee -a "$RESULTS/run-suites.log"
  r=${PIPESTATUS[0]}
  ((r == 0)) || { log "error: '$cli setup $d' exited $r (running the tests anyway)"; setup_rc=$r; }
done

# The suites run through `vfio-selftests run` (the command users run): KTAP and JUnit from one
# results model, results-N.ktap and junit-N.xml per run. Only the kernel-facing target runs
# (run's default; the unit tests ran on the host). The kexec suites form their own run: last
# before the kexec, first after it. After the kexec only they run, plus the suites matching
# VFIO_SELFTESTS_STAGE2_FILTER (a regex; e.g. what a kexec has been seen to break).
# VFIO_SELFTESTS_SKIP (a regex): suites left out of this boot (the caller says why).
# VFIO_SELFTESTS_CLI_ACCEPTANCE=1 (or =<BDF>, one of the devices): in stage 1, after the main
# run, the device under test (or that one) is cleaned up, the CLI acceptance (scripts/guest/cli-acceptance.sh: bad input, setup/cleanup,
# SIGKILL, KTAP read by kunit.py) runs on it, and the devices are set up again for the kexec run.
staged='LUOKexecTest|VFIOPCILiveUpdateKexec|StagedRunTest'
runs=()
if [[ -n ${VFIO_SELFTESTS_FILTER:-} ]]; then
  runs=("--filter|$VFIO_SELFTESTS_FILTER")
elif [[ ${VFIO_SELFTESTS_STAGES:-1} == 2 && $STAGE == 1 ]]; then
  runs=("--skip|$staged${VFIO_SELFTESTS_SKIP:+|$VFIO_SELFTESTS_SKIP}" "--filter|$staged")
elif [[ ${VFIO_SELFTESTS_STAGES:-1} == 2 ]]; then
  runs=("--filter|$staged")
  [[ -n ${VFIO_SELFTESTS_STAGE2_FILTER:-} ]] && runs+=("--filter|$VFIO_SELFTESTS_STAGE2_FILTER")
elif [[ -n ${VFIO_SELFTESTS_SKIP:-} ]]; then
  runs=("--skip|$VFIO_SELFTESTS_SKIP")
else
  runs=("--filter|.")
fi
extra_args=()
for d in "${extra[@]}"; do extra_args+=(--extra-device "$d"); done
: > "$RESULTS/console.log"
test_rc=0 n=0 accepted=0 compare_rc=0
# VFIO_SELFTESTS_COMPARE_C=<C programs, comma-separated> (stage 1): the kernel's own C selftests
# (built on the host by scripts/build-c-selftests.sh, in VFIO_SELFTESTS_COMPARE_C_DIR) run first on
# the same devices (scripts/guest/compare-c.sh, COMPARE_PHASE=c); after the first run, their
# results and its JUnit make compare.tsv, and any disagreement that scripts/compare-c.allow does
# not explain fails the stage.
# The luo_* kexec programs in the list are compared in stage 2 (their stage 1 runs right before
# the kexec suites'); then the Swift kexec suites prefix their session names (C's otherwise),
# so both sides hold their sessions across the same kexec.
compare="" luo_c=()
IFS=, read -r -a compare_all <<<"${VFIO_SELFTESTS_COMPARE_C:-}"
for p in "${compare_all[@]}"; do
  if [[ $p == luo_* ]]; then luo_c+=("$p"); elif [[ $STAGE == 1 ]]; then compare+="${compare:+,}$p"; fi
done
if ((${#luo_c[@]})); then
  export VFIO_SELFTESTS_LUO_SESSION_PREFIX=swift-
  [[ $STAGE == 2 ]] && compare=$(IFS=,; echo "${luo_c[*]}")
fi
c_dir=${VFIO_SELFTESTS_COMPARE_C_DIR:-$REPO/.build-vm/c-selftests/bin}
if [[ -n $compare ]]; then
  log "the C selftests first: ${compare//,/ }"
  COMPARE_PHASE=c COMPARE_PROGRAMS=$compare COMPARE_C_DIR=$c_dir bash "$REPO/scripts/guest/compare-c.sh"
fi
for run in "${runs[@]}"; do
  n=$((n + 1))
  # Before the kexec run of stage 1 (never in stage 2: the preserved device must be retrieved first).
  if [[ -n ${VFIO_SELFTESTS_CLI_ACCEPTANCE:-} && $STAGE == 1 && $accepted == 0 && $run == "--filter|$staged" ]]; then
    cli_acceptance; accepted=1
  fi
  if ((${#luo_c[@]})) && [[ $STAGE == 1 && $run == "--filter|$staged" ]]; then
    # The C luo_* programs' stage 1: each preserves its sessions, forks its holder and exits.
    for p in "${luo_c[@]}"; do
      timeout -k 10 300 "$c_dir/$p" -s 1 > "$RESULTS/c-$p-stage1.log" 2>&1
      r=$?
      log "C $p -s 1 exited $r"
      ((r == 0)) || log "warning: C $p stage 1 failed (its stage 2 will say so): $(tail -n 2 "$RESULTS/c-$p-stage1.log" | tr '\n' ' ')"
    done
  fi
  flag=${run%%|*} value=${run#*|}
  [[ $flag == --filter && $value == . ]] && { flag=""; value=""; }
  args=(run --ktap "$RESULTS/results-$n.ktap" --junit "$RESULTS/junit-$n.xml" "${extra_args[@]}")
  # Only a two-stage run has a stage (with one, the kexec suites would start a holder for a kexec).
  [[ ${VFIO_SELFTESTS_STAGES:-1} == 2 ]] && args+=(--stage "$STAGE")
  [[ -n $flag ]] && args+=("$flag" "$value")
  args+=("$BDF")
  log "$cli ${args[*]}"
  "$cli" "${args[@]}" 2>&1 | tee -a "$RESULTS/console.log"
  r=${PIPESTATUS[0]}
  log "vfio-selftests run exited $r"
  # kselftest codes: 0 pass, 4 everything skipped (strict mode turns expected skips into failures).
  ((r == 0 || r == 4)) || test_rc=$r
  if [[ -n $compare && $n == 1 ]]; then
    COMPARE_PHASE=table COMPARE_PROGRAMS=$compare bash "$REPO/scripts/guest/compare-c.sh"
    python3 "$REPO/scripts/compare-verdict.py" "$RESULTS/compare.tsv" "$REPO/scripts/compare-c.allow" | tee "$RESULTS/compare-verdict.log"
    compare_rc=${PIPESTATUS[0]}
    ((compare_rc == 0)) || log "error: the C selftests and the Swift port disagree (compare.tsv, compare-verdict.log)"
  fi
done
if [[ -n ${VFIO_SELFTESTS_CLI_ACCEPTANCE:-} && $STAGE == 1 && $accepted == 0 ]]; then cli_acceptance; fi

for d in "${devices[@]}"; do
  if [[ ${VFIO_SELFTESTS_STAGES:-1} == 2 && $STAGE == 1 && $d == "$BDF" ]]; then
    # Stage 1 of a kexec run: the holder may keep the device preserved; unbinding would wait on
    # it. The kexec resets the binding; stage 2 sets the device up again (as the C procedure does).
    log "stage 1 of a kexec run: leaving $d bound for the kexec"
    continue
  fi
  "$cli" cleanup "$d" 2>&1 | tee -a "$RESULTS/run-suites.log"
  r=${PIPESTATUS[0]}
  ((r == 0)) || log "warning: '$cli cleanup $d' exited $r"
done

"$cli" kernel-reports 2>&1 | tee "$RESULTS/kernel-reports.log" | tee -a "$RESULTS/run-suites.log"
reports_rc=${PIPESTATUS[0]}
((reports_rc == 0)) || log "error: the kernel logged reports during this boot (see kernel-reports.log)"

rc=$test_rc
if ((rc == 0 && setup_rc != 0)); then rc=$setup_rc; fi
if ((rc == 0 && cli_rc != 0)); then rc=1; fi
if ((rc == 0 && compare_rc != 0)); then rc=1; fi
if ((rc == 0 && reports_rc != 0)); then rc=1; fi
exit "$rc"

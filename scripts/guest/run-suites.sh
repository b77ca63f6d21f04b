#!/bin/bash
# Runs inside the vm-test.sh guest, chrooted into the host tree (read-only 9p), as root.
# Env (set by the guest /init): VFIO_SELFTESTS_REPO, VFIO_SELFTESTS_BDF, VFIO_SELFTESTS_STAGE,
# VFIO_SELFTESTS_STAGES, VFIO_SELFTESTS_RESULTS (writable dir for this stage),
# VFIO_SELFTESTS_KERNEL (label), VFIO_SELFTESTS_FILTER, VFIO_SELFTESTS_STRICT (only if set on
# the host), VFIO_SELFTESTS_BIN_DIR (default $REPO/.build/debug), VFIO_SELFTESTS_EXTRA_BDFS
# (more devices to set up: vm-test.sh --device), VFIO_SELFTESTS_SRIOV_BDF (the SR-IOV PF).
# Steps: CLI modprobe (warning only) -> CLI setup of every device -> the Swift Testing binary
# (JUnit to $RESULTS/junit*.xml, console to $RESULTS/console.log) -> CLI cleanup of every device
# (always) -> CLI kernel-reports: any lockdep, WARNING, BUG, hung-task, soft-lockup... report
# logged since boot fails the stage.
# In a two-stage run the kexec suites run last before the kexec (the device they preserve stays
# held by the stage-1 holder) and first after it (a preserved device cannot be opened by
# anything else until they retrieve it), as two runs of the test binary.
# Exit: the test binary's exit code; if that is 0 but setup failed or the kernel reported a
# problem, 1 (or setup's code).
set -u
REPO=${VFIO_SELFTESTS_REPO:?VFIO_SELFTESTS_REPO not set}
RESULTS=${VFIO_SELFTESTS_RESULTS:?VFIO_SELFTESTS_RESULTS not set}
BDF=${VFIO_SELFTESTS_BDF:-0000:00:03.0}
STAGE=${VFIO_SELFTESTS_STAGE:-1}
BIN=${VFIO_SELFTESTS_BIN_DIR:-}
[[ -n $BIN ]] || BIN=$REPO/.build/debug
cli=$BIN/vfio-selftests
tests=$BIN/vfio-selftestsPackageTests.xctest

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
setup_rc=0
for d in "${devices[@]}"; do
  "$cli" setup "$d" 2>&1 | tee -a "$RESULTS/run-suites.log"
  r=${PIPESTATUS[0]}
  ((r == 0)) || { log "error: '$cli setup $d' exited $r (running the tests anyway)"; setup_rc=$r; }
done

# Only the kernel-facing target runs here (the unit tests ran on the host). The kexec suites
# (Swift Testing matches --filter/--skip against module and type names) form their own run.
kernel='^VFIOHardwareTests\.'
staged='LUOKexecTest|VFIOPCILiveUpdateKexec|StagedRunTest'
base=(--testing-library swift-testing)
runs=()
if [[ -n ${VFIO_SELFTESTS_FILTER:-} ]]; then
  runs=("--filter|$VFIO_SELFTESTS_FILTER")
elif [[ ${VFIO_SELFTESTS_STAGES:-1} == 2 && $STAGE == 1 ]]; then
  runs=("--skip|$staged" "--filter|$staged")
elif [[ ${VFIO_SELFTESTS_STAGES:-1} == 2 ]]; then
  runs=("--filter|$staged" "--skip|$staged")
else
  runs=("--filter|$kernel")
fi
: > "$RESULTS/console.log"
test_rc=0 n=0
for run in "${runs[@]}"; do
  n=$((n + 1))
  args=("${base[@]}" --xunit-output "$RESULTS/junit-$n.xml")
  [[ -z ${VFIO_SELFTESTS_FILTER:-} && ${run%%|*} == --skip ]] && args+=(--filter "$kernel")
  args+=("${run%%|*}" "${run#*|}")
  log "$tests ${args[*]}"
  "$tests" "${args[@]}" 2>&1 | tee -a "$RESULTS/console.log"
  r=${PIPESTATUS[0]}
  log "test binary exited $r"
  ((r == 0)) || test_rc=$r
done

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
if ((rc == 0 && reports_rc != 0)); then rc=1; fi
exit "$rc"

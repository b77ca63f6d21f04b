#!/bin/bash
# Runs inside the vm-test.sh guest, chrooted into the host tree (read-only 9p), as root.
# Env (set by the guest /init): VFIO_SELFTESTS_REPO, VFIO_SELFTESTS_BDF, VFIO_SELFTESTS_STAGE,
# VFIO_SELFTESTS_STAGES, VFIO_SELFTESTS_RESULTS (writable dir for this stage),
# VFIO_SELFTESTS_KERNEL (label), VFIO_SELFTESTS_FILTER, VFIO_SELFTESTS_STRICT (only if set on
# the host), VFIO_SELFTESTS_BIN_DIR (default $REPO/.build/debug).
# Steps: CLI modprobe (warning only) -> CLI setup BDF -> the Swift Testing binary (JUnit to
# $RESULTS/junit.xml, console to $RESULTS/console.log) -> CLI cleanup BDF (always).
# Exit: the test binary's exit code; if that is 0 but setup failed, setup's code (or 1).
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
  echo "memory=$(grep MemTotal /proc/meminfo)"; } > "$RESULTS/guest-info"
echo "$STAGE" > "$RESULTS/stage"
log "kernel $(uname -r), modules dir: $(ls -d "/lib/modules/$(uname -r)" 2>&1)"

rc=0
"$cli" modprobe vfio-pci vfio_iommu_type1 iommufd 2>&1 | tee -a "$RESULTS/run-suites.log"
rc=${PIPESTATUS[0]}
((rc == 0)) || log "warning: '$cli modprobe' exited $rc (continuing; suites skip what is missing)"

"$cli" setup "$BDF" 2>&1 | tee -a "$RESULTS/run-suites.log"
setup_rc=${PIPESTATUS[0]}
((setup_rc == 0)) || log "error: '$cli setup $BDF' exited $setup_rc (running the tests anyway)"

args=(--testing-library swift-testing --xunit-output "$RESULTS/junit.xml")
[[ -n ${VFIO_SELFTESTS_FILTER:-} ]] && args+=(--filter "$VFIO_SELFTESTS_FILTER")
log "$tests ${args[*]}"
"$tests" "${args[@]}" 2>&1 | tee "$RESULTS/console.log"
test_rc=${PIPESTATUS[0]}
log "test binary exited $test_rc"

if [[ ${VFIO_SELFTESTS_STAGES:-1} == 2 && $STAGE == 1 ]]; then
  # Stage 1 of a kexec run: the holder may keep the device preserved; unbinding would wait on
  # it. The kexec resets the binding; stage 2 sets the device up again (as the C procedure does).
  log "stage 1 of a kexec run: leaving $BDF bound for the kexec"
else
  "$cli" cleanup "$BDF" 2>&1 | tee -a "$RESULTS/run-suites.log"
  rc=${PIPESTATUS[0]}
  ((rc == 0)) || log "warning: '$cli cleanup $BDF' exited $rc"
fi

rc=$test_rc
if ((rc == 0 && setup_rc != 0)); then rc=$setup_rc; fi
exit "$rc"

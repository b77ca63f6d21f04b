#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Acceptance of the vfio-selftests CLI, run in the vm-test.sh guest (chroot, root):
#   scripts/vm-test.sh --kernel ../shared/kernel --guest-script scripts/guest/cli-acceptance.sh
# VFIO_SELFTESTS_RUN_KTAP / _RUN_JUNIT: the reports of a run already made in this boot (by
# run-suites.sh): checked instead of making a full run here.
# Checks: bad input is a one-line error with a non-zero exit and touches nothing; setup binds
# the device to vfio-pci with a complete journal; run writes KTAP that kunit.py parses with the
# same counts as Swift Testing's JUnit; cleanup puts back the original driver and
# driver_override; the same after the test binary is SIGKILLed mid-run; --iommu-mode skips the
# other modes' suites. Exit 0 only if every check passed. Results in $VFIO_SELFTESTS_RESULTS.
set -u
REPO=${VFIO_SELFTESTS_REPO:?VFIO_SELFTESTS_REPO not set}
RESULTS=${VFIO_SELFTESTS_RESULTS:?VFIO_SELFTESTS_RESULTS not set}
BDF=${VFIO_SELFTESTS_BDF:-0000:00:03.0}
BIN=${VFIO_SELFTESTS_BIN_DIR:-}
[[ -n $BIN ]] || BIN=$REPO/.build/debug
cli=$BIN/vfio-selftests
dev=/sys/bus/pci/devices/$BDF
journal=/run/vfio-selftests/devices/$BDF
# Its waits (for a test to start, for a checkpoint) are scaled like the suites' time limits: a
# slow or shared host must not turn "not reached yet" into a failure.
scale=${VFIO_SELFTESTS_TIMEOUT_SCALE:-1}
scaled() { awk -v s="$1" -v k="$scale" 'BEGIN { printf "%d", s * k }'; }
mkdir -p "$RESULTS"
exec > >(tee -a "$RESULTS/cli-acceptance.log") 2>&1

# A KTAP file's results, read by the kernel's kunit_parser (scripts/lib/results.py ktap-tree):
# depth, result (ok, not ok, skip), name, directive, TAB separated.
ktap_results() { python3 -B "$REPO/scripts/lib/results.py" ktap-tree "$1"; }

failures=0
pass() { echo "cli-acceptance: PASS: $*"; }
fail() { echo "cli-acceptance: FAIL: $*"; failures=$((failures + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
state() {
  local d=none o=none
  [[ -L $dev/driver ]] && d=$(basename "$(readlink "$dev/driver")")
  [[ -e $dev/driver_override ]] && o=$(cat "$dev/driver_override")
  echo "driver=$d driver_override=$o"
}

original=$(state)
echo "cli-acceptance: $BDF before: $original"
"$cli" modprobe vfio-pci vfio_iommu_type1 iommufd || echo "cli-acceptance: modprobe warning (continuing)"
"$cli" doctor | tee "$RESULTS/doctor.txt"

# --- Bad input: one line on stderr, non-zero exit, device untouched -------------------------
bad() { bad_in "$original" "$@"; }
# bad_in STATE WHAT CMD...: as bad, with the device expected in STATE afterwards.
bad_in() {
  local want=$1 what=$2; shift 2
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if (( rc != 0 )) && [[ $(printf '%s\n' "$err" | wc -l) == 1 && $err == "vfio-selftests: error: "* ]] && [[ $(state) == "$want" ]]; then
    pass "$what: exit $rc: $err"
  else
    fail "$what: exit $rc, stderr: $err, state $(state)"
  fi
}
bad "malformed address" "$cli" setup 0000:00:03
bad "missing device" "$cli" setup 0000:00:1f.7
bad "unknown iommu mode" "$cli" run --iommu-mode type1 "$BDF"
bad "stage 3" "$cli" run --stage 3 "$BDF"
bad "non-root setup" setpriv --reuid=65534 --regid=65534 --clear-groups "$cli" setup "$BDF"
bad "unwritable KTAP path" "$cli" run --ktap /nonexistent/x.ktap "$BDF"
bad "JUnit path in /proc" "$cli" run --junit /proc/x.xml "$BDF"
bad "extra device that does not exist" "$cli" run --extra-device 0000:00:1f.6 "$BDF"
bad "non-root run" setpriv --reuid=65534 --regid=65534 --clear-groups "$cli" run "$BDF"
bad "run on a device not bound to vfio-pci" "$cli" run "$BDF"
bad "module that does not exist" "$cli" modprobe no_such_module_vfio_selftests
bad "empty module name" "$cli" modprobe ''

# --- 1. setup, run, cleanup --------------------------------------------------------------------
t0=$(now)
"$cli" setup "$BDF"; rc=$?
t1=$(now)
check "setup exit 0 ($(secs "$t0" "$t1") s)" test "$rc" = 0
check "bound to vfio-pci after setup: $(state)" test "$(state)" = "driver=vfio-pci driver_override=vfio-pci"
check "journal complete: $(tr '\n' ' ' < "$journal" 2>/dev/null)" grep -q '^steps=.*vfio-pci' "$journal"
out=$("$cli" setup "$BDF"); rc=$?
check "second setup: exit 0 and says so ($out)" test "$rc" = 0 -a -n "$(grep 'already set up' <<<"$out")"

if [[ -n ${VFIO_SELFTESTS_RUN_KTAP:-} ]]; then
  # Folded into run-suites.sh: the stage's main run was this command already; check its reports.
  echo "cli-acceptance: the stage's run: $VFIO_SELFTESTS_RUN_KTAP, $VFIO_SELFTESTS_RUN_JUNIT"
  check "run passed something" test -n "$(ktap_results "$VFIO_SELFTESTS_RUN_KTAP" | awk -F'\t' '$2 == "ok"' | head -n1)"
  "$REPO/scripts/check-ktap.sh" "$VFIO_SELFTESTS_RUN_KTAP" "$VFIO_SELFTESTS_RUN_JUNIT"; rc=$?
else
  t0=$(now)
  "$cli" run --ktap "$RESULTS/run.ktap" --junit "$RESULTS/junit.xml" "$BDF" > "$RESULTS/run-console.log" 2>&1; run_rc=$?
  t1=$(now)
  summary=$(grep -o "$BDF: [0-9]* passed.*" "$RESULTS/run-console.log" | tail -n1)
  echo "cli-acceptance: run: exit $run_rc in $(secs "$t0" "$t1") s: $summary"
  grep -E '^(✘|.*✘)' "$RESULTS/run-console.log" | head -20
  check "run exit is 0 (pass) or 1 (fail), not a crash: $run_rc" test "$run_rc" = 0 -o "$run_rc" = 1
  check "run passed something" test -n "$(grep -E ': [1-9][0-9]* passed' <<<"$summary")"
  "$REPO/scripts/check-ktap.sh" "$RESULTS/run.ktap" "$RESULTS/junit.xml"; rc=$?
fi
if (( rc == 4 )); then echo "cli-acceptance: SKIP: KTAP check (kunit.py not available)"; else check "kunit.py parse: same counts as the JUnit" test "$rc" = 0; fi

"$cli" cleanup; rc=$?
check "cleanup exit 0" test "$rc" = 0
check "restored after cleanup: $(state)" test "$(state)" = "$original"
check "journal removed" test ! -e "$journal"
"$cli" cleanup "$BDF"; rc=$?
check "cleanup again is a no-op, exit 0" test "$rc" = 0 -a "$(state)" = "$original"

# test_binary_once CLIPID LOG PATTERN SECONDS: the pid of the test binary that `vfio-selftests run`
# (CLIPID) started, once LOG shows PATTERN; nothing if the run ended or SECONDS passed first. The
# test binary is the run CLI's only child (pgrep -P: by parent pid, never by name).
test_binary_once() {
  local clipid=$1 log=$2 pattern=$3 deadline=$((SECONDS + $4)) child
  while ((SECONDS < deadline)); do
    child=$(pgrep -P "$clipid" | head -n1)
    if [[ -n $child ]] && grep -q "$pattern" "$log"; then
      kill -0 "$child" 2>/dev/null && echo "$child"
      return
    fi
    kill -0 "$clipid" 2>/dev/null || return
    sleep 0.2
  done
}

# --- 2. --iommu-mode: only that mode's cases run and are reported --------------------------------
"$cli" setup "$BDF" >/dev/null
"$cli" run --iommu-mode iommufd --stage 1 --filter 'VFIOPCIDevice' --ktap "$RESULTS/iommufd.ktap" "$BDF" > "$RESULTS/iommufd-console.log" 2>&1; rc=$?
check "run --iommu-mode iommufd exit 0/1 ($rc)" test "$rc" = 0 -o "$rc" = 1
iommufd_results=$(ktap_results "$RESULTS/iommufd.ktap")
# The tests are parameterized over the modes: the other modes' cases are not run nor reported.
check "no other mode's case is reported" test -z "$(awk -F'\t' '$3 ~ /^vfio_pci_(device|irq)_test\.(vfio_type1|vfio_type1v2|iommufd_compat)/' <<<"$iommufd_results")"
# C's names for the iommufd (C's default mode) tests carry no mode: vfio_pci_device_test.<test>.
check "no iommufd test skips for the mode" test -z "$(awk -F'\t' '$3 ~ /^vfio_pci_device_test\.[a-z_]+$/ && $4 ~ /IOMMU_MODE/' <<<"$iommufd_results")"
check "the iommufd tests ran" test -n "$(awk -F'\t' '$2 == "ok" && $3 == "vfio_pci_device_test.config_space_read_write" && $4 == ""' <<<"$iommufd_results")"
"$cli" cleanup >/dev/null

# --- 3. A device open elsewhere (EBUSY), a device removed between setup and run ----------------
"$cli" setup "$BDF" >/dev/null
bound="driver=vfio-pci driver_override=vfio-pci"
group=$(basename "$(readlink "$dev/iommu_group")")
exec 9<>"/dev/vfio/$group"
bad_in "$bound" "device open elsewhere (group $group held)" "$cli" run "$BDF"
exec 9>&-
echo 1 > "$dev/remove"
bad_in "driver=none driver_override=none" "device removed after setup" "$cli" run "$BDF"
echo 1 > /sys/bus/pci/rescan
for _ in $(seq 1 "$(scaled 50)"); do [[ -e $dev/driver ]] && break; sleep 0.2; done
echo "cli-acceptance: after remove + rescan: $(state)"
"$cli" cleanup >/dev/null; rc=$?
check "cleanup after the device came back: exit 0" test "$rc" = 0
check "journal removed after remove + rescan + cleanup" test ! -e "$journal"

# --- 4. SIGKILL at ten points of setup, run and cleanup, each followed by cleanup --------------
# setup/cleanup stop themselves at a checkpoint (VFIO_SELFTESTS_STOP_AT) and are killed there;
# runs are killed once the console shows the named test started (or, for SIGTERM, the run CLI
# itself, which passes it on). After each: cleanup exits 0, the device is as it was, no journal,
# no mdev and no module left by a suite (none loaded since this section began). One line per
# point in sigkill-table.txt.
table=$RESULTS/sigkill-table.txt
printf 'point\tkilled\tcleanup exit\tdevice after cleanup\tleftovers\n' > "$table"
mdevs_before=$(ls /sys/bus/mdev/devices 2>/dev/null | wc -l)
mtty_before=$([[ -d /sys/module/mtty ]] && echo loaded || echo absent)
# Every module loaded now; after each cleanup no other may be (mtty and what it needs, mdev...:
# the suites journal every module they bring in).
loaded_modules() { cut -d' ' -f1 /proc/modules | sort; }
modules_before=$(loaded_modules)
stopped() { [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == T ]]; }
after_kill() {
  local point=$1 killed=$2 rc left
  "$cli" cleanup >/dev/null 2>&1; rc=$?
  left=""
  [[ -e $journal ]] && left+="journal "
  [[ -n $(find /run/vfio-selftests/mdevs /run/vfio-selftests/modules -type f 2>/dev/null) ]] && left+="resource-journal "
  (( $(ls /sys/bus/mdev/devices 2>/dev/null | wc -l) != mdevs_before )) && left+="mdev "
  [[ $([[ -d /sys/module/mtty ]] && echo loaded || echo absent) != "$mtty_before" ]] && left+="mtty-module "
  local new_modules
  new_modules=$(comm -13 <(echo "$modules_before") <(loaded_modules) | paste -sd, -)
  [[ -n $new_modules ]] && left+="modules:$new_modules "
  printf '%s\t%s\t%s\t%s\t%s\n' "$point" "$killed" "$rc" "$(state)" "${left:-none}" >> "$table"
  # A point never reached (no driver to unbind, no mtty) is a skip, not a pass; the device must
  # still be as it was.
  local how=$killed
  [[ $killed == no ]] && { how="not reached"; echo "cli-acceptance: SKIP: SIGKILL at $point: never reached on $BDF"; }
  check "SIGKILL at $point ($how), then cleanup: exit $rc, $(state), leftovers: ${left:-none}" \
    test "$rc" = 0 -a "$(state)" = "$original" -a -z "$left"
}
kill_at_checkpoint() {
  local command=$1 point=$2 pid killed=no
  VFIO_SELFTESTS_STOP_AT=$point "$cli" "$command" $([[ $command == setup ]] && echo "$BDF") >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 "$(scaled 300)"); do stopped "$pid" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if stopped "$pid"; then kill -KILL "$pid"; killed="stopped at the checkpoint, SIGKILL"; fi
  wait "$pid" 2>/dev/null
  after_kill "$point" "$killed"
}
# stop_with_fds PID N SECONDS: SIGSTOPs PID (a test binary) and keeps it stopped once it holds at
# least N open fds; below that, SIGCONT and another look 10 ms later. 0 when stopped so, 1 when it
# ended (or SECONDS passed) first. A kill then lands while they are open, however fast the test.
stop_with_fds() {
  local pid=$1 n=$2 deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    kill -STOP "$pid" 2>/dev/null || return 1
    local fds=("/proc/$pid/fd/"*)
    (( ${#fds[@]} >= n )) && return 0
    kill -CONT "$pid" 2>/dev/null || return 1
    sleep 0.01
  done
  kill -CONT "$pid" 2>/dev/null
  return 1
}
# kill_run_at POINT PATTERN SIG TARGET RUN-ARGS...: a run killed once its console shows PATTERN
# (SIG to the test binary, or to the run CLI, which passes it on). The run must then exit 1 and
# its KTAP must say how the test binary ended and still parse with kunit.py; then after_kill.
kill_run_at() {
  local point=$1 pattern=$2 sig=$3 target=$4 clipid child killed=no rc ktap signum; shift 4
  ktap=$RESULTS/kill-$point.ktap
  signum=$(kill -l "$sig")
  "$cli" setup "$BDF" >/dev/null
  "$cli" run --ktap "$ktap" "$@" "$BDF" > "$RESULTS/kill-$point.log" 2>&1 &
  clipid=$!
  if [[ -n ${KILL_WITH_FDS:-} ]]; then
    # Watched from its start (the console line comes too late for a test this short), and
    # stopped once it holds at least KILL_WITH_FDS fds (sessions being created).
    child=""
    for _ in $(seq 1 "$(scaled 1200)"); do
      child=$(pgrep -P "$clipid" | head -n1)
      [[ -n $child ]] && break
      kill -0 "$clipid" 2>/dev/null || break
      sleep 0.01
    done
  else
    child=$(test_binary_once "$clipid" "$RESULTS/kill-$point.log" "$pattern" "$(scaled 120)")
  fi
  if [[ -n $child && -n ${KILL_WITH_FDS:-} ]]; then
    if stop_with_fds "$child" "$KILL_WITH_FDS" "$(scaled 120)"; then
      kill "-$sig" "$child"; kill -CONT "$child" 2>/dev/null
      killed="$sig to the $target after '$pattern', with $KILL_WITH_FDS+ fds open"
    fi
  elif [[ -n $child ]]; then
    sleep 0.5
    if [[ $target == run ]]; then kill "-$sig" "$clipid"; else kill "-$sig" "$child"; fi
    killed="$sig to the $target after '$pattern'"
  fi
  wait "$clipid" 2>/dev/null; rc=$?
  last_killed=$killed
  if [[ $killed != no ]]; then
    check "$point: run reports the killed test binary as a failure (exit $rc)" test "$rc" = 1
    check "$point: its KTAP says the test binary was killed by signal $signum" grep -q "# test binary killed by signal $signum" "$ktap"
    "$REPO/scripts/check-ktap.sh" "$ktap"; rc=$?
    (( rc == 4 )) || check "$point: kunit.py parses the killed run's KTAP" test "$rc" = 0
    check "$point: still set up after the kill (nothing else restores it): $(state)" test "$(state)" = "driver=vfio-pci driver_override=vfio-pci"
  fi
  after_kill "$point" "$killed"
}
for point in setup:journaled setup:unbound setup:override-set setup:bound; do kill_at_checkpoint setup "$point"; done
for point in cleanup:unbound cleanup:override-restored; do
  "$cli" setup "$BDF" >/dev/null
  kill_at_checkpoint cleanup "$point"
done
# Each run is filtered down to the suite (or test) it is killed in, so the kill comes soon.
kill_run_at run:dma-mapped 'Test anonymous_dma_map_unmap(_:) started' KILL test-binary --iommu-mode vfio_type1_iommu --filter 'VFIODMAMappingSuite/'
# preserve_many_sessions' 2000 sessions take a fraction of a second since the session calls cost
# what C's do: the kill waits until 500 of them are open, whatever the host's speed.
KILL_WITH_FDS=500 kill_run_at run:liveupdate-session 'Test preserve_many_sessions() started' KILL test-binary --filter 'LiveUpdateDeviceTest/preserve_many_sessions'
kill_run_at run:migration-stress ': stress: ' KILL test-binary --iommu-mode iommufd --filter 'VFIOMigrationMtty/reset_migration_stress'
# (A test of a few seconds even without lockdep: the 1 GiB hugetlb mapping. A short one let the
# whole run end before the SIGTERM came.)
kill_run_at run:sigterm 'Test anonymous_hugetlb_1gb_dma_map_unmap(_:) started' TERM run --iommu-mode vfio_type1v2_iommu --filter 'VFIODMAMappingSuite/'
if [[ $last_killed == no ]]; then
  echo "cli-acceptance: SKIP: run passing SIGTERM on: the run ended before the SIGTERM point"
else
  grep -q 'interrupted: SIGTERM passed on to the test binary' "$RESULTS/kill-run:sigterm.log" &&
    pass "run passed SIGTERM on and said so" || fail "run did not report the SIGTERM it passed on"
fi
column -t -s $'\t' "$table" 2>/dev/null || cat "$table"

check "restored at the end: $(state)" test "$(state)" = "$original"

echo "cli-acceptance: $failures failure(s)"
(( failures == 0 ))

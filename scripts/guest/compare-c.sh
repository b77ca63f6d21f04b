#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs inside the vm-test.sh guest (chrooted into the host tree, as root), started by
# scripts/compare-c.sh through `vm-test.sh --guest-script`: the kernel's C VFIO and Live Update
# selftests and the Swift port side by side, on the same devices in the same boot.
# Steps: CLI modprobe -> CLI setup of every named device -> every C program (below) -> the Swift
# suites of the same programs (one `vfio-selftests run`, whose JUnit carries the C harness's
# names) -> CLI cleanup -> CLI kernel-reports -> the table.
# The C programs and their devices, as the C harness takes them:
#   vfio_pci_device_test, vfio_iommufd_setup_test, vfio_dma_mapping_test,
#   vfio_dma_mapping_mmio_test: the device under test (VFIO_SELFTESTS_BDF);
#   vfio_pci_device_init_perf_test: every named device (its argv), as Swift's VFIO_SELFTESTS_BDFS;
#   vfio_pci_sriov_uapi_test: the SR-IOV PF (VFIO_SELFTESTS_SRIOV_BDF), if there is one;
#   vfio_pci_driver_test: the first named device with a C selftest driver (igb, ioat, dsa,
#     nv_falcon by vendor:device), else the device under test (C then skips: no driver);
#   liveupdate: no device (/dev/liveupdate).
# Each program runs once, whole, and its KTAP lines ("ok N fixture.variant.test") are its
# results; except vfio_pci_driver_test, one process per case: when the kselftest harness kills
# a case at its timeout it goes on to the next at once, before the killed child has released the
# device, so every later case fails with EBUSY (a harness cascade, not a device result). There
# each case is `<prog> -r fixture.variant.test` and the next starts once nothing holds the device.
# Env (from the guest /init): VFIO_SELFTESTS_REPO, VFIO_SELFTESTS_RESULTS, VFIO_SELFTESTS_BDF,
# VFIO_SELFTESTS_EXTRA_BDFS, VFIO_SELFTESTS_SRIOV_BDF, VFIO_SELFTESTS_BIN_DIR; from
# compare-c.sh (vm-test.sh --env): COMPARE_PROGRAMS (comma-separated; default: every program
# above that COMPARE_C_DIR holds), COMPARE_C_DIR (the built C programs); VFIO_SELFTESTS_FILTER
# (vm-test.sh --filter): a regex that keeps only the driver test's C cases it matches, and the
# Swift run's --filter.
# Writes to $VFIO_SELFTESTS_RESULTS: c/<program>.log or c/<test>.log (C output) and .dmesg (the
# kernel's lines meanwhile), c-results.tsv (as C finishes: program, test, verdict, seconds, note),
# junit-1.xml and console.log (Swift, from `vfio-selftests run`), compare.tsv (printed too):
# program, test, C, Swift, C s, Swift s, note. C s is the case's process time for the driver test,
# else the whole program's wall time on its first row; Swift s is the test's time in run's JUnit.
# Exit: 0 when every step ran (the verdicts are compare-c.sh's business), 1 when setup failed,
# the Swift binary did not run or the table could not be written.
set -u
REPO=${VFIO_SELFTESTS_REPO:?VFIO_SELFTESTS_REPO not set}
RESULTS=${VFIO_SELFTESTS_RESULTS:?VFIO_SELFTESTS_RESULTS not set}
BDF=${VFIO_SELFTESTS_BDF:?VFIO_SELFTESTS_BDF not set}
BIN=${VFIO_SELFTESTS_BIN_DIR:-}
[[ -n $BIN ]] || BIN=$REPO/.build/debug
CDIR=${COMPARE_C_DIR:-$REPO/.build-vm/c-selftests/bin}
cli=$BIN/vfio-selftests
read -r -a extra <<<"${VFIO_SELFTESTS_EXTRA_BDFS:-}"
devices=("$BDF" "${extra[@]}")
SRIOV=${VFIO_SELFTESTS_SRIOV_BDF:-}
all_programs=(vfio_pci_device_test vfio_iommufd_setup_test vfio_dma_mapping_test vfio_dma_mapping_mmio_test
  vfio_pci_device_init_perf_test vfio_pci_sriov_uapi_test vfio_pci_driver_test liveupdate)
if [[ -n ${COMPARE_PROGRAMS:-} ]]; then
  IFS=, read -r -a programs <<<"$COMPARE_PROGRAMS"
else
  programs=()
  for p in "${all_programs[@]}"; do [[ -x $CDIR/$p ]] && programs+=("$p"); done
fi
# The C harness's own per-case limit is 30 s (TEST_F_TIMEOUT may raise it); these outer ones
# only catch a C process that never returns. Then wait this long for the devices to be released.
case_timeout=150 program_timeout=900 release_timeout=120

mkdir -p "$RESULTS/c"
log() { echo "compare[+$(cut -d' ' -f1 /proc/uptime)s]: $*" | tee -a "$RESULTS/compare.log"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# The table's times keep milliseconds: compare-verdict.py sums them per program, and a program of
# many short cases summed at 0.1 s each read up to twice its time.
msecs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# The device C's vfio_pci_driver_test gets: the first named one the C library has a driver for
# (lib/drivers/*); ioat's many IDs are left out: no emulator has one.
driver_bdf=$BDF
for d in "${devices[@]}"; do
  id=$(cat "/sys/bus/pci/devices/$d/vendor" "/sys/bus/pci/devices/$d/device" 2>/dev/null | tr '\n' ' ')
  case $id in
    "0x8086 0x10c9 "|"0x8086 0x0b25 "|"0x10de "*) driver_bdf=$d; break ;;   # igb 82576, dsa, nv_falcon
  esac
done
# How C is started per program: its BDF argv (empty: VFIO_SELFTESTS_BDF only, or none).
c_args() {
  case $1 in
    vfio_pci_device_init_perf_test) echo "${devices[*]}" ;;
    vfio_pci_sriov_uapi_test) echo "$SRIOV" ;;
    vfio_pci_driver_test) echo "$driver_bdf" ;;
    liveupdate) echo "" ;;
    luo_*) echo "-s ${VFIO_SELFTESTS_STAGE:-1}" ;;   # lu_utils.c parse_stage_args: -s N
    *) echo "$BDF" ;;
  esac
}
# The driver test's cases (one process each), as fixture.variant.test in the C harness's order.
modes=(vfio_type1_iommu vfio_type1v2_iommu iommufd_compat_type1 iommufd_compat_type1v2 iommufd)
driver_cases() {
  local m t
  for m in "${modes[@]}"; do
    for t in init_remove memcpy_success memcpy_from_unmapped_iova memcpy_to_unmapped_iova send_msi mix_and_match memcpy_storm; do
      echo "vfio_pci_driver_test.$m.$t"
    done
  done
}
harness_timeout() { case $1 in *.memcpy_storm) echo 60 ;; *) echo 30 ;; esac; }

# Processes that hold a named device: an open group or cdev node, or a C program still alive
# (it may be in the middle of releasing the device, its fds already gone).
holders() {
  # One find over /proc (a readlink per fd from bash takes tens of seconds under TCG).
  local d group cdev prog names=(-false)
  for d in "${devices[@]}"; do
    group=$(basename "$(readlink "/sys/bus/pci/devices/$d/iommu_group")")
    names+=(-o -lname "/dev/vfio/$group")
    cdev=$(ls "/sys/bus/pci/devices/$d/vfio-dev" 2>/dev/null | head -n1)
    [[ -n $cdev ]] && names+=(-o -lname "/dev/vfio/devices/$cdev")
  done
  for prog in "${programs[@]}"; do names+=(-o -lname "$CDIR/$prog"); done
  find /proc/[0-9]*/exe /proc/[0-9]*/fd -maxdepth 1 \( "${names[@]}" \) 2>/dev/null | cut -d/ -f3 | sort -u
}
# Waits until nothing holds the devices; prints the seconds waited; fails after release_timeout.
wait_released() {
  local t0 h
  t0=$(now)
  while h=$(holders) && [[ -n $h ]]; do
    if (($(awk -v a="$t0" -v b="$(now)" 'BEGIN { print (b - a >= '"$release_timeout"') }'))); then
      log "devices still held after $release_timeout s by: $(for p in $h; do echo -n "$p($(cat /proc/$p/comm 2>/dev/null) $(cat /proc/$p/wchan 2>/dev/null)) "; done)"
      secs "$t0" "$(now)"; return 1
    fi
    sleep 0.5
  done
  secs "$t0" "$(now)"
}

setup_devices() {
  { echo "uname_r=$(uname -r)"; echo "bdf=$BDF"; echo "devices=${devices[*]}"; echo "sriov_pf=$SRIOV"
    echo "cmdline=$(cat /proc/cmdline)"; echo "cpus_online=$(cat /sys/devices/system/cpu/online)"; } > "$RESULTS/guest-info"
  dmesg -n 8 2>/dev/null
  "$cli" modprobe vfio-pci vfio_iommu_type1 iommufd 2>&1 | tee -a "$RESULTS/compare.log"
  local d r p
  for d in "${devices[@]}"; do
    "$cli" setup "$d" 2>&1 | tee -a "$RESULTS/compare.log"
    r=${PIPESTATUS[0]}
    ((r == 0)) || { log "error: '$cli setup $d' exited $r (running anyway)"; setup_rc=$r; }
    p=/sys/bus/pci/devices/$d
    log "device $d: $(cat $p/vendor):$(cat $p/device) driver $(basename "$(readlink $p/driver)")"
  done
}

# ---- the table (compare.tsv): after the C programs with Swift "pending", then with both ----
write_table() { # $1: print it (1) or not (0)
  python3 -B - "$REPO" "$RESULTS" "$1" "${programs[@]}" <<'EOF'

import csv, os, sys, xml.etree.ElementTree as ET
repo, res, show, programs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
sys.path.insert(0, os.path.join(repo, "scripts", "lib"))
import results
junit = os.path.join(res, "junit-1.xml")
swift = {}
try:
    for case in results.junit_cases(junit):
        # `vfio-selftests run` names each test as the C harness does (classname: the program).
        prog, name = case.classname or "", "?" if case.name is None else case.name
        if prog not in programs:
            continue  # a suite with no C program here
        if case.failures:
            verdict, why = "not ok", " ".join(case.failures[0].split())
        elif case.skipped is not None:
            verdict, why = "skip: " + " ".join(case.skipped.split()), ""
        else:
            verdict, why = "ok", ""
        swift[(prog, name)] = (verdict, "%.3f" % case.time, why)
except (OSError, ET.ParseError) as e:
    print(f"compare: no usable junit-1.xml ({e})", file=sys.stderr)
rows = [["program", "test", "C", "Swift", "C s", "Swift s", "note"]]
with open(os.path.join(res, "c-results.tsv")) as f:
    for r in list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]:
        prog, name, c, cs, cnote = (r + [""] * 5)[:5]
        missing = ("missing", "", "not in the Swift run") if os.path.exists(junit) else ("pending", "", "")
        sv, ss, why = swift.pop((prog, name), missing)
        notes = [n for n in (cnote, ("Swift: " + why[:300]) if why else "") if n]
        rows.append([prog, name, c, sv, cs, ss, "; ".join(notes)])
for (prog, name), (sv, ss, why) in swift.items():
    rows.append([prog, name, "missing", sv, "", ss, "no C case of this name" + ("; Swift: " + why[:300] if why else "")])
with open(os.path.join(res, "compare.tsv"), "w") as f:
    for r in rows:
        f.write("\t".join(x.replace("\t", " ").replace("\n", " ") for x in r) + "\n")
if show == "1":
    for r in rows:
        print("\t".join(r))
EOF
}

# c_results OUT: the top-level KTAP results of a C program's output, read by the kernel's
# kunit_parser (scripts/lib/results.py ktap): "name<TAB>verdict" a line, the verdict as
# compare.tsv writes it (ok, not ok, "skip: REASON").
c_results() {
  python3 -B "$REPO/scripts/lib/results.py" ktap "$1" | awk -F'\t' '$1 == 0 {
    v = $2; if (v == "skip") { r = $4; sub(/^SKIP[[:space:]]*/, "", r); v = "skip: " r }
    n = $3; sub(/ .*/, "", n); if (n != "") print n "\t" v }'
}
# failure_note OUT: C's assertion text from its output, for the table.
failure_note() {
  local a
  a=$(grep -m1 -A4 -E 'Assertion Failure|:Expected |Test terminated|Test failed' "$1") &&
    echo "C: $(echo "$a" | grep -v '^$' | sed "s|[^ ]*/tools/testing/selftests/||; s|^[[:space:]]*||" | tr '\n\t' '  ')"
}

# ---- C ----
row() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$RESULTS/c-results.tsv"; }
run_driver_cases() { # one process per case
  local prog=$1 cbin=$2 name note w out rc t0 t1 result k
  for name in $(driver_cases | grep -E -- "${VFIO_SELFTESTS_FILTER:-.}"); do
    note=""
    w=$(wait_released) || note="device still held before the case; "
    out=$RESULTS/c/$name.log
    dmesg_before=$(dmesg | wc -l)
    t0=$(now)
    # Line-buffered, so a C process killed by the outer timeout still shows how far it got.
    VFIO_SELFTESTS_BDF=$driver_bdf timeout -k 10 "$case_timeout" stdbuf -oL -eL "$cbin" -r "$name" > "$out" 2>&1
    rc=$?
    t1=$(now)
    if ! w=$(wait_released); then note+="device still held ${w} s after the C process exited; "
    elif ((${w%.*} >= 10)); then note+="device released ${w} s after the C process exited; "; fi
    dmesg | tail -n +"$((dmesg_before + 1))" > "$RESULTS/c/$name.dmesg"
    result=$(c_results "$out" | awk -F'\t' -v n="$name" '$1 == n { print $2; exit }')
    if [[ -z $result ]]; then
      if ((rc == 124 || rc == 137)); then result="not ok"; note+="outer timeout ($case_timeout s), no harness verdict; "
      else result="error"; note+="no harness verdict (exit $rc): $(grep -v '^$' "$out" | tail -n 3 | tr '\n\t' '  ')"; fi
    fi
    if [[ $result == "not ok" ]]; then
      if grep -q 'Test terminated by timeout' "$out"; then note+="harness timeout ($(harness_timeout "$name") s); "
      else note+="$(failure_note "$out"); "; fi
    fi
    k=$(grep -cE 'WARNING|BUG|Oops|stall|hung task|soft lockup' "$RESULTS/c/$name.dmesg")
    ((k)) && note+="kernel: $k report line(s) during the C case (c/$name.dmesg); "
    note=${note%; }; note=${note%; }
    row "$prog" "$name" "$result" "$(msecs "$t0" "$t1")" "$note"
    log "C $name: $result ($(secs "$t0" "$t1") s) $note"
  done
}
run_program() { # once, whole; every KTAP result line is a row
  local prog=$1 cbin=$2 args out rc t0 t1 first=1 name result note k n=0
  read -r -a args <<<"$(c_args "$prog")"
  if [[ $prog == vfio_pci_sriov_uapi_test && -z $SRIOV ]]; then
    log "C $prog: no SR-IOV PF in this boot (vm-test.sh --device nvme-sriov): not run"; return
  fi
  wait_released >/dev/null || log "warning: devices still held before $prog"
  out=$RESULTS/c/$prog.log
  dmesg_before=$(dmesg | wc -l)
  t0=$(now)
  # (A luo_* stage 1 forks a holder that keeps its sessions until the kexec: setsid, its own
  # output closed; the timeout only waits for the program itself.)
  VFIO_SELFTESTS_BDF=$BDF timeout -k 10 "$program_timeout" stdbuf -oL -eL "$cbin" "${args[@]}" > "$out" 2>&1
  rc=$?
  t1=$(now)
  dmesg | tail -n +"$((dmesg_before + 1))" > "$RESULTS/c/$prog.dmesg"
  k=$(grep -cE 'WARNING|BUG|Oops|stall|hung task|soft lockup' "$RESULTS/c/$prog.dmesg")
  while IFS=$'\t' read -r name result; do
    note=""
    ((first)) && note="whole program: $(secs "$t0" "$t1") s, exit $rc; "
    [[ $result == "not ok" ]] && note+="$(grep -A12 -E "^# +RUN +$name " "$out" | grep -m1 -A4 -E 'Assertion Failure|:Expected |Test terminated|Test failed' |
      grep -v '^$' | sed "s|[^ ]*/tools/testing/selftests/||; s|^[[:space:]]*||" | tr '\n\t' '  ')"
    ((first && k)) && note+="kernel: $k report line(s) during the program (c/$prog.dmesg); "
    note=${note%; }; note=${note%; }
    row "$prog" "$name" "$result" "$( ((first)) && msecs "$t0" "$t1")" "$note"
    first=0 n=$((n + 1))
  done < <(c_results "$out")
  if ((n == 0)) && [[ $prog == luo_* ]]; then
    # The luo_* programs are plain kselftest programs: one test, the program, its exit code
    # (stage 1 forks the holder and exits 0; stage 2 verifies).
    case $rc in 0) result=ok ;; 4) result="skip: $(grep -m1 -oE 'SKIP.*|Failed to open.*' "$out")" ;; *) result="not ok" ;; esac
    note="stage ${VFIO_SELFTESTS_STAGE:-1}, exit $rc"
    [[ $result == "not ok" ]] && note+="; C: $(grep -v '^$' "$out" | tail -n 3 | tr '\n\t' '  ')"
    row "$prog" "$prog" "$result" "$(msecs "$t0" "$t1")" "$note"
    n=1
  elif ((n == 0)); then
    row "$prog" "$prog" "error" "$(msecs "$t0" "$t1")" "no KTAP result line (exit $rc): $(grep -v '^$' "$out" | tail -n 3 | tr '\n\t' '  ')"
  fi
  log "C $prog: $n result(s), exit $rc, $(secs "$t0" "$t1") s"
}
run_c() {
  local prog cbin
  log "kernel $(uname -r); devices ${devices[*]}${SRIOV:+ (SR-IOV PF $SRIOV)}; C driver test on $driver_bdf; C programs from $CDIR: ${programs[*]}"
  printf 'program\ttest\tC\tC s\tnote\n' > "$RESULTS/c-results.tsv"
  for prog in "${programs[@]}"; do
    cbin=$CDIR/$prog
    [[ -x $cbin ]] || { log "error: no C program $cbin"; row "$prog" "$prog" "error" "" "not built"; continue; }
    if [[ $prog == vfio_pci_driver_test ]]; then run_driver_cases "$prog" "$cbin"; else run_program "$prog" "$cbin"; fi
  done
  write_table 0 || log "error: could not write compare.tsv"
}

# ---- Swift: the suites named as the C programs, one run of the test binary ----
run_swift() {
  wait_released >/dev/null || log "warning: devices still held before the Swift run"
  # The Swift suites of each C program (Swift Testing's --filter matches suite type names).
  swift_suites() {
    case $1 in
      vfio_pci_device_test) echo 'VFIOPCIDeviceSuite/' ;;
      vfio_iommufd_setup_test) echo VFIOIOMMUFDSetupTest ;;
      vfio_dma_mapping_test) echo 'VFIODMAMappingSuite/' ;;
      vfio_dma_mapping_mmio_test) echo 'VFIODMAMappingMMIOSuite/' ;;
      vfio_pci_device_init_perf_test) echo VFIOPCIDeviceInitPerf ;;
      liveupdate) echo LiveUpdateDeviceTest ;;
      *) echo "$1" ;;   # vfio_pci_driver_test, vfio_pci_sriov_uapi_test: suites named as C
    esac
  }
  filter=""
  for prog in "${programs[@]}"; do filter+="${filter:+|}$(swift_suites "$prog")"; done
  [[ -n ${VFIO_SELFTESTS_FILTER:-} ]] && filter=$VFIO_SELFTESTS_FILTER
  # The command users run: KTAP and JUnit with the C harness's names, from one results model.
  args=(run --junit "$RESULTS/junit-1.xml" --ktap "$RESULTS/swift.ktap" --filter "$filter")
  for d in "${extra[@]}"; do args+=(--extra-device "$d"); done
  args+=("$BDF")
  log "$cli ${args[*]}"
  timeout -k 10 3600 "$cli" "${args[@]}" > "$RESULTS/console.log" 2>&1
  swift_rc=$?
  log "vfio-selftests run exited $swift_rc"
}

# ---- main ----
# COMPARE_PHASE: all (default: the steps above, in order); c (only the C programs, on devices
# already set up: scripts/guest/run-suites.sh runs them before its own Swift run); table (only
# the table, from c-results.tsv and the Swift run's junit-1.xml in $RESULTS).
setup_rc=0 swift_rc=0
case ${COMPARE_PHASE:-all} in
  c) run_c; exit 0 ;;
  table) write_table 1 > /dev/null || { log "error: could not write compare.tsv"; exit 1; }; exit 0 ;;
  all) ;;
  *) log "error: COMPARE_PHASE=${COMPARE_PHASE}: expected all, c or table"; exit 1 ;;
esac
setup_devices
run_c
run_swift
for d in "${devices[@]}"; do "$cli" cleanup "$d" 2>&1 | tee -a "$RESULTS/compare.log"; done
"$cli" kernel-reports 2>&1 | tee "$RESULTS/kernel-reports.log" >> "$RESULTS/compare.log"
reports_rc=${PIPESTATUS[0]}
((reports_rc == 0)) || log "the kernel logged reports during this boot (see kernel-reports.log)"

write_table 1 || { log "error: could not write compare.tsv"; exit 1; }
[[ -s $RESULTS/junit-1.xml ]] || { log "error: the Swift test binary wrote no junit-1.xml"; exit 1; }
((setup_rc == 0)) || exit 1
exit 0

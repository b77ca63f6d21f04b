#!/bin/bash
# Runs inside the vm-test.sh guest (chrooted into the host tree, as root), started by
# scripts/compare-c.sh through `vm-test.sh --guest-script`: the kernel's C VFIO selftests and the
# Swift port side by side on the same device in the same boot.
# Steps: CLI modprobe -> CLI setup of the device under test (only it: the C programs get one BDF)
# -> every C case in its own process -> the Swift suites of the same names (one `vfio-selftests
# run`, whose JUnit carries the C harness's names) -> CLI cleanup -> CLI kernel-reports -> the table.
# Why one C process per case: when the kselftest harness kills a case at its timeout it goes on
# to the next case at once, before the killed child has released the device, so every later case
# fails with EBUSY (a harness cascade, not a device result). Here each case is
# `<prog> -r fixture.variant.test`, and the next starts only when no process holds the device.
# Env (from the guest /init): VFIO_SELFTESTS_REPO, VFIO_SELFTESTS_RESULTS, VFIO_SELFTESTS_BDF,
# VFIO_SELFTESTS_BIN_DIR; from compare-c.sh (vm-test.sh --env): COMPARE_PROGRAMS (comma-separated,
# default vfio_pci_driver_test), COMPARE_C_DIR (the built C programs, default
# $REPO/.build-vm/c-selftests); VFIO_SELFTESTS_FILTER (vm-test.sh --filter): a regex that keeps
# only the C cases whose fixture.variant.test name it matches, and the Swift run's --filter.
# Writes to $VFIO_SELFTESTS_RESULTS: c/<test>.log (each C case's output) and c/<test>.dmesg (the
# kernel's lines during it), c-results.tsv (as the C cases finish), junit-1.xml and console.log
# (Swift, from `vfio-selftests run`), compare.tsv (printed too): test, C, Swift, C s, Swift s,
# note. C s is the wall time of the C process (its device probe, fixture and case); Swift s is
# the test's time in run's JUnit.
# Exit: 0 when every step ran (the verdicts are compare-c.sh's business), 1 when setup failed,
# the Swift binary did not run or the table could not be written.
set -u
REPO=${VFIO_SELFTESTS_REPO:?VFIO_SELFTESTS_REPO not set}
RESULTS=${VFIO_SELFTESTS_RESULTS:?VFIO_SELFTESTS_RESULTS not set}
BDF=${VFIO_SELFTESTS_BDF:?VFIO_SELFTESTS_BDF not set}
BIN=${VFIO_SELFTESTS_BIN_DIR:-}
[[ -n $BIN ]] || BIN=$REPO/.build/debug
CDIR=${COMPARE_C_DIR:-$REPO/.build-vm/c-selftests}
IFS=, read -r -a programs <<<"${COMPARE_PROGRAMS:-vfio_pci_driver_test}"
cli=$BIN/vfio-selftests
# The C harness's own per-case limit is 30 s (TEST_F_TIMEOUT may raise it); this outer one only
# catches a C process that never returns. Then wait this long for the device to be released.
outer_timeout=150 release_timeout=120

mkdir -p "$RESULTS/c"
log() { echo "compare[+$(cut -d' ' -f1 /proc/uptime)s]: $*" | tee -a "$RESULTS/compare.log"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# The cases of each program, as fixture.variant.test, in the C harness's order; and the C
# harness timeout of a case (TEST_F_TIMEOUT in the source, else 30 s).
modes=(vfio_type1_iommu vfio_type1v2_iommu iommufd_compat_type1 iommufd_compat_type1v2 iommufd)
cases_of() {
  local m t
  case $1 in
    vfio_pci_driver_test)
      for m in "${modes[@]}"; do
        for t in init_remove memcpy_success memcpy_from_unmapped_iova memcpy_to_unmapped_iova send_msi mix_and_match memcpy_storm; do
          echo "vfio_pci_driver_test.$m.$t"
        done
      done ;;
    *) log "error: no case list for C program $1 (add one to cases_of)"; return 1 ;;
  esac
}
harness_timeout() {
  case $1 in
    vfio_pci_driver_test.*.memcpy_storm) echo 60 ;;
    *) echo 30 ;;
  esac
}

# Processes that hold the device: an open group or cdev node, or a C program still alive (it may
# be in the middle of releasing the device, its fds already gone).
group=$(basename "$(readlink "/sys/bus/pci/devices/$BDF/iommu_group")")
holders() {
  # One find over /proc (a readlink per fd from bash takes tens of seconds under TCG).
  local cdev prog names=()
  cdev=$(ls "/sys/bus/pci/devices/$BDF/vfio-dev" 2>/dev/null | head -n1)
  names+=(-lname "/dev/vfio/$group")
  [[ -n $cdev ]] && names+=(-o -lname "/dev/vfio/devices/$cdev")
  for prog in "${programs[@]}"; do names+=(-o -lname "$CDIR/$prog"); done
  find /proc/[0-9]*/exe /proc/[0-9]*/fd -maxdepth 1 \( "${names[@]}" \) 2>/dev/null | cut -d/ -f3 | sort -u
}
# Waits until nothing holds the device; prints the seconds waited; fails after release_timeout.
wait_released() {
  local t0 h
  t0=$(now)
  while h=$(holders) && [[ -n $h ]]; do
    if (($(awk -v a="$t0" -v b="$(now)" 'BEGIN { print (b - a >= '"$release_timeout"') }'))); then
      log "device $BDF still held after $release_timeout s by: $(for p in $h; do echo -n "$p($(cat /proc/$p/comm 2>/dev/null) $(cat /proc/$p/wchan 2>/dev/null)) "; done)"
      secs "$t0" "$(now)"; return 1
    fi
    sleep 0.5
  done
  secs "$t0" "$(now)"
}

{ echo "uname_r=$(uname -r)"; echo "bdf=$BDF"; echo "cmdline=$(cat /proc/cmdline)"
  echo "cpus_online=$(cat /sys/devices/system/cpu/online)"; } > "$RESULTS/guest-info"
log "kernel $(uname -r); device $BDF; C programs from $CDIR: ${programs[*]}"
dmesg -n 8 2>/dev/null
"$cli" modprobe vfio-pci vfio_iommu_type1 iommufd 2>&1 | tee -a "$RESULTS/compare.log"
"$cli" setup "$BDF" 2>&1 | tee -a "$RESULTS/compare.log"
setup_rc=${PIPESTATUS[0]}
((setup_rc == 0)) || log "error: '$cli setup $BDF' exited $setup_rc (running anyway)"
p=/sys/bus/pci/devices/$BDF
log "device $BDF: $(cat $p/vendor):$(cat $p/device) driver $(basename "$(readlink $p/driver)") iommu group $group"

# ---- the table (compare.tsv): after the C cases with Swift "pending", then with both ----
write_table() { # $1: print it (1) or not (0)
  python3 - "$RESULTS" "$1" "${programs[@]}" <<'EOF'

import csv, os, sys, xml.etree.ElementTree as ET
res = sys.argv[1]
swift = {}
try:
    for case in ET.parse(os.path.join(res, "junit-1.xml")).getroot().iter("testcase"):
        # `vfio-selftests run` names each test as the C harness does (classname: the program).
        name = case.get("name", "?")
        if case.get("classname", "") not in sys.argv[3:]:
            continue  # another program's suite that a --filter regex also matched
        fail = case.find("failure")
        if fail is None:
            fail = case.find("error")
        skip = case.find("skipped")
        if fail is not None:
            verdict, why = "not ok", " ".join((fail.get("message") or fail.text or "").split())
        elif skip is not None:
            verdict, why = "skip: " + " ".join((skip.get("message") or skip.text or "").split()), ""
        else:
            verdict, why = "ok", ""
        swift[name] = (verdict, "%.1f" % float(case.get("time") or 0), why)
except (OSError, ET.ParseError) as e:
    print(f"compare: no usable junit-1.xml ({e})", file=sys.stderr)
rows = [["test", "C", "Swift", "C s", "Swift s", "note"]]
with open(os.path.join(res, "c-results.tsv")) as f:
    for r in list(csv.reader(f, delimiter="\t"))[1:]:
        name, c, cs, cnote = (r + [""] * 4)[:4]
        sv, ss, why = swift.pop(name, ("missing", "", "not in the Swift run") if os.path.exists(os.path.join(res, "junit-1.xml")) else ("pending", "", ""))
        notes = [n for n in (cnote, ("Swift: " + why[:300]) if why else "") if n]
        rows.append([name, c, sv, cs, ss, "; ".join(notes)])
for name, (sv, ss, why) in swift.items():
    rows.append([name, "missing", sv, "", ss, "no C case of this name" + ("; Swift: " + why[:300] if why else "")])
with open(os.path.join(res, "compare.tsv"), "w") as f:
    for r in rows:
        f.write("\t".join(x.replace("\t", " ").replace("\n", " ") for x in r) + "\n")
if sys.argv[2] == "1":
    for r in rows:
        print("\t".join(r))
EOF
}

# ---- C: one process per case ----
printf 'test\tC\tC s\tnote\n' > "$RESULTS/c-results.tsv"
for prog in "${programs[@]}"; do
  cbin=$CDIR/$prog
  [[ -x $cbin ]] || { log "error: no C program $cbin"; continue; }
  for name in $(cases_of "$prog" | grep -E -- "${VFIO_SELFTESTS_FILTER:-.}"); do
    note=""
    w=$(wait_released) || note="device still held before the case; "
    out=$RESULTS/c/$name.log
    dmesg_before=$(dmesg | wc -l)
    t0=$(now)
    # Line-buffered, so a C process killed by the outer timeout still shows how far it got.
    VFIO_SELFTESTS_BDF=$BDF timeout -k 10 "$outer_timeout" stdbuf -oL -eL "$cbin" -r "$name" > "$out" 2>&1
    rc=$?
    t1=$(now)
    if ! w=$(wait_released); then note+="device still held ${w} s after the C process exited; "
    elif ((${w%.*} >= 10)); then note+="device released ${w} s after the C process exited; "; fi
    dmesg | tail -n +"$((dmesg_before + 1))" > "$RESULTS/c/$name.dmesg"
    line=$(grep -m1 -E "^(not )?ok [0-9]+ $name( |$)" "$out")
    case $line in
      "ok "*"# SKIP"*) result="skip: $(echo "${line#*# SKIP}" | sed 's/^[[:space:]]*//')" ;;
      "ok "*) result=ok ;;
      "not ok "*) result="not ok" ;;
      *) if ((rc == 124 || rc == 137)); then result="not ok"; note+="outer timeout ($outer_timeout s), no harness verdict; "
         else result="error"; note+="no harness verdict (exit $rc): $(grep -v '^$' "$out" | tail -n 3 | tr '\n\t' '  ')"; fi ;;
    esac
    if [[ $result == "not ok" ]]; then
      if grep -q 'Test terminated by timeout' "$out"; then
        note+="harness timeout ($(harness_timeout "$name") s); "
      elif a=$(grep -m1 -A4 -E 'Assertion Failure|:Expected |Test terminated|Test failed' "$out"); then
        note+="C: $(echo "$a" | grep -v '^$' | sed "s|$CDIR/src/||; s|^[[:space:]]*||" | tr '\n\t' '  ')"
      fi
    fi
    k=$(grep -cE 'WARNING|BUG|Oops|stall|hung task|soft lockup' "$RESULTS/c/$name.dmesg")
    ((k)) && note+="kernel: $k report line(s) during the C case (c/$name.dmesg); "
    printf '%s\t%s\t%s\t%s\n' "$name" "$result" "$(secs "$t0" "$t1")" "${note%; }" >> "$RESULTS/c-results.tsv"
    log "C $name: $result ($(secs "$t0" "$t1") s) ${note%; }"
  done
done

write_table 0 || log "error: could not write compare.tsv"

# ---- Swift: the suites named as the C programs, one run of the test binary ----
w=$(wait_released) || log "warning: device still held before the Swift run"
filter=$(IFS='|'; echo "${programs[*]}")
[[ -n ${VFIO_SELFTESTS_FILTER:-} ]] && filter=$VFIO_SELFTESTS_FILTER
# The command users run: KTAP and JUnit with the C harness's names, from one results model.
args=(run --junit "$RESULTS/junit-1.xml" --ktap "$RESULTS/swift.ktap" --filter "$filter" "$BDF")
log "$cli ${args[*]}"
VFIO_SELFTESTS_BDFS=$BDF timeout -k 10 3600 "$cli" "${args[@]}" > "$RESULTS/console.log" 2>&1
swift_rc=$?
log "vfio-selftests run exited $swift_rc"

"$cli" cleanup "$BDF" 2>&1 | tee -a "$RESULTS/compare.log"
"$cli" kernel-reports 2>&1 | tee "$RESULTS/kernel-reports.log" >> "$RESULTS/compare.log"
reports_rc=${PIPESTATUS[0]}
((reports_rc == 0)) || log "the kernel logged reports during this boot (see kernel-reports.log)"

write_table 1 || { log "error: could not write compare.tsv"; exit 1; }
[[ -s $RESULTS/junit-1.xml ]] || { log "error: the Swift test binary wrote no junit-1.xml"; exit 1; }
((setup_rc == 0)) || exit 1
exit 0

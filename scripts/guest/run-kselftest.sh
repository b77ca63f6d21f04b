#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs inside a `vm-test.sh --rootfs` guest: a minimal Debian root with no Swift
# (scripts/build-rootfs.sh), as root. The port's kselftest package (scripts/package.sh) and the
# kernel's own C install (scripts/build-c-selftests.sh --gen-tar) are unpacked into /tmp and run
# the way a lab runs kselftests: each with its own run_kselftest.sh, on the same devices, one
# after the other; the kexec programs (not in kselftest-list.txt) by hand with -s 1 / -s 2, C's
# and the port's on a device each, across the same kexec.
# Env (from the guest /init): VFIO_SELFTESTS_BDF, VFIO_SELFTESTS_EXTRA_BDFS, VFIO_SELFTESTS_STAGE,
# VFIO_SELFTESTS_STAGES, VFIO_SELFTESTS_RESULTS (this stage's results dir); from vm-test.sh --env:
#   KSELFTEST_TESTS     collection:program,... for both sides (default: the C install's whole
#                       kselftest-list.txt); stage 1 only
#   KSELFTEST_SWIFT_ONLY  collection:program,... of the port's own programs, from the package only
#   KSELFTEST_KEXEC     kexec programs (vfio_pci_liveupdate_kexec_test, luo_kexec_simple, ...),
#                       each side's stage 1 last before the kexec and stage 2 first after it
#   KSELFTEST_KEXEC_BDFS  C_BDF,SWIFT_BDF: the device each side's vfio_pci_liveupdate_kexec_test
#                       preserves (default: the device under test for C, the first extra for Swift)
#   KSELFTEST_TIMEOUT   run_kselftest.sh -o (default 900 s a program)
# The payload (vm-test.sh's read-only share) is /opt/vfio-selftests: kselftest-swift.tar.gz,
# kselftest-c.tar.gz.
# Writes to $VFIO_SELFTESTS_RESULTS: c.ktap and swift.ktap (run_kselftest.sh's output),
# swift-only.ktap, c-kexec.ktap and swift-kexec.ktap (the same format, one line a program),
# run-kselftest.log, kernel-reports.log. The host (vm-test.sh) compares them by test name.
# Exit: 1 when unpacking or setup failed or the kernel logged a report, else 0 (verdicts are the
# host's business).
set -u
RESULTS=${VFIO_SELFTESTS_RESULTS:?VFIO_SELFTESTS_RESULTS not set}
BDF=${VFIO_SELFTESTS_BDF:?VFIO_SELFTESTS_BDF not set}
STAGE=${VFIO_SELFTESTS_STAGE:-1}
STAGES=${VFIO_SELFTESTS_STAGES:-1}
PAYLOAD=/opt/vfio-selftests
timeout_s=${KSELFTEST_TIMEOUT:-900}
mkdir -p "$RESULTS"
log() { echo "run-kselftest[stage $STAGE] +$(cut -d' ' -f1 /proc/uptime)s: $*" | tee -a "$RESULTS/run-kselftest.log"; }
read -r -a extra <<<"${VFIO_SELFTESTS_EXTRA_BDFS:-}"
devices=("$BDF" "${extra[@]}")
log "kernel $(uname -r); root: $(cat /etc/motd 2>/dev/null); swift on PATH: $(command -v swift || echo none)"

# ---- unpack both installs, as a lab would ----
swift=/tmp/kselftest-swift c=/tmp/kselftest-c rc=0
for side in swift c; do
  dir=/tmp/kselftest-$side
  rm -rf "$dir"; mkdir -p "$dir"
  tar -xzf "$PAYLOAD/kselftest-$side.tar.gz" -C "$dir" || { log "error: cannot unpack kselftest-$side.tar.gz"; exit 1; }
done
log "unpacked: swift $(du -sh "$swift" | cut -f1), c $(du -sh "$c" | cut -f1); $(head -n1 "$swift/VERSION")"
cli=$swift/vfio-selftests/bin/vfio-selftests
"$cli" modprobe vfio-pci vfio_iommu_type1 iommufd >> "$RESULTS/run-kselftest.log" 2>&1 ||
  log "warning: modprobe failed (continuing; the tests say what is missing)"
# C's setup.sh and the package's do the same (bind to vfio-pci); the package's is journaled.
"$swift/vfio/setup.sh" "${devices[@]}" >> "$RESULTS/run-kselftest.log" 2>&1 || { log "error: setup.sh ${devices[*]} failed"; rc=1; }

# A program run by hand (the kexec ones), reported as kselftest's runner reports a program.
n_kexec=0
run_program() { # OUT COLLECTION NAME CMD...
  local out=$1 coll=$2 name=$3 r; shift 3
  n_kexec=$((n_kexec + 1))
  timeout -k 10 "$timeout_s" "$@" > /tmp/program.out 2>&1
  r=$?
  sed 's/^/# /' /tmp/program.out >> "$out"
  case $r in
    0) echo "ok $n_kexec selftests: $coll: $name" >> "$out" ;;
    4) echo "ok $n_kexec selftests: $coll: $name # SKIP" >> "$out" ;;
    124) echo "not ok $n_kexec selftests: $coll: $name # TIMEOUT $timeout_s seconds" >> "$out" ;;
    *) echo "not ok $n_kexec selftests: $coll: $name # exit=$r" >> "$out" ;;
  esac
  log "$name -s $STAGE ($coll, $out): exit $r"
}
kexec_side() { # c|swift
  local side=$1 dir=/tmp/kselftest-$1 out=$RESULTS/$1-kexec.ktap p coll
  local bdfs=${KSELFTEST_KEXEC_BDFS:-$BDF ${extra[0]:-$BDF}}
  read -r -a kb <<<"${bdfs//,/ }"
  local dev=${kb[0]}; [[ $side == swift ]] && dev=${kb[1]:-${kb[0]}}
  : > "$out"
  IFS=, read -r -a progs <<<"${KSELFTEST_KEXEC:-}"
  for p in "${progs[@]}"; do
    coll=liveupdate; [[ $p == vfio_* ]] && coll=vfio
    if [[ $coll == vfio ]]; then
      run_program "$out" "$coll" "$p" "$dir/$coll/$p" -s "$STAGE" "$dev"
    else
      # The port's luo_* sessions get a prefix: C's hold the plain names across the same kexec.
      run_program "$out" "$coll" "$p" env VFIO_SELFTESTS_LUO_SESSION_PREFIX="$([[ $side == swift ]] && echo swift-)" \
        "$dir/$coll/$p" -s "$STAGE"
    fi
  done
}
selection() { # a comma list of collection:program -> run_kselftest.sh -t arguments
  local t; IFS=, read -r -a ts <<<"$1"
  for t in "${ts[@]}"; do [[ -n $t ]] && printf -- '-t\n%s\n' "$t"; done
}

# After the kexec: the kexec programs first (until they retrieve their devices, the kernel
# refuses any other open of them).
if [[ $STAGES == 2 && $STAGE == 2 && -n ${KSELFTEST_KEXEC:-} ]]; then
  kexec_side c; kexec_side swift
fi
if [[ $STAGE == 1 ]]; then
  tests=${KSELFTEST_TESTS:-$(paste -sd, "$c/kselftest-list.txt")}
  mapfile -t sel < <(selection "$tests")
  for side in c swift; do
    log "$side: run_kselftest.sh -o $timeout_s ${sel[*]}"
    t0=$(cut -d' ' -f1 /proc/uptime)
    # Through a pipe: the runner appends each program's output to /dev/stdout, which, were
    # stdout a plain file, would be a second open file description writing over the first.
    (cd "/tmp/kselftest-$side" && VFIO_SELFTESTS_BDF=$BDF ./run_kselftest.sh -o "$timeout_s" "${sel[@]}") 2>&1 | cat > "$RESULTS/$side.ktap"
    log "$side: run_kselftest.sh exited ${PIPESTATUS[0]} in $(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f", b - a }') s: $(grep -c '^ok\|^not ok' "$RESULTS/$side.ktap") programs"
  done
  if [[ -n ${KSELFTEST_SWIFT_ONLY:-} ]]; then
    mapfile -t sel < <(selection "$KSELFTEST_SWIFT_ONLY")
    log "swift only: run_kselftest.sh -o $timeout_s ${sel[*]}"
    (cd "$swift" && VFIO_SELFTESTS_BDF=$BDF VFIO_SELFTESTS_BDFS="${devices[*]}" ./run_kselftest.sh -o "$timeout_s" "${sel[@]}") 2>&1 | cat > "$RESULTS/swift-only.ktap"
    log "swift only: run_kselftest.sh exited ${PIPESTATUS[0]}"
  fi
  # Before the kexec: each side's stage 1, last.
  if [[ $STAGES == 2 && -n ${KSELFTEST_KEXEC:-} ]]; then kexec_side c; kexec_side swift; fi
fi

# Devices back, but those a stage 1 leaves preserved for the kexec (the holders keep them).
for d in "${devices[@]}"; do
  if [[ $STAGES == 2 && $STAGE == 1 && -n ${KSELFTEST_KEXEC:-} ]]; then
    log "stage 1 of a kexec run: leaving $d bound for the kexec"; continue
  fi
  "$swift/vfio/cleanup.sh" "$d" >> "$RESULTS/run-kselftest.log" 2>&1 || log "warning: cleanup.sh $d failed"
done
"$cli" kernel-reports > "$RESULTS/kernel-reports.log" 2>&1 || { log "error: the kernel logged reports during this boot (kernel-reports.log)"; rc=1; }
exit "$rc"

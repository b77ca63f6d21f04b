# SPDX-License-Identifier: GPL-2.0-only
# Sourced by vm-test.sh: the accelerator for the guest, KVM when it works, else TCG.
#   accel_check MODE          fast: MODE is auto, kvm or tcg; kvm needs a usable /dev/kvm
#   accel_choose MODE CACHE BZIMAGE BUSYBOX TCG_THREAD
#                             sets accel_args (QEMU's -accel and -cpu options) and accel_line
#                             (which accelerator and why, one line). Uses qemu_bin, qemu_env and
#                             qemu_data (lib/qemu-backports.sh) and the caller's log and die.
# /dev/kvm existing proves nothing: on this project's machines it exists, yet a full guest dies
# early ("KVM internal error. Suberror: 1 ... emulation failure"; on other hosts QEMU aborts
# setting an MSR, or the guest hangs in the firmware). So auto boots a real guest under KVM (the
# kernel about to be tested, a busybox /init that prints a marker and powers off; the same machine,
# vIOMMU and -cpu host as the run) for at most accel_probe_timeout seconds, and caches the verdict
# in CACHE/accel/<key>, keyed by host kernel, QEMU version and CPU model: one probe per host
# and QEMU. Delete CACHE/accel to probe again.
accel_probe_timeout=${VM_TEST_KVM_PROBE_TIMEOUT:-25}
accel_marker=VM-TEST-KVM-PROBE-OK

# accel_kvm_usable: whether this user can open /dev/kvm; else sets accel_why.
accel_kvm_usable() {
  [[ -e /dev/kvm ]] || { accel_why="no /dev/kvm"; return 1; }
  [[ -r /dev/kvm && -w /dev/kvm ]] || { accel_why="/dev/kvm is not readable and writable by $(id -un)"; return 1; }
  return 0
}

accel_check() {
  case $1 in
    auto|tcg) ;;
    kvm) accel_kvm_usable || die "--accel kvm: $accel_why" ;;
    *) die "--accel must be auto, kvm or tcg" ;;
  esac
}

# accel_key: host kernel + QEMU build + CPU model.
accel_key() {
  { uname -r; uname -v; echo "$qemu_bin"; env "${qemu_env[@]}" "$qemu_bin" --version 2>/dev/null | head -n1
    grep -m1 '^model name' /proc/cpuinfo || true; grep -m1 -owE 'vmx|svm' /proc/cpuinfo || true; } | sha256sum | cut -c1-16
}

# accel_probe CACHE BZIMAGE BUSYBOX: boots the probe guest under KVM; sets accel_probe_ok (0|1)
# and accel_probe_why.
accel_probe() {
  local cache=$1 bzimage=$2 busybox=$3 dir pid rc=0 t0 deadline timed_out=0 err line how
  dir=$(mktemp -d "$cache/probe.XXXXXX")
  mkdir -p "$dir/ird/bin" "$dir/ird/dev"
  cp "$busybox" "$dir/ird/bin/busybox"
  printf '#!/bin/busybox sh\n/bin/busybox mount -t devtmpfs devtmpfs /dev\n/bin/busybox echo %s > /dev/console\n/bin/busybox poweroff -f\n' \
    "$accel_marker" > "$dir/ird/init"
  chmod 755 "$dir/ird/init"
  (cd "$dir/ird" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$dir/probe.cpio.gz"
  : > "$dir/serial"
  t0=$(date +%s.%N)
  # The shell's stderr is muted while QEMU runs: bash would report a QEMU that aborts (SIGABRT, as
  # it does when KVM refuses an MSR) with a line of its own; QEMU's output is in qemu.log.
  {
    env "${qemu_env[@]}" "$qemu_bin" "${qemu_data[@]}" -accel kvm -cpu host -m 512M -smp 2 \
      -M q35,kernel-irqchip=split -device intel-iommu,intremap=on,caching-mode=on \
      -nodefaults -nographic -no-reboot -monitor none -serial "file:$dir/serial" \
      -kernel "$bzimage" -initrd "$dir/probe.cpio.gz" -append "console=ttyS0 panic=-1 quiet" \
      </dev/null >"$dir/qemu.log" 2>&1 &
    pid=$! deadline=$((SECONDS + accel_probe_timeout))
    # Done when the marker arrives, QEMU exits, KVM reports an internal error (QEMU then stops the
    # guest but stays up), or the time is up.
    while kill -0 "$pid" 2>/dev/null; do
      grep -q "$accel_marker" "$dir/serial" && break
      grep -q 'KVM internal error' "$dir/qemu.log" && break
      ((SECONDS >= deadline)) && { timed_out=1; break; }
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      # Give a guest that printed the marker a moment to power off by itself.
      grep -q "$accel_marker" "$dir/serial" && sleep 1
      kill "$pid" 2>/dev/null || true
    fi
    wait "$pid" || rc=$?
  } 2>/dev/null
  accel_probe_ok=0
  if grep -q "$accel_marker" "$dir/serial"; then
    accel_probe_ok=1
    accel_probe_why="a guest reached its init in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
  elif grep -q 'KVM internal error' "$dir/qemu.log"; then
    accel_probe_why="guest died with KVM internal error"
    grep -q 'emulation failure' "$dir/qemu.log" && accel_probe_why+=", emulation failure"
  elif ((timed_out == 0)); then
    # QEMU ended by itself before the guest's init ran: its first error line says why.
    err=$(grep -m1 -iE 'error|assert|fail|could not|cannot' "$dir/qemu.log" | sed 's/^[^ ]*qemu-system-[^:]*: //' | cut -c1-120)
    if ((rc > 128)); then how="QEMU died of SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))"; else how="QEMU exited $rc"; fi
    accel_probe_why="$how before the guest's init ran${err:+: $err}"
  else
    line=$(tr -d '\r' < "$dir/serial" | sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b.//g' | grep -v '^[[:space:]]*$' | tail -n1 | cut -c1-80)
    accel_probe_why="the guest did not reach its init within $accel_probe_timeout s${line:+ (console: $line)}"
  fi
  rm -rf "$dir"
}

accel_choose() {
  local mode=$1 cache=$2 bzimage=$3 busybox=$4 tcg_thread=$5 key verdict why=""
  local tcg=(-accel "tcg,thread=$tcg_thread" -cpu max) kvm=(-accel kvm -cpu host)
  case $mode in
    tcg) accel_args=("${tcg[@]}"); accel_line="tcg (--accel tcg)"; return 0 ;;
    kvm) accel_args=("${kvm[@]}"); accel_line="kvm (--accel kvm)"
      # Say so when the probe found KVM broken here (the run goes ahead: it was asked for).
      key=$(accel_key)
      if [[ -f $cache/accel/$key ]] && [[ $(head -n1 "$cache/accel/$key") == tcg ]]; then
        accel_line+="; note: the KVM probe failed on this host: $(sed -n 2p "$cache/accel/$key")"
      fi
      return 0 ;;
  esac
  if ! accel_kvm_usable; then
    accel_args=("${tcg[@]}"); accel_line="tcg ($accel_why)"; return 0
  fi
  mkdir -p "$cache/accel"
  key=$(accel_key)
  if [[ -f $cache/accel/$key ]]; then
    verdict=$(head -n1 "$cache/accel/$key") why="KVM probe, cached: $(sed -n 2p "$cache/accel/$key")"
  else
    log "probing KVM (a guest under KVM, at most $accel_probe_timeout s; the verdict is cached in $cache/accel/$key)"
    accel_probe "$cache/accel" "$bzimage" "$busybox"
    if ((accel_probe_ok)); then verdict=kvm; else verdict=tcg; fi
    why="KVM probe: $accel_probe_why"
    printf '%s\n%s\n' "$verdict" "$accel_probe_why" > "$cache/accel/$key.new"
    mv "$cache/accel/$key.new" "$cache/accel/$key"
  fi
  if [[ $verdict == kvm ]]; then accel_args=("${kvm[@]}"); else accel_args=("${tcg[@]}"); fi
  accel_line="$verdict ($why)"
}

# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash disable=SC2034,SC2154,SC2054  # the globals vm-test.sh and the other vm-*.sh share; QEMU options have commas
# Sourced by vm-test.sh: the QEMU side, from the work dir to the watchdog's verdict. Uses
# vm-test.sh's globals (repo, label, the parsed options, device_bdf, what lib/vm-prepare.sh set)
# and its log and die.
#   vm_qemu_workdir   WORK = .build-vm/run-<label>, emptied; the EXIT trap kills QEMU and the
#                     console tail and removes WORK (unless --keep).
#   vm_qemu_devices   the extra devices' QEMU options (device_args) and their BDFs in the guest
#                     (extra_bdfs: every device but the one under test; sriov_bdf).
#   vm_qemu_results   RESULTS = <results root>/<label>, its stage dirs and logs emptied.
#   vm_qemu_cmdline   the kernel command line and QEMU's (qemu), written to RESULTS/qemu-cmdline.
#   vm_qemu_run       boots (retrying once a kernel that panicked before /init), with two
#                     watchdogs per boot: /init reached within --boot-timeout, the guest reported
#                     within --timeout (stage 2's clocks start when stage 1 reports, the kexec
#                     follows). Prints the timing; sets failed=1 when a watchdog fired or a stage
#                     did not report, saying why with the console's last lines.

vm_qemu_workdir() {
  work=$repo/.build-vm/run-$label
  rm -rf "$work"; mkdir -p "$work"
  qpid="" tailpid="" qticks=0
  trap vm_qemu_cleanup EXIT
  trap 'exit 130' INT TERM
}

vm_qemu_cleanup() {
  if [[ -n $qpid ]]; then kill "$qpid" 2>/dev/null || true; fi
  if [[ -n $tailpid ]]; then kill "$tailpid" 2>/dev/null || true; fi
  ((keep)) || rm -rf "$work"
}

vm_qemu_devices() {
  # Extra devices: where each appears in the guest (set up for vfio-pci there, listed in
  # VFIO_SELFTESTS_BDFS); the SR-IOV PF also as VFIO_SELFTESTS_SRIOV_BDF.
  extra_bdfs=() sriov_bdf="" device_args=()
  local -A added=()
  local d b others=()
  for d in "${devices[@]}"; do
    [[ -n ${added[$d]:-} ]] && continue; added[$d]=1
    case $d in
      edu) device_args+=(-device edu,addr=04.0); extra_bdfs+=(0000:00:04.0) ;;
      # The same edu for the benchmark's BENCH_EDU_BDF alone: not an extra device of the suites
      # (its driver test's memcpys take QEMU's 200 ms each; Debian's boot runs that test on it).
      edu-bench) device_args+=(-device edu,addr=04.0) ;;
      igb) device_args+=(-device igb,addr=06.0,netdev=n1 -netdev user,id=n1); extra_bdfs+=(0000:00:06.0) ;;
      igb2) device_args+=(-device igb,addr=08.0,netdev=n2 -netdev user,id=n2); extra_bdfs+=(0000:00:08.0) ;;
      nvme-sriov) device_args+=(-device pcie-root-port,id=rp1,bus=pcie.0,addr=05.0 -device nvme-subsys,id=subsys0
        -device nvme,serial=deadbeef,subsys=subsys0,sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2,bus=rp1)
        extra_bdfs+=(0000:01:00.0); sriov_bdf=0000:01:00.0 ;;
    esac
  done
  # The device under test is VFIO_SELFTESTS_BDF; every other device (the virtio-net too, when it
  # is not under test) is an extra one.
  [[ $bdf == "${device_bdf[virtio-net]}" ]] || others+=("${device_bdf[virtio-net]}")
  for b in "${extra_bdfs[@]}"; do [[ $b == "$bdf" ]] || others+=("$b"); done
  extra_bdfs=("${others[@]}")
}

vm_qemu_results() {
  mkdir -p "$results_root"
  [[ $results_root == "$repo/results" && ! -e $results_root/.gitignore ]] && echo '*' > "$results_root/.gitignore"
  results=$(cd "$results_root" && pwd -P)/$label
  rm -rf "$results/stage1" "$results/stage2" "$results"/serial*.log "$results/qemu.log"
  mkdir -p "$results"
  serial=$results/serial.log
  : > "$serial"
}

vm_qemu_cmdline() {
  local append="console=ttyS0 intel_iommu=on panic=-1 quiet"
  # no_timer_check: the IO-APIC timer check times ticks against a busy-wait, which a TCG vCPU on a
  # loaded host (CI boots three guests on two cores) can fail: "Kernel panic - not syncing: timer
  # doesn't work through Interrupt-remapped IO-APIC", seen once in a kexec'd stage-2 boot.
  append+=" no_timer_check"
  # Huge pages for the hugetlb variants of vfio_dma_mapping_test (one 1 GiB page, eight 2 MiB).
  append+=" hugepagesz=1G hugepages=1 hugepagesz=2M hugepages=8"
  [[ $kernel_kind != debian ]] && append+=" liveupdate=on"
  # vfio-pci may enable SR-IOV on the PF (module options on the command line reach libkmod).
  [[ -n $sriov_bdf ]] && append+=" vfio_pci.enable_sriov=1"
  append+=" vfio_selftests.stage=1"
  # accel_args: -accel kvm -cpu host, or TCG with -cpu max. TCG round-robin (thread=single) by
  # default: with multi-threaded TCG, guests on a loaded host stalled with a vCPU halted for good
  # ("timer wakeup didn't happen", RCU stalls, no progress; three times on 2026-11-30 with QEMU
  # 10.0.2, once right after the test binary started). One thread per guest also suits CI, which
  # boots three guests on two cores. --tcg-thread multi restores MTTCG.
  qemu=(env "${qemu_env[@]}" "$qemu_bin" "${qemu_data[@]}" "${accel_args[@]}" -m "$memory" -smp 2
    -M q35,kernel-irqchip=split -device intel-iommu,intremap=on,caching-mode=on
    -nographic -no-reboot -monitor none -serial "file:$serial"
    -kernel "$bzimage" -initrd "$work/initramfs.cpio.gz" -append "$append"
    -netdev user,id=n0 -device virtio-net-pci,netdev=n0,addr=03.0
    # = -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap (and a
    # rw one for the results), spelled out to pin the 9p devices at 00:10.0/00:11.0, clear of the
    # device slots used here (03.0 virtio-net, 04.0 edu, 05.0 root port).
    -fsdev "local,id=fshost,path=${rootfs:-/},security_model=none,readonly=on,multidevs=remap"
    -device virtio-9p-pci,fsdev=fshost,mount_tag=host,addr=10.0
    -fsdev "local,id=fsresults,path=$results,security_model=none,multidevs=remap"
    -device virtio-9p-pci,fsdev=fsresults,mount_tag=results,addr=11.0)
  qemu+=("${device_args[@]}")
  if ((rootfs_mode)); then
    qemu+=(-fsdev "local,id=fspayload,path=$payload,security_model=none,readonly=on,multidevs=remap"
      -device virtio-9p-pci,fsdev=fspayload,mount_tag=payload,addr=12.0)
  fi
  printf '%q ' "${qemu[@]}" > "$results/qemu-cmdline"; echo >> "$results/qemu-cmdline"
}

vm_qemu_boot() { # sets t0 t1 qrc fired fired_boot cur_stage
  rm -rf "$results/stage1" "$results/stage2"
  : > "$serial"
  t0=$(date +%s.%N)
  "${qemu[@]}" </dev/null >"$results/qemu.log" 2>&1 &
  qpid=$!
  if ((quiet == 0)); then tail -n +1 -F --pid="$qpid" "$serial" 2>/dev/null & tailpid=$!; fi
  fired=0 fired_boot=0 cur_stage=1
  # Two deadlines per boot: reach /init (stageN/booted) within boot_timeout_s, report within
  # timeout_s. Stage 2's clock starts when stage 1 reports (kexec follows).
  local boot_start=$SECONDS
  while kill -0 "$qpid" 2>/dev/null; do
    # QEMU's CPU time so far (utime + stime, in clock ticks): a guest waiting on a device timer
    # or a sleep costs wall time but no CPU, which is what guests sharing the host compete for.
    qticks=$(awk '{ print $14 + $15 }' "/proc/$qpid/stat" 2>/dev/null) || qticks=${qticks:-0}
    if ((cur_stage == 1 && stages == 2)) && [[ -e $results/stage1/exit-code ]]; then cur_stage=2; boot_start=$SECONDS; fi
    if [[ ! -e $results/stage$cur_stage/booted ]] && ((SECONDS - boot_start >= boot_timeout_s)); then
      fired=1 fired_boot=1
    fi
    if ((fired || SECONDS - boot_start >= timeout_s)); then
      fired=1
      kill "$qpid" 2>/dev/null || true; sleep 2; kill -9 "$qpid" 2>/dev/null || true
      break
    fi
    sleep 0.5
  done
  qrc=0; wait "$qpid" || qrc=$?
  qpid=""
  t1=$(date +%s.%N)
  if [[ -n $tailpid ]]; then sleep 0.3; kill "$tailpid" 2>/dev/null || true; wait "$tailpid" 2>/dev/null || true; tailpid=""; fi
}

vm_qemu_elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

vm_qemu_run() {
  log "booting $label ($stages stage(s), watchdog ${timeout_s} s per boot); serial log: $serial"
  vm_qemu_boot
  # Under TCG (multi-threaded) a guest kernel very rarely oopses while patching its own text during
  # early boot ("Oops: int3"), before /init runs. Retry such a boot once.
  if ((fired == 0)) && [[ ! -e $results/stage1/booted ]] && grep -q 'Kernel panic' "$serial" && ! grep -q '^vm-test-init:' "$serial"; then
    cp "$serial" "$results/serial.attempt1.log"
    log "the guest kernel panicked before /init ran ($(grep -m1 -oE 'Oops: [^[]*|Kernel panic[^[]*' "$serial" | head -n1)); retrying the boot once (first log: $results/serial.attempt1.log)"
    vm_qemu_boot
  fi

  local timing s f
  timing="QEMU ran $(vm_qemu_elapsed "$t0" "$t1") s wall, $(awk -v t="${qticks:-0}" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", t / hz }') s CPU"
  for s in $(seq 1 "$stages"); do
    f=$results/stage$s/exit-code
    [[ -e $f ]] && timing+="; stage $s reported at +$(vm_qemu_elapsed "$t0" "$(stat -c %.3Y "$f")") s"
  done
  echo >&2
  log "$timing (qemu exit $qrc)"

  failed=0
  if ((fired)); then
    if ((fired_boot)); then
      log "guest kernel did not reach /init within $boot_timeout_s s (kernel $label, stage $cur_stage): bad kernel image, early hang or kexec failure; serial log: $serial"
    else
      log "guest did not report within $timeout_s s (kernel $label, stage $cur_stage); serial log: $serial"
    fi
    echo "---- last 30 lines of $serial ----" >&2; tail -n 30 "$serial" >&2; echo "----" >&2
    failed=1
  else
    local missing_stage=0
    for s in $(seq 1 "$stages"); do [[ -e $results/stage$s/exit-code ]] || { missing_stage=$s; break; }; done
    if ((missing_stage)); then
      log "guest did not report (kernel $label, stage $missing_stage): QEMU exited $qrc; serial log: $serial"
      [[ -s $results/qemu.log ]] && { echo "---- QEMU said ----" >&2; tail -n 20 "$results/qemu.log" >&2; }
      echo "---- last 30 lines of $serial ----" >&2; tail -n 30 "$serial" >&2; echo "----" >&2
      failed=1
    fi
  fi
  return 0
}

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# shellcheck disable=SC2016 # the kprobe definitions name $retval and $arg1 for tracefs, not the shell
# The reproducer of docs/findings/kexec-hugetlb-efault.md, not run by CI. Two stages:
#   stage 1: the hugetlb test (vfio_dma_mapping_test's anonymous_hugetlb_2mb.dma_map_unmap, every
#            iommu mode) on the boot-time pool; the pool freed and allocated again (its pages in
#            CMA or not: CmaFree before and after) and the test again, traced; then the port's
#            vfio_pci_liveupdate_kexec_test preserves the device under test and a memfd (1 GiB +
#            1 MiB, as C) in a Live Update session, its holder keeping them to the kexec.
#   stage 2: the same test's stage 2 retrieves them; the hugetlb test, with kretprobes on the pin
#            path (trace-stage2.txt); where the 2 MiB pool's pages are (PFNs from pagemap and how
#            many sat in CMA pageblocks, scripts/guest/hugetlb-pfn.py), /proc/pagetypeinfo.
#   scripts/vm-test.sh --kernel ../shared/kernel-debug --stages 2 --device igb --under-test igb \
#     --skip-build --quiet --guest-script scripts/guest/repro-kexec-hugetlb.sh --label repro-hugetlb
# REPRO_MEMFD_SIZE (bytes) overrides the memfd's size (VFIO_SELFTESTS_LIVEUPDATE_MEMFD_SIZE);
# REPRO_NO_KEXEC_TEST=1: the VFIO kexec test does not run (the control: the same kexec, nothing
# kept); REPRO_HOLD_MEMFD=BYTES: a memfd of that size is preserved by scripts/guest/luo-hold-memfd.py
# instead (a kernel with LUO but without the VFIO series, such as ../shared/kernel).
# One stage (no --stages 2): stage 1 only, no kexec.
# Writes facts-*.txt, hugetlb-*.log/.ktap, trace-*.txt, kprobes.txt, repro.log.
set -u
RESULTS=${VFIO_SELFTESTS_RESULTS:?}
REPO=${VFIO_SELFTESTS_REPO:?}
BDF=${VFIO_SELFTESTS_BDF:?}
STAGE=${VFIO_SELFTESTS_STAGE:-1}
BIN=${VFIO_SELFTESTS_BIN_DIR:-$REPO/.build/debug}
cli=$BIN/vfio-selftests
out=$RESULTS/repro.log
log() { echo "repro[stage $STAGE] +$(cut -d' ' -f1 /proc/uptime)s: $*" | tee -a "$out"; }
[[ -n ${REPRO_MEMFD_SIZE:-} ]] && export VFIO_SELFTESTS_LIVEUPDATE_MEMFD_SIZE=$REPRO_MEMFD_SIZE
kexec_filter='VFIOPCILiveUpdateKexec'
hugetlb_filter='anonymous_hugetlb_2mb'

facts() { # file [--cycle]
  { echo "## uname"; uname -a
    echo "## cmdline"; cat /proc/cmdline
    echo "## meminfo"; grep -E 'MemTotal|MemFree|Cma|HugePages_|Hugepagesize|Hugetlb' /proc/meminfo
    for h in /sys/kernel/mm/hugepages/hugepages-*; do
      echo "${h##*/}: nr $(cat "$h/nr_hugepages") free $(cat "$h/free_hugepages") resv $(cat "$h/resv_hugepages") surplus $(cat "$h/surplus_hugepages") overcommit $(cat "$h/nr_overcommit_hugepages")"
    done
    echo "## pagetypeinfo"; sed -n "1,60p" /proc/pagetypeinfo 2>&1
    echo "## kernel log: KHO, scratch, hugetlb, CMA, memblock"
    dmesg | grep -iE 'KHO|kexec handover|scratch|hugetlb|HugeTLB|cma|liveupdate|luo' | head -n 80
    echo "## 2 MiB pages: PFNs"; python3 "$REPO/scripts/guest/hugetlb-pfn.py" ${2:+"$2"} 2>&1
  } > "$1" 2>&1
}

# run_test NAME ARGS...: `vfio-selftests run ARGS` on the device, NAME.ktap and NAME.log; its exit.
run_test() {
  local name=$1; shift
  VFIO_SELFTESTS_TIMEOUT_SCALE=4 "$cli" run "$@" --ktap "$RESULTS/$name.ktap" "$BDF" > "$RESULTS/$name.log" 2>&1
}

"$cli" modprobe vfio-pci vfio_iommu_type1 iommufd >> "$out" 2>&1
# traced_run NAME: the hugetlb test with kretprobes on the pin path; trace-NAME.txt, hugetlb-NAME.*
T=/sys/kernel/tracing
probe() { if echo "$1" >> "$T/kprobe_events" 2>/dev/null; then echo "ok   $1" >> "$RESULTS/kprobes.txt"; else echo "fail $1" >> "$RESULTS/kprobes.txt"; fi; }
traced_run() {
  [[ -e $T/kprobe_events ]] || mount -t tracefs nodev "$T" 2>/dev/null
  echo > "$T/kprobe_events"
  : > "$RESULTS/kprobes.txt"
  # gup's long-term pin and the migration it needs for a folio that is not long-term pinnable
  # (a CMA page), the hugetlb target allocation, and each map path's return.
  probe 'r:repro/pin_user_pages_remote pin_user_pages_remote ret=$retval:s64'
  probe 'r:repro/pin_user_pages_fast pin_user_pages_fast ret=$retval:s64'
  probe 'r:repro/gup_longterm __gup_longterm_locked ret=$retval:s64'
  probe 'r:repro/check_and_migrate check_and_migrate_movable_pages_or_folios ret=$retval:s64'
  probe 'r:repro/migrate_pages migrate_pages ret=$retval:s32'
  probe 'p:repro/isolate_hugetlb folio_isolate_hugetlb folio=$arg1:x64'
  probe 'r:repro/alloc_hugetlb_nodemask alloc_hugetlb_folio_nodemask folio=$retval:x64'
  probe 'r:repro/alloc_migration_target alloc_migration_target folio=$retval:x64'
  probe 'r:repro/hugetlb_fault hugetlb_fault ret=$retval:x32'
  probe 'r:repro/faultin_page faultin_page ret=$retval:s32'
  probe 'r:repro/get_user_pages_locked __get_user_pages ret=$retval:s64'
  probe 'r:repro/vaddr_get_pfns vfio_iommu_type1:vaddr_get_pfns ret=$retval:s64'
  probe 'r:repro/vfio_pin_pages_remote vfio_iommu_type1:vfio_pin_pages_remote ret=$retval:s64'
  probe 'r:repro/vfio_iommu_type1_ioctl vfio_iommu_type1:vfio_iommu_type1_ioctl ret=$retval:s64'
  probe 'r:repro/pfn_reader_user_pin iommufd:pfn_reader_user_pin ret=$retval:s32'
  probe 'r:repro/iopt_map_user_pages iommufd:iopt_map_user_pages ret=$retval:s32'
  probe 'r:repro/iommufd_ioas_map iommufd:iommufd_ioas_map ret=$retval:s32'
  echo 16384 > "$T/buffer_size_kb"
  echo > "$T/trace"
  echo 1 > "$T/events/repro/enable"
  echo 1 > "$T/tracing_on"
  run_test "hugetlb-$1" --filter "$hugetlb_filter"
  log "hugetlb run $1 exited $?: $(grep -ac 'EFAULT (14)' "$RESULTS/hugetlb-$1.log") maps failed with EFAULT"
  echo 0 > "$T/tracing_on"
  grep -v '^#' "$T/trace" > "$RESULTS/trace-$1.txt"
  echo 0 > "$T/events/repro/enable"; echo > "$T/kprobe_events"
}

if [[ $STAGE == 1 ]]; then
  log "kernel $(uname -r); device $BDF; memfd ${VFIO_SELFTESTS_LIVEUPDATE_MEMFD_SIZE:-default}"
  facts "$RESULTS/facts-stage1.txt"
  "$cli" setup "$BDF" >> "$out" 2>&1
  # The first boot: the same hugetlb test on the boot-time pool (the control of the first boot),
  # then on a pool freed and allocated again at run time (after KHO's scratch became CMA).
  run_test hugetlb-stage1 --filter "$hugetlb_filter"
  log "stage 1 hugetlb run exited $?"
  facts "$RESULTS/facts-stage1-cycled.txt" --cycle
  traced_run stage1-cycled
  if [[ ${VFIO_SELFTESTS_STAGES:-1} == 1 ]]; then
    "$cli" cleanup "$BDF" >> "$out" 2>&1
  elif [[ -n ${REPRO_HOLD_MEMFD:-} ]]; then
    "$cli" cleanup "$BDF" >> "$out" 2>&1
    log "memfd of $REPRO_HOLD_MEMFD bytes preserved, held by pid $(python3 "$REPO/scripts/guest/luo-hold-memfd.py" "$REPRO_HOLD_MEMFD" 2>> "$out")"
  elif [[ ${REPRO_NO_KEXEC_TEST:-0} != 1 ]]; then
    run_test kexec-stage1 --stage 1 --filter "$kexec_filter"
    log "stage 1 kexec test exited $?"
  else
    "$cli" cleanup "$BDF" >> "$out" 2>&1
    log "control: nothing preserved"
  fi
  exit 0
fi

log "kernel $(uname -r) after the kexec; device $BDF"
facts "$RESULTS/facts-stage2.txt"
"$cli" setup "$BDF" >> "$out" 2>&1
if [[ ${REPRO_NO_KEXEC_TEST:-0} != 1 && -z ${REPRO_HOLD_MEMFD:-} ]]; then
  run_test kexec-stage2 --stage 2 --filter "$kexec_filter"
  log "stage 2 kexec test exited $?"
fi
traced_run stage2
facts "$RESULTS/facts-stage2-after.txt" --cycle
"$cli" cleanup >> "$out" 2>&1
"$cli" kernel-reports > "$RESULTS/kernel-reports.log" 2>&1
log "kernel reports: $(tail -n1 "$RESULTS/kernel-reports.log")"
exit 0

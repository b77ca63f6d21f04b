#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# shellcheck disable=SC2016 # the kprobe definitions name $retval and $arg1 for tracefs, not the shell
# The reproducer of docs/findings/type1-dma-map-reset-einval.md, not run by CI:
# vfio_pci_reset_mmap_test's reset_while_dma_mapping_bar (3 s of VFIO_DEVICE_RESET raced against
# DMA map/unmap of the device's largest BAR mmap), REPRO_RUNS times per type1 mode, through
# `vfio-selftests run` on the device under test; then, with REPRO_TRACE=1, once more per mode with
# kretprobes on the type1 pin path, tracing off at the first map that returns -EINVAL.
#   scripts/vm-test.sh --kernel ../shared/kernel --under-test nvme-sriov --skip-build --quiet \
#     --guest-script scripts/guest/repro-type1-reset.sh --env REPRO_RUNS=10 --env REPRO_SECONDS=30 \
#     --env REPRO_TRACE=1 --label repro-type1
# REPRO_SECONDS: each race's length (VFIO_SELFTESTS_RESET_MMAP_SECONDS; default the test's 3 s);
# REPRO_TRACE_RUNS: at most this many traced runs per mode (default REPRO_RUNS).
# Writes rate.tsv (mode, runs, runs with an EINVAL map, EINVAL maps, maps), run-<mode>-<i>.log,
# trace-<mode>.txt (the events of the failing map's thread) and kprobes.txt (what could be probed).
# Exit 0 when every run ran (the rate is the result, not the exit code).
set -u
RESULTS=${VFIO_SELFTESTS_RESULTS:?}
REPO=${VFIO_SELFTESTS_REPO:?}
BDF=${VFIO_SELFTESTS_BDF:?}
BIN=${VFIO_SELFTESTS_BIN_DIR:-$REPO/.build/debug}
RUNS=${REPRO_RUNS:-10}
MODES=${REPRO_MODES:-vfio_type1_iommu vfio_type1v2_iommu}
cli=$BIN/vfio-selftests
out=$RESULTS/repro.log
log() { echo "repro +$(cut -d' ' -f1 /proc/uptime)s: $*" | tee -a "$out"; }

log "kernel $(uname -r) ($(cut -d' ' -f3- /proc/version | cut -c1-80)); device $BDF; $RUNS runs of ${REPRO_SECONDS:-3} s per mode"
"$cli" modprobe vfio-pci vfio_iommu_type1 iommufd >> "$out" 2>&1
"$cli" setup "$BDF" >> "$out" 2>&1 || { log "setup of $BDF failed"; exit 1; }

# One run: the test's own line "race: ... DMA map=N ... DMA map EINVAL (kernel finding)=M ...".
[[ -n ${REPRO_SECONDS:-} ]] && export VFIO_SELFTESTS_RESET_MMAP_SECONDS=$REPRO_SECONDS
one() { # mode log
  VFIO_SELFTESTS_TIMEOUT_SCALE=4 timeout -k 10 $((300 + ${REPRO_SECONDS:-3})) "$cli" run --iommu-mode "$1" \
    --filter 'reset_while_dma_mapping_bar' --ktap "$2.ktap" "$BDF" > "$2" 2>&1
}
count() { # key file -> value of key= on the race line (0 if absent)
  local v; v=$(grep -ao "race: .*" "$2" | grep -o "$1=[0-9]*" | head -n1 | cut -d= -f2)
  echo "${v:-0}"
}
printf 'mode\truns\truns_with_einval\teinval_maps\tmaps\tresets\tfailed_runs\n' > "$RESULTS/rate.tsv"
for mode in $MODES; do
  hit=0 einval=0 maps=0 resets=0 failed=0
  for i in $(seq 1 "$RUNS"); do
    f=$RESULTS/run-$mode-$i.log
    one "$mode" "$f"; r=$?
    e=$(count 'DMA map EINVAL (kernel finding)' "$f") m=$(count 'DMA map' "$f") z=$(count 'VFIO_DEVICE_RESET' "$f")
    ((e > 0)) && hit=$((hit + 1))
    grep -aq "race: " "$f" || log "$mode run $i: no race line (exit $r)"
    if ((r != 0)) || ! grep -aq "race: " "$f"; then failed=$((failed + 1)); fi
    einval=$((einval + e)) maps=$((maps + m)) resets=$((resets + z))
    log "$mode run $i: exit $r, EINVAL maps $e of $m, resets $z"
  done
  printf '%s\t%d\t%d\t%d\t%d\t%d\t%d\n' "$mode" "$RUNS" "$hit" "$einval" "$maps" "$resets" "$failed" >> "$RESULTS/rate.tsv"
done
tee -a "$out" < "$RESULTS/rate.tsv"

if [[ ${REPRO_TRACE:-0} == 1 ]]; then
  T=/sys/kernel/tracing
  [[ -e $T/kprobe_events ]] || mount -t tracefs nodev "$T" 2>/dev/null
  probe() { # definition
    if echo "$1" >> "$T/kprobe_events" 2>/dev/null; then echo "ok   $1" >> "$RESULTS/kprobes.txt"
    else echo "fail $1" >> "$RESULTS/kprobes.txt"; fi
  }
  for mode in $MODES; do
    echo 0 > "$T/tracing_on"; echo 0 > "$T/events/enable" 2>/dev/null
    echo > "$T/kprobe_events" 2>/dev/null
    : > "$RESULTS/kprobes.txt"
    # The pin path of a VM_PFNMAP vma (vaddr_get_pfns -> follow_fault_pfn, static, often inlined
    # into vfio_pin_pages_remote), the fault in between, and the reset's zap of the BAR mappings.
    probe 'r:repro/follow_pfnmap_start follow_pfnmap_start ret=$retval:s32'
    probe 'r:repro/fixup_user_fault fixup_user_fault ret=$retval:s32'
    probe 'p:repro/zap vfio_pci_core:vfio_pci_zap_and_down_write_memory_lock'
    probe 'p:repro/zap_bars vfio_pci_core:vfio_pci_zap_bars'
    probe 'r:repro/follow_fault_pfn vfio_iommu_type1:follow_fault_pfn ret=$retval:s32'
    probe 'r:repro/vaddr_get_pfns vfio_iommu_type1:vaddr_get_pfns ret=$retval:s64'
    probe 'r:repro/vfio_pin_pages_remote vfio_iommu_type1:vfio_pin_pages_remote ret=$retval:s64'
    probe 'r:repro/vfio_dma_do_map vfio_iommu_type1:vfio_dma_do_map ret=$retval:s32'
    echo 65536 > "$T/buffer_size_kb"
    echo > "$T/trace"
    # Tracing stops at the first pin of the BAR that ends in -EINVAL, on the deepest level probed.
    for ev in vaddr_get_pfns vfio_pin_pages_remote vfio_dma_do_map; do
      [[ -d $T/events/repro/$ev ]] || continue
      echo 'traceoff if ret == -22' > "$T/events/repro/$ev/trigger" && { echo "trigger on $ev" >> "$RESULTS/kprobes.txt"; break; }
    done
    echo 1 > "$T/events/repro/enable"
    echo 1 > "$T/tracing_on"
    stopped=0
    for i in $(seq 1 "${REPRO_TRACE_RUNS:-$RUNS}"); do
      one "$mode" "$RESULTS/trace-run-$mode-$i.log"
      [[ $(cat "$T/tracing_on") == 0 ]] && { stopped=1; break; }
    done
    echo 0 > "$T/tracing_on"
    cat "$T/trace" > /tmp/trace-all.txt
    log "$mode traced: tracing stopped by an EINVAL: $stopped; $(grep -c ': ' /tmp/trace-all.txt) lines"
    if ((stopped)); then
      # The failing map's thread (the pid on the last line that returned -22) and the resets'
      # zaps, from the buffer's last 4000 lines: the last 60 of those.
      pid=$(grep -a 'ret=-22' /tmp/trace-all.txt | tail -n1 | awk '{print $1}' | sed 's/.*-//')
      tail -n 4000 /tmp/trace-all.txt | awk -v p="-$pid " 'index($0, p) || / zap: /' | tail -n 60 > "$RESULTS/trace-$mode.txt"
    else
      tail -n 200 /tmp/trace-all.txt > "$RESULTS/trace-$mode.txt"
    fi
    echo 0 > "$T/events/repro/enable"
    for ev in vaddr_get_pfns vfio_pin_pages_remote vfio_dma_do_map; do
      [[ -d $T/events/repro/$ev ]] && echo '!traceoff if ret == -22' > "$T/events/repro/$ev/trigger" 2>/dev/null
    done
    echo > "$T/kprobe_events" 2>/dev/null
  done
fi
"$cli" cleanup "$BDF" >> "$out" 2>&1
"$cli" kernel-reports > "$RESULTS/kernel-reports.log" 2>&1
log "kernel reports: $(tail -n1 "$RESULTS/kernel-reports.log")"
exit 0

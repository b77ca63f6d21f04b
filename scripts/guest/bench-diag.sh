#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Diagnostics for scripts/bench.sh's ratios (run like scripts/guest/bench.sh, by
# scripts/vm-test.sh --guest-script scripts/guest/bench-diag.sh with the same binaries):
# the operations where Swift was slower, each in a fresh process on both sides, alternating,
# BENCH_DIAG_REPEAT times (default 3): C (bench -f OP), Swift (vfio-bench -f OP) and Swift's
# raw twin (vfio-bench -x -f OP_raw: the same system calls through LibVFIO's syscall layer alone, without its typed API), with
# BENCH_PAGEMAP=1 (physically contiguous runs of each pinned buffer). Writes $RESULTS/diag.tsv
# (side<TAB>repeat<TAB>the bench line) and diag-pagemap.log. BENCH_DIAG_OPS: operations, comma-separated.
# BENCH_DIAG_VARIANTS=NAME:FILE,...: more Swift builds in the same directory (e.g. the
# vfio-bench of the commit before a fix, before:vfio-bench-before), run after Swift as
# side swift-NAME, for before/after numbers from one boot. BENCH_DIAG_TWINS=OP,...: vfio-bench -x
# twins of an operation (e.g. driver_memcpy_64b_ops:iommufd, driver_memcpy_64b_igb:iommufd: the
# memcpy without VFIOPCIDriver's layer), run after it as side swift-<twin>. With BENCH_DRIVER_BDF
# (the igb of the memcpy operations) and BENCH_EDU_BDF (the edu of driver_memcpy_*_edu), those
# devices are set up and cleaned up too; C -O2 runs as
# side c-O2 when bench-O2 is there.
set -u
BENCH_DIAG_VARIANTS=${BENCH_DIAG_VARIANTS:-}
RESULTS=${VFIO_SELFTESTS_RESULTS:?}
BDF=${VFIO_SELFTESTS_BDF:-0000:00:03.0}
BIN=${VFIO_SELFTESTS_BIN_DIR:?}
cli=$BIN/vfio-selftests
mkdir -p "$RESULTS"
"$cli" modprobe vfio-pci vfio_iommu_type1 iommufd > "$RESULTS/diag-setup.log" 2>&1
"$cli" setup "$BDF" >> "$RESULTS/diag-setup.log" 2>&1 || exit 1
[[ -n ${BENCH_DRIVER_BDF:-} ]] && { "$cli" setup "$BENCH_DRIVER_BDF" >> "$RESULTS/diag-setup.log" 2>&1 || exit 1; }
[[ -n ${BENCH_EDU_BDF:-} ]] && { "$cli" setup "$BENCH_EDU_BDF" >> "$RESULTS/diag-setup.log" 2>&1 || exit 1; }
export BENCH_PAGEMAP=1
: > "$RESULTS/diag.tsv"
ops=${BENCH_DIAG_OPS:-dma_map_unmap_4k:iommufd dma_map_unmap_2m:iommufd dma_map_unmap_2m:vfio_type1_iommu config_read_vendor:iommufd}
ops=${ops//,/ }
for ((n = 1; n <= ${BENCH_DIAG_REPEAT:-3}; n++)); do
  for op in $ops; do
    "$BIN/bench" -d "$BDF" -f "$op" 2>> "$RESULTS/diag-pagemap.log" | sed "s/^/c\t$n\t/" >> "$RESULTS/diag.tsv"
    [[ -x $BIN/bench-O2 ]] && "$BIN/bench-O2" -d "$BDF" -f "$op" 2>> "$RESULTS/diag-pagemap.log" | sed "s/^/c-O2\t$n\t/" >> "$RESULTS/diag.tsv"
    "$BIN/vfio-bench" -d "$BDF" -f "$op" 2>> "$RESULTS/diag-pagemap.log" | sed "s/^/swift\t$n\t/" >> "$RESULTS/diag.tsv"
    for v in ${BENCH_DIAG_VARIANTS//,/ }; do
      "$BIN/${v#*:}" -d "$BDF" -f "$op" 2>> "$RESULTS/diag-pagemap.log" | grep -F "$op	" | sed "s/^/swift-${v%%:*}\t$n\t/" >> "$RESULTS/diag.tsv"
    done
    for twin in ${BENCH_DIAG_TWINS//,/ }; do
      [[ $twin == "${op%%:*}"_* ]] &&
        "$BIN/vfio-bench" -x -d "$BDF" -f "$twin" 2>> "$RESULTS/diag-pagemap.log" | grep -F "$twin	" | sed "s/^/swift-${twin%%:*}\t$n\t/" >> "$RESULTS/diag.tsv"
    done
    raw=${op/:/_raw:}
    [[ $op == *iommufd && $op != *compat* ]] &&
      "$BIN/vfio-bench" -x -d "$BDF" -f "$raw" 2>> "$RESULTS/diag-pagemap.log" | sed "s/^/swift-raw\t$n\t/" >> "$RESULTS/diag.tsv"
  done
done
"$cli" cleanup "$BDF" >> "$RESULTS/diag-setup.log" 2>&1
[[ -n ${BENCH_DRIVER_BDF:-} ]] && "$cli" cleanup "$BENCH_DRIVER_BDF" >> "$RESULTS/diag-setup.log" 2>&1
[[ -n ${BENCH_EDU_BDF:-} ]] && "$cli" cleanup "$BENCH_EDU_BDF" >> "$RESULTS/diag-setup.log" 2>&1
printf '<?xml version="1.0"?><testsuites><testsuite name="bench-diag"><testcase classname="bench.diag" name="ran"/></testsuite></testsuites>\n' > "$RESULTS/junit-diag.xml"
exit 0

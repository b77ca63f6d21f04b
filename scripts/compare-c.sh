#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Side by side with the kernel's own C selftests: the C VFIO and Live Update selftest programs
# of Debian's linux-source-7.3 (built by scripts/build-c-selftests.sh with the selftests' own
# Makefiles) and their Swift twins, on the same devices in the same boot, with one table:
#   program<TAB>test<TAB>C<TAB>Swift<TAB>C s<TAB>Swift s<TAB>note
# (test: the C harness's fixture.variant.test; Swift's names come from `vfio-selftests run`).
# The runner is scripts/guest/compare-c.sh (it says which device each program gets and why the
# driver test runs one process per case). In a guest (default): one vm-test.sh boot with the
# devices below. On bare metal (--bare-metal, as root): on the devices named there, set up and
# cleaned up by the CLI like any run.
# Why: a Swift failure means little until the C original has been seen to pass or fail on the
# same device, kernel and QEMU; this gives both verdicts per test.
# Exit status: 0 when C and Swift agree on every test (ok / not ok / skip), or disagree only on
# tests scripts/compare-c.allow lists (a glob over the test name, TAB, the reason); 1 on any other
# disagreement, an empty table or a guest that did not report; 2 on a usage or build error.
# Usage: scripts/compare-c.sh [--kernel DIR] [--programs "P..."] [--under-test DEV] [--device DEV]...
#                             [--label NAME] [--results DIR] [--timeout S] [--build-only]
#                             [-- vm-test.sh options...]
#        scripts/compare-c.sh --bare-metal BDF [BDF...] [--sriov-pf BDF] [--programs "P..."] [--results DIR]
#   --kernel DIR    guest kernel (default ../shared/kernel, relative to the repo)
#   --programs P    C programs to compare (default: every one of scripts/guest/compare-c.sh's list:
#                   vfio_pci_device_test vfio_iommufd_setup_test vfio_dma_mapping_test
#                   vfio_dma_mapping_mmio_test vfio_pci_device_init_perf_test
#                   vfio_pci_sriov_uapi_test vfio_pci_driver_test liveupdate)
#   --under-test D  vm-test.sh device under test (default virtio-net)
#   --device D      vm-test.sh extra device (default: igb for the driver test and nvme-sriov for
#                   the SR-IOV test; giving any replaces both)
#   --label NAME    results label (default compare-c)
#   --results DIR   results root (default <repo>/results)
#   --timeout S     guest watchdog (default 3000)
#   --build-only    build (or find cached) the C programs and stop
#   --bare-metal    no guest: the first BDF is the device under test, the others extra devices
#   --sriov-pf BDF  (bare metal) the SR-IOV PF for vfio_pci_sriov_uapi_test
#   after --, options passed to vm-test.sh as they are (for example --skip-build, --quiet)
# Env: LINUX_SOURCE_DEB (an already downloaded linux-source .deb: skips apt), FORCE=1 (rebuild C),
#      UAPI_KERNEL (the kernel dir whose uapi-headers.tar.xz the C build uses; default --kernel
#      when it has one, else ../shared/kernel).
# The luo_* kexec programs are not compared yet: they and the Swift kexec suites use the same
# session names (as C does), so both sides cannot hold their sessions across one kexec.
set -u -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
log() { echo "compare-c: $*" >&2; }
die() { log "error: $*"; exit 2; }

kernel=$repo/../shared/kernel programs="" under_test=virtio-net devices=() label=compare-c
results_root=$repo/results timeout_s=3000 vm_args=() build_only=0 bare=() sriov_pf=""
while (($#)); do
  case $1 in
    --kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
    --programs) programs=${2:?--programs needs a value}; shift 2 ;;
    --under-test) under_test=${2:?--under-test needs a value}; shift 2 ;;
    --device) devices+=("${2:?--device needs a value}"); shift 2 ;;
    --label) label=${2:?--label needs a value}; shift 2 ;;
    --results) results_root=${2:?--results needs a value}; shift 2 ;;
    --timeout) timeout_s=${2:?--timeout needs a value}; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --bare-metal) shift; while (($#)) && [[ $1 != -* ]]; do bare+=("$1"); shift; done
      ((${#bare[@]})) || die "--bare-metal needs at least one BDF" ;;
    --sriov-pf) sriov_pf=${2:?--sriov-pf needs a BDF}; shift 2 ;;
    --) shift; vm_args=("$@"); break ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
((${#devices[@]})) || devices=(igb nvme-sriov)
allow=$here/compare-c.allow
[[ -f $allow ]] || die "no $allow"

# ---- the C programs: scripts/build-c-selftests.sh (one build and cache for every C user) ----
uapi_kernel=${UAPI_KERNEL:-}
if [[ -z $uapi_kernel ]]; then
  uapi_kernel=$repo/../shared/kernel
  [[ ${#bare[@]} == 0 && -f $kernel/uapi-headers.tar.xz ]] && uapi_kernel=$kernel
fi
cdir=$("$here/build-c-selftests.sh" --kernel "$uapi_kernel") || die "building the C selftests failed"
for p in $programs; do [[ -x $cdir/$p ]] || die "no C program $p in $cdir"; done
log "C programs in $cdir${programs:+: $programs}"
# The C programs' KTAP is read by the kernel's kunit_parser (scripts/lib/results.py), in the
# guest from this tree's .build-vm/kunit.
"$here/fetch-kunit.sh" >/dev/null || die "scripts/fetch-kunit.sh failed (the C programs' KTAP is read with kunit_parser)"
((build_only)) && exit 0

t0=$SECONDS
if ((${#bare[@]})); then
  # ---- bare metal: the guest runner, here, on the named devices ----
  ((EUID == 0)) || die "--bare-metal needs root (it binds the devices to vfio-pci and back)"
  results=$results_root/$label/bare-metal
  rm -rf "$results"; mkdir -p "$results"
  (cd "$repo" && swift build --build-tests >&2) || die "swift build failed"
  extra=("${bare[@]:1}")
  [[ -n $sriov_pf ]] && extra+=("$sriov_pf")
  VFIO_SELFTESTS_REPO=$repo VFIO_SELFTESTS_RESULTS=$results VFIO_SELFTESTS_BDF=${bare[0]} \
    VFIO_SELFTESTS_EXTRA_BDFS="${extra[*]}" VFIO_SELFTESTS_SRIOV_BDF=$sriov_pf \
    VFIO_SELFTESTS_BIN_DIR=$(cd "$repo" && swift build --show-bin-path) \
    COMPARE_PROGRAMS=${programs// /,} COMPARE_C_DIR=$cdir bash "$here/guest/compare-c.sh"
  run_rc=$?
  where="bare metal ($(uname -r))"
else
  # ---- one guest boot: the C programs, then the Swift suites ----
  [[ -d $kernel ]] || die "--kernel $kernel: no such directory"
  results=$results_root/$label/stage1
  vm_log=$(mktemp)
  trap 'rm -f "$vm_log"' EXIT
  device_args=()
  for d in "${devices[@]}"; do device_args+=(--device "$d"); done
  env_args=(--env "COMPARE_C_DIR=$cdir")
  [[ -n $programs ]] && env_args+=(--env "COMPARE_PROGRAMS=${programs// /,}")
  "$here/vm-test.sh" --kernel "$kernel" --under-test "$under_test" "${device_args[@]}" --label "$label" \
    --results "$results_root" --timeout "$timeout_s" --guest-script scripts/guest/compare-c.sh \
    "${env_args[@]}" "${vm_args[@]}" 2>&1 | tee "$vm_log"
  run_rc=${PIPESTATUS[0]}
  where="$(grep -m1 -o 'QEMU: .*' "$vm_log"); kernel $kernel ($(sed -n 's/^uname_r=//p' "$results/guest-info" 2>/dev/null))"
fi
wall=$((SECONDS - t0))
tsv=$results/compare.tsv
log "$where; the runner exited $run_rc after $wall s"
if [[ ! -s $tsv ]]; then
  # A guest that stalls during the C programs (see --timeout) leaves only the C results so far.
  log "no $tsv: the run did not finish the C programs"
  [[ -s $results/c-results.tsv ]] && { log "C results so far:"; cat "$results/c-results.tsv"; }
  exit 1
fi

# ---- the verdict: C against Swift, per test (a Swift "pending": the guest died before it) ----
column -t -s $'\t' "$tsv" 2>/dev/null | cut -c1-220 || cat "$tsv"
python3 "$here/compare-verdict.py" "$tsv" "$allow" >&2
rc=$?
log "table: $tsv"
exit "$rc"

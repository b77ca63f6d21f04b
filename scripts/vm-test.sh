#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs the vfio-selftests Swift suites inside a QEMU guest (KVM when it works, else TCG; q35 +
# intel-iommu), with the host tree shared read-only over 9p and a read-write 9p share for the results.
# See usage() below. This file parses and checks the options; the work is in scripts/lib/:
# vm-prepare.sh (host tools, QEMU, root, Swift build, kernel, accelerator, the --rootfs payload),
# vm-initramfs.sh (/init, the 9p modules, vm-test.env), vm-qemu.sh (devices, QEMU's command line,
# the boot, its watchdogs and the kexec's stages) and vm-summary.sh (the C comparison and the
# per-stage summary). The guest side is scripts/guest/init.sh (/init) and
# scripts/guest/run-suites.sh. The kernel (--kernel) is resolved by scripts/lib/kernel-dir.sh,
# the accelerator chosen by scripts/lib/accel.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
prog=vm-test

usage() {
  cat <<EOF
Usage: scripts/vm-test.sh [options]
  --kernel debian|DIR|TREE   guest kernel (default: debian = Debian's stock 7.x from
                        trixie-backports, fetched by scripts/fetch-debian-kernel.sh). DIR holds
                        bzImage and modules.tar.xz or lib/modules/<kver>/ (like ../shared/kernel).
                        TREE is a built kernel tree (in-tree, or the make O= dir), used as built
                        with no install step: arch/x86/boot/bzImage and the .ko files that
                        modules.order lists (hard-linked into .build-vm/modules/<key>, depmod'ed).
  --label NAME          results label (default: debian, or the basename of DIR or TREE)
  --stages 1|2          2 = stage 1, kexec into the same kernel, stage 2 (default 1)
  --device edu|edu-bench|nvme-sriov|igb|igb2   extra guest device (repeatable): edu at 0000:00:04.0
                        (edu-bench: the same edu, not listed in VFIO_SELFTESTS_BDFS nor set up:
                        for the benchmark's BENCH_EDU_BDF alone);
                        nvme SR-IOV PF behind a root port at 00:05.0 (appears as 0000:01:00.0,
                        exported as VFIO_SELFTESTS_SRIOV_BDF; vfio-pci gets enable_sriov=1);
                        igb (Intel 82576, QEMU >= 8.0: when the system's QEMU lacks it, a
                        private QEMU 10.0 from bookworm-backports unpacked under .build-vm, the
                        system's QEMU untouched) at 0000:00:06.0; igb2, a second one at 0000:00:08.0 (igb's VFs take slots 22-25).
                        The guest sets every extra device up for vfio-pci too, and lists all
                        devices in VFIO_SELFTESTS_BDFS.
  --env NAME=VALUE      also set NAME in the guest's test environment (repeatable; no spaces)
  --under-test virtio-net|edu|nvme-sriov|igb   the device under test (VFIO_SELFTESTS_BDF in
                        the guest; default virtio-net at 0000:00:03.0); adds it as --device
  --results DIR         results root (default: <repo>/results); this run writes DIR/<label>/
  --memory SIZE         guest memory (default 4G: 1 GiB + 16 MiB of it are reserved as huge pages
                        for the hugetlb variants of vfio_dma_mapping_test)
  --timeout SECONDS     wall-clock watchdog per boot (default 600)
  --boot-timeout SECONDS  the guest must reach its /init within this (default 60, capped by --timeout)
  --filter REGEX        passed to the Swift Testing binary as --filter
  --guest-script PATH   script (relative to the repo) run in the guest chroot instead of
                        scripts/guest/run-suites.sh; same environment, same exit-code contract
  --rootfs              boot a minimal Debian root with no Swift (scripts/build-rootfs.sh, built
                        once, cached under .build-vm/rootfs) instead of the host's: the kselftest
                        package (--package) and the kernel's C install (--c-install) are unpacked
                        there and run with their run_kselftest.sh (scripts/guest/run-kselftest.sh;
                        its --env settings are there); the two KTAP logs are compared by test name
                        (scripts/kselftest-compare.py, scripts/compare-verdict.py) after the boot
  --package TARBALL     with --rootfs: the port's package (default: scripts/package.sh's
                        .build-vm/package/vfio-selftests-kselftest.tar.gz)
  --c-install TARBALL   with --rootfs: the C install (default: scripts/build-c-selftests.sh
                        --gen-tar's .build-vm/c-selftests/kselftest-c.tar.gz)
  --skip-build          do not run swift build
  --keep                keep the work dir (.build-vm/run-<label>)
  --quiet               do not stream the serial console (it is always in <results>/<label>/serial.log)
  --accel auto|kvm|tcg  accelerator (default auto: KVM if a short probe guest boots under it,
                        verdict cached in .build-vm/accel; else TCG). Printed with the reason.
  --tcg-thread single|multi  TCG's threading (default single: multi-threaded TCG stalled guests on
                        a loaded host)
  -h, --help            this text
Env: VFIO_SELFTESTS_STRICT (passed to the guest when set), VFIO_SELFTESTS_BIN_DIR (directory with
  vfio-selftests and, for the default guest script, vfio-selftestsPackageTests.xctest; default
  <repo>/.build/debug),
  VFIO_SELFTESTS_BDF (default 0000:00:03.0, the virtio-net device under test).
The last line printed is "N passed, N failed, N skipped"; the exit status is non-zero on any
failure, on a guest that did not report, or when the watchdog fired.
EOF
}

log() { echo "$prog: $*" >&2; }
die() { echo "$prog: error: $*" >&2; exit 2; }

kernel_arg=debian label="" stages=1 results_root="$repo/results" timeout_s=600 boot_timeout_s=60 filter=""
tcg_thread=single accel=auto skip_build=0 keep=0 quiet=0 devices=() guest_script="" guest_env=() memory=4G under_test=virtio-net
rootfs_mode=0 package="" c_install=""
while (($#)); do
  case $1 in
    --kernel) kernel_arg=${2:?--kernel needs a value}; shift 2 ;;
    --label) label=${2:?--label needs a value}; shift 2 ;;
    --stages) stages=${2:?--stages needs a value}; shift 2 ;;
    --device) devices+=("${2:?--device needs a value}"); shift 2 ;;
    --env) guest_env+=("${2:?--env needs NAME=VALUE}"); shift 2 ;;
    --memory) memory=${2:?--memory needs a value}; shift 2 ;;
    --under-test) under_test=${2:?--under-test needs a device}; shift 2 ;;
    --results) results_root=${2:?--results needs a value}; shift 2 ;;
    --timeout) timeout_s=${2:?--timeout needs a value}; shift 2 ;;
    --boot-timeout) boot_timeout_s=${2:?--boot-timeout needs a value}; shift 2 ;;
    --filter) filter=${2?--filter needs a value}; shift 2 ;;
    --guest-script) guest_script=${2:?--guest-script needs a value}; shift 2 ;;
    --rootfs) rootfs_mode=1; shift ;;
    --package) package=${2:?--package needs a tarball}; shift 2 ;;
    --c-install) c_install=${2:?--c-install needs a tarball}; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    --keep) keep=1; shift ;;
    --quiet) quiet=1; shift ;;
    --tcg-thread) tcg_thread=${2:?--tcg-thread needs single or multi}; shift 2 ;;
    --accel) accel=${2:?--accel needs auto, kvm or tcg}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done
[[ $stages == 1 || $stages == 2 ]] || die "--stages must be 1 or 2"
if ((rootfs_mode)); then
  guest_script=${guest_script:-scripts/guest/run-kselftest.sh}
  package=$(realpath -m "${package:-$repo/.build-vm/package/vfio-selftests-kselftest.tar.gz}")
  c_install=$(realpath -m "${c_install:-$repo/.build-vm/c-selftests/kselftest-c.tar.gz}")
  [[ -f $package ]] || die "--rootfs: no package at $package (build it: scripts/package.sh)"
  [[ -f $c_install ]] || die "--rootfs: no C install at $c_install (build it: scripts/build-c-selftests.sh --gen-tar)"
  skip_build=1
else
  [[ -z $package && -z $c_install ]] || die "--package and --c-install go with --rootfs"
  guest_script=${guest_script:-scripts/guest/run-suites.sh}
fi
[[ -f $repo/$guest_script ]] || die "no guest script $repo/$guest_script"
[[ $tcg_thread == single || $tcg_thread == multi ]] || die "--tcg-thread must be single or multi"
[[ $timeout_s =~ ^[0-9]+$ && $timeout_s -gt 0 ]] || die "--timeout must be a positive number of seconds"
[[ $boot_timeout_s =~ ^[0-9]+$ && $boot_timeout_s -gt 0 ]] || die "--boot-timeout must be a positive number of seconds"
declare -A device_bdf=([virtio-net]=0000:00:03.0 [edu]=0000:00:04.0 [nvme-sriov]=0000:01:00.0 [igb]=0000:00:06.0 [igb2]=0000:00:08.0)
declare -A device_qemu=([edu]=edu [edu-bench]=edu [nvme-sriov]=nvme [igb]=igb [igb2]=igb)
[[ -n ${device_bdf[$under_test]:-} ]] || die "unknown --under-test $under_test (virtio-net, edu, nvme-sriov, igb, igb2)"
[[ $under_test == virtio-net ]] || devices+=("$under_test")
for d in "${devices[@]}"; do [[ -n ${device_qemu[$d]:-} ]] || die "unknown --device $d (edu, edu-bench, nvme-sriov, igb, igb2)"; done
for e in "${guest_env[@]}"; do
  [[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*=[^[:space:]\'\"]*$ ]] || die "--env $e: expected NAME=VALUE with no spaces or quotes"
done
[[ $memory =~ ^[0-9]+[MG]$ ]] || die "--memory must be like 4G or 3072M"
bdf=${VFIO_SELFTESTS_BDF:-${device_bdf[$under_test]}}

# ---- kernel (dir, build tree or debian; relative to the caller's cwd) and accelerator: check
# before anything slow ----
. "$here/lib/kernel-dir.sh"
. "$here/lib/accel.sh"
kernel_resolve "$kernel_arg"
accel_check "$accel"
label=${label:-$kernel_label}
label=${label//[^A-Za-z0-9._+-]/_}

. "$here/lib/vm-prepare.sh"
. "$here/lib/vm-initramfs.sh"
. "$here/lib/vm-qemu.sh"
. "$here/lib/vm-summary.sh"

vm_prepare_host        # host tools, QEMU, root, Swift build, kernel, accelerator (one lock)
vm_qemu_workdir        # .build-vm/run-<label>, removed on exit unless --keep
vm_qemu_devices        # the extra devices: QEMU options, guest BDFs
vm_prepare_payload     # --rootfs: the payload share; the guest's paths
vm_initramfs           # /init, 9p modules, vm-test.env
vm_qemu_results        # <results>/<label>
vm_qemu_cmdline
vm_qemu_run            # boot, watchdogs, stages: sets failed
vm_summary             # sets summary_rc; the last line is "N passed, N failed, N skipped"
((failed || summary_rc)) && exit 1
exit 0

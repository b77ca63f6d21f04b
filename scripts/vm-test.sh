#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs the vfio-selftests Swift suites inside a QEMU guest (KVM when it works, else TCG; q35 +
# intel-iommu), with the host tree shared read-only over 9p and a read-write 9p share for the results.
# See usage() below; the guest side is scripts/guest/init.sh (/init) and scripts/guest/run-suites.sh.
# The kernel (--kernel) is resolved by scripts/lib/kernel-dir.sh, the accelerator chosen by
# scripts/lib/accel.sh.
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
  --device edu|nvme-sriov|igb|igb2   extra guest device (repeatable): edu at 0000:00:04.0;
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
declare -A device_qemu=([edu]=edu [nvme-sriov]=nvme [igb]=igb [igb2]=igb)
[[ -n ${device_bdf[$under_test]:-} ]] || die "unknown --under-test $under_test (virtio-net, edu, nvme-sriov, igb, igb2)"
[[ $under_test == virtio-net ]] || devices+=("$under_test")
for d in "${devices[@]}"; do [[ -n ${device_qemu[$d]:-} ]] || die "unknown --device $d (edu, nvme-sriov, igb, igb2)"; done
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

# ---- host tools: install what is missing (Debian/Ubuntu) ----
# Several vm-test.sh runs may start at once (.ci/run boots its kernels in parallel): the host
# preparation (apt, the private QEMU, the Debian kernel, the modules cache) is done under one lock,
# released before the boot.
mkdir -p "$repo/.build-vm"
[[ -e $repo/.build-vm/.gitignore ]] || echo '*' > "$repo/.build-vm/.gitignore"
exec {prep_lock}>"$repo/.build-vm/.prepare.lock"
flock "$prep_lock"
sudo_cmd=(); ((EUID == 0)) || sudo_cmd=(sudo)
PATH=$PATH:/usr/sbin:/sbin
declare -A pkg_of=([qemu-system-x86_64]=qemu-system-x86 [busybox]=busybox-static [kexec]=kexec-tools
  [cpio]=cpio [xz]=xz-utils [depmod]=kmod [python3]=python3 [gzip]=gzip [timeout]=coreutils)
missing=()
for c in "${!pkg_of[@]}"; do command -v "$c" >/dev/null || missing+=("${pkg_of[$c]}"); done
if command -v busybox >/dev/null; then
  ldd_out=$(LC_ALL=C ldd "$(command -v busybox)" 2>&1 || true)
  [[ $ldd_out == *"not a dynamic"* || $ldd_out == *statically* ]] || missing+=(busybox-static)
fi
if ((${#missing[@]})); then
  log "installing: ${missing[*]}"
  . "$here/lib/apt-install.sh"
  apt_install "${missing[@]}" || die "cannot install ${missing[*]}"
fi
# The QEMU to run: the system's, or (when it lacks a wanted device) a private 10.0 unpacked
# under .build-vm (see lib/qemu-backports.sh): qemu_bin, qemu_env, qemu_data.
wanted=()
for d in "${devices[@]}"; do wanted+=("${device_qemu[$d]}"); done
. "$here/lib/qemu-backports.sh"
ensure_qemu_devices "$repo/.build-vm/qemu-$qemu_backports_suite" "${wanted[@]}" || die "QEMU cannot provide: ${wanted[*]}"
log "QEMU: $(env "${qemu_env[@]}" "$qemu_bin" --version | head -n1) ($qemu_bin)"
busybox_bin=$(command -v busybox)
kexec_bin=$(command -v kexec)
if ((rootfs_mode)); then
  rootfs=$("$here/build-rootfs.sh") || die "scripts/build-rootfs.sh failed"
  log "guest root: $rootfs (no Swift)"
fi

# libkmod in the guest looks in /lib/modules/$(uname -r): /init bind-mounts the prepared modules
# over /lib/modules, which therefore has to exist on the (read-only shared) host tree.
if ((rootfs_mode == 0)) && [[ ! -d /lib/modules ]]; then
  log "creating the empty directory /lib/modules on the host (the guest bind-mounts its modules there)"
  "${sudo_cmd[@]}" mkdir -p /lib/modules || die "cannot create /lib/modules"
fi

# ---- Swift products ----
bin_dir=${VFIO_SELFTESTS_BIN_DIR:-$repo/.build/debug}
if ((skip_build == 0)); then
  [[ -f $repo/Package.swift ]] || die "no Package.swift in $repo (use --skip-build with VFIO_SELFTESTS_BIN_DIR)"
  log "swift build --build-tests"
  (cd "$repo" && swift build --build-tests) || die "swift build --build-tests failed"
  log "swift build --product vfio-selftests"
  (cd "$repo" && swift build --product vfio-selftests) || die "swift build --product vfio-selftests failed"
fi
if ((rootfs_mode)); then bin_dir=/nonexistent; else
bin_dir=$(cd "$bin_dir" 2>/dev/null && pwd -P) || die "binary dir ${VFIO_SELFTESTS_BIN_DIR:-$repo/.build/debug} does not exist (build first)"
fi
# The test binary is run-suites.sh's; another --guest-script (such as scripts/guest/bench.sh, with
# release binaries in VFIO_SELFTESTS_BIN_DIR) needs only the CLI.
needed_bins=(vfio-selftests)
[[ $guest_script == scripts/guest/run-suites.sh ]] && needed_bins+=(vfio-selftestsPackageTests.xctest)
((rootfs_mode)) && needed_bins=()
for b in "${needed_bins[@]}"; do
  [[ -x $bin_dir/$b ]] || die "missing $bin_dir/$b (build first, or drop --skip-build)"
done

# ---- kernel: fetch (debian), prepare modules (cached); the accelerator (probed once, cached) ----
kernel_prepare "$repo/.build-vm"
accel_choose "$accel" "$repo/.build-vm" "$bzimage" "$busybox_bin" "$tcg_thread"
flock -u "$prep_lock"
log "kernel $label: $bzimage ($kver), modules $moddir/$kver"
log "accelerator: $accel_line"

# ---- work dir, initramfs ----
work=$repo/.build-vm/run-$label
rm -rf "$work"; mkdir -p "$work"
qpid="" tailpid="" qticks=0
cleanup() {
  if [[ -n $qpid ]]; then kill "$qpid" 2>/dev/null || true; fi
  if [[ -n $tailpid ]]; then kill "$tailpid" 2>/dev/null || true; fi
  ((keep)) || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ird=$work/initramfs
mkdir -p "$ird"/{bin,sbin,dev,proc,sys,host,modules,tmp}
cp "$busybox_bin" "$ird/bin/busybox"
for a in $("$busybox_bin" --list); do [[ -e $ird/bin/$a ]] || ln -s busybox "$ird/bin/$a"; done
((EUID == 0)) && mknod -m 600 "$ird/dev/console" c 5 1
cp "$here/guest/init.sh" "$ird/init"; chmod 755 "$ird/init"

# 9p bootstrap modules when 9p is modular (Debian): decompressed, in dependency order.
declare -A seen=()
order=()
add_mod() { # $1 = path relative to lib/modules/<kver>, as in modules.dep
  local rel=$1 deps d i
  [[ -n ${seen[$rel]:-} ]] && return 0
  seen[$rel]=1
  deps=$(awk -v m="$rel:" '$1 == m { $1 = ""; print; exit }' "$moddir/$kver/modules.dep")
  read -r -a d <<<"$deps"
  for ((i = ${#d[@]} - 1; i >= 0; i--)); do add_mod "${d[i]}"; done
  order+=("$rel")
}
for m in netfs 9pnet 9pnet_virtio 9p; do
  rel=$(awk -v m="$m" '{ p = $1; sub(":$", "", p); n = p; sub(".*/", "", n); sub("\\.ko(\\.(xz|gz|zst))?$", "", n);
        if (n == m) { print p; exit } }' "$moddir/$kver/modules.dep")
  [[ -n $rel ]] && add_mod "$rel"
done
: > "$ird/modules/order"
for rel in "${order[@]}"; do
  f=$moddir/$kver/$rel base=$(basename "$rel"); base=${base%%.ko*}.ko
  case $rel in
    *.ko.xz) xz -dc "$f" > "$ird/modules/$base" ;;
    *.ko.gz) gzip -dc "$f" > "$ird/modules/$base" ;;
    *.ko.zst) zstd -qdc "$f" > "$ird/modules/$base" ;;
    *) cp "$f" "$ird/modules/$base" ;;
  esac
  echo "$base" >> "$ird/modules/order"
done
((${#order[@]})) && log "9p bootstrap modules in the initramfs: $(tr '\n' ' ' < "$ird/modules/order")"

# Where the guest mounts the results share, and whether tmpfs may cover /tmp and /run: never
# over a directory that holds the repo, the binaries, the kernel or the modules.
needed=("$repo" "$bin_dir" "$kdir" "$mcache" "$work")
# With --rootfs the guest sees only its own root and the payload share: nothing of the host's.
((rootfs_mode)) && needed=()
under() { local p; for p in "${needed[@]}"; do [[ $p == "$1" || $p == "$1"/* ]] && return 0; done; return 1; }
tmpfs_tmp=1 tmpfs_run=1
under /tmp && tmpfs_tmp=0
under /run && tmpfs_run=0
results_mnt=""
for c in /media /mnt /srv; do
  [[ -d $c ]] && ! under "$c" && { results_mnt=$c; break; }
done
[[ -n $results_mnt ]] || die "no free mount point for the results share (/media, /mnt or /srv)"
guest_tmp=/tmp; ((tmpfs_tmp)) || guest_tmp=/dev/shm

# Extra devices: where each appears in the guest (set up for vfio-pci there, listed in
# VFIO_SELFTESTS_BDFS); the SR-IOV PF also as VFIO_SELFTESTS_SRIOV_BDF.
extra_bdfs=() sriov_bdf="" device_args=()
declare -A added=()
for d in "${devices[@]}"; do
  [[ -n ${added[$d]:-} ]] && continue; added[$d]=1
  case $d in
    edu) device_args+=(-device edu,addr=04.0); extra_bdfs+=(0000:00:04.0) ;;
    igb) device_args+=(-device igb,addr=06.0,netdev=n1 -netdev user,id=n1); extra_bdfs+=(0000:00:06.0) ;;
    igb2) device_args+=(-device igb,addr=08.0,netdev=n2 -netdev user,id=n2); extra_bdfs+=(0000:00:08.0) ;;
    nvme-sriov) device_args+=(-device pcie-root-port,id=rp1,bus=pcie.0,addr=05.0 -device nvme-subsys,id=subsys0
      -device nvme,serial=deadbeef,subsys=subsys0,sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2,bus=rp1)
      extra_bdfs+=(0000:01:00.0); sriov_bdf=0000:01:00.0 ;;
  esac
done
# The device under test is VFIO_SELFTESTS_BDF; every other device (the virtio-net too, when it is
# not under test) is an extra one.
others=()
[[ $bdf == "${device_bdf[virtio-net]}" ]] || others+=("${device_bdf[virtio-net]}")
for b in "${extra_bdfs[@]}"; do [[ $b == "$bdf" ]] || others+=("$b"); done
extra_bdfs=("${others[@]}")

shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
# --rootfs: what the guest needs from the host comes through one read-only share, the payload
# (mounted at /opt/vfio-selftests in the guest root): the modules, the kernel and initramfs for
# the kexec, the two installs and the guest script.
guest_repo=$repo guest_bin=$bin_dir guest_moddir=$moddir guest_kexec_bin=$kexec_bin
guest_kexec_kernel=$bzimage guest_kexec_initrd=$work/initramfs.cpio.gz guest_script_path=$guest_script
if ((rootfs_mode)); then
  payload=$work/payload
  mkdir -p "$payload/modules" "$payload/boot"
  cp -al "$moddir"/. "$payload/modules/" 2>/dev/null || cp -a "$moddir"/. "$payload/modules/"
  cp "$bzimage" "$payload/boot/bzImage"
  ln "$package" "$payload/kselftest-swift.tar.gz" 2>/dev/null || cp "$package" "$payload/kselftest-swift.tar.gz"
  ln "$c_install" "$payload/kselftest-c.tar.gz" 2>/dev/null || cp "$c_install" "$payload/kselftest-c.tar.gz"
  cp "$repo/$guest_script" "$payload/$(basename "$guest_script")"
  guest_repo=/opt/vfio-selftests guest_bin=/opt/vfio-selftests guest_moddir=/opt/vfio-selftests/modules
  guest_kexec_bin=/sbin/kexec guest_kexec_kernel=/opt/vfio-selftests/boot/bzImage
  guest_kexec_initrd=/opt/vfio-selftests/boot/initramfs.cpio.gz guest_script_path=$(basename "$guest_script")
fi
{
  echo "REPO=$(shq "$guest_repo")"
  echo "BIN_DIR=$(shq "$guest_bin")"
  echo "ROOTFS=$rootfs_mode"
  echo "KERNEL_LABEL=$(shq "$label")"
  echo "BDF=$(shq "$bdf")"
  echo "STAGES=$stages"
  echo "FILTER=$(shq "$filter")"
  echo "GUEST_SCRIPT=$(shq "$guest_script_path")"
  echo "EXTRA_BDFS=$(shq "${extra_bdfs[*]}")"
  echo "SRIOV_BDF=$(shq "$sriov_bdf")"
  echo "GUEST_ENV=$(shq "${guest_env[*]}")"
  echo "STRICT_SET=${VFIO_SELFTESTS_STRICT+1}"
  echo "STRICT=$(shq "${VFIO_SELFTESTS_STRICT:-}")"
  echo "MODULES_DIR=$(shq "$guest_moddir")"
  echo "RESULTS_MNT=$(shq "$results_mnt")"
  echo "TMPFS_TMP=$tmpfs_tmp"
  echo "TMPFS_RUN=$tmpfs_run"
  echo "GUEST_PATH=$(shq "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH")"
  echo "GUEST_HOME=$(shq "$guest_tmp")"
  echo "GUEST_TMP=$(shq "$guest_tmp")"
  echo "KEXEC_BIN=$(shq "$guest_kexec_bin")"
  echo "KEXEC_KERNEL=$(shq "$guest_kexec_kernel")"
  echo "KEXEC_INITRD=$(shq "$guest_kexec_initrd")"
} > "$ird/vm-test.env"
(cd "$ird" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.cpio.gz"
((rootfs_mode)) && cp "$work/initramfs.cpio.gz" "$payload/boot/initramfs.cpio.gz"

# ---- results dir ----
mkdir -p "$results_root"
[[ $results_root == "$repo/results" && ! -e $results_root/.gitignore ]] && echo '*' > "$results_root/.gitignore"
results=$(cd "$results_root" && pwd -P)/$label
rm -rf "$results/stage1" "$results/stage2" "$results"/serial*.log "$results/qemu.log"
mkdir -p "$results"
serial=$results/serial.log
: > "$serial"

# ---- boot ----
append="console=ttyS0 intel_iommu=on panic=-1 quiet"
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
((rootfs_mode)) && qemu+=(-fsdev "local,id=fspayload,path=$payload,security_model=none,readonly=on,multidevs=remap"
  -device virtio-9p-pci,fsdev=fspayload,mount_tag=payload,addr=12.0)
printf '%q ' "${qemu[@]}" > "$results/qemu-cmdline"; echo >> "$results/qemu-cmdline"

boot() { # sets t0 t1 qrc fired cur_stage
  rm -rf "$results/stage1" "$results/stage2"
  : > "$serial"
  t0=$(date +%s.%N)
  "${qemu[@]}" </dev/null >"$results/qemu.log" 2>&1 &
  qpid=$!
  if ((quiet == 0)); then tail -n +1 -F --pid="$qpid" "$serial" 2>/dev/null & tailpid=$!; fi
  fired=0 fired_boot=0 cur_stage=1
  # Two deadlines per boot: reach /init (stageN/booted) within boot_timeout_s, report within
  # timeout_s. Stage 2's clock starts when stage 1 reports (kexec follows).
  local boot_start=$SECONDS s
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

log "booting $label ($stages stage(s), watchdog ${timeout_s} s per boot); serial log: $serial"
boot
# Under TCG (multi-threaded) a guest kernel very rarely oopses while patching its own text during
# early boot ("Oops: int3"), before /init runs. Retry such a boot once.
if ((fired == 0)) && [[ ! -e $results/stage1/booted ]] && grep -q 'Kernel panic' "$serial" && ! grep -q '^vm-test-init:' "$serial"; then
  cp "$serial" "$results/serial.attempt1.log"
  log "the guest kernel panicked before /init ran ($(grep -m1 -oE 'Oops: [^[]*|Kernel panic[^[]*' "$serial" | head -n1)); retrying the boot once (first log: $results/serial.attempt1.log)"
  boot
fi

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
timing="QEMU ran $(elapsed "$t0" "$t1") s wall, $(awk -v t="${qticks:-0}" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", t / hz }') s CPU"
for s in $(seq 1 "$stages"); do
  f=$results/stage$s/exit-code
  [[ -e $f ]] && timing+="; stage $s reported at +$(elapsed "$t0" "$(stat -c %.3Y "$f")") s"
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
  missing_stage=0
  for s in $(seq 1 "$stages"); do [[ -e $results/stage$s/exit-code ]] || { missing_stage=$s; break; }; done
  if ((missing_stage)); then
    log "guest did not report (kernel $label, stage $missing_stage): QEMU exited $qrc; serial log: $serial"
    [[ -s $results/qemu.log ]] && { echo "---- QEMU said ----" >&2; tail -n 20 "$results/qemu.log" >&2; }
    echo "---- last 30 lines of $serial ----" >&2; tail -n 30 "$serial" >&2; echo "----" >&2
    failed=1
  fi
fi

((keep)) && log "work dir kept: $work"
stage_dirs=()
for s in $(seq 1 "$stages"); do stage_dirs+=("$results/stage$s"); done
summary_rc=0
# --rootfs: C against the port by test name, per stage (the guest ran both installs).
if ((rootfs_mode)); then
  for d in "${stage_dirs[@]}"; do
    c_files=() swift_files=()
    for f in c c-kexec; do [[ -s $d/$f.ktap ]] && c_files+=(--c "$d/$f.ktap"); done
    for f in swift swift-kexec; do [[ -s $d/$f.ktap ]] && swift_files+=(--swift "$d/$f.ktap"); done
    [[ -s $d/swift-only.ktap ]] && swift_files+=(--swift-only "$d/swift-only.ktap")
    ((${#c_files[@]} + ${#swift_files[@]})) || continue
    python3 "$here/kselftest-compare.py" "${c_files[@]}" "${swift_files[@]}" --tsv "$d/compare.tsv" --junit "$d/junit-kselftest.xml" >&2 || summary_rc=1
    echo "== $(basename "$d"): C against the port (run_kselftest.sh, by name)" >&2
    python3 "$here/compare-verdict.py" "$d/compare.tsv" "$here/compare-c.allow" | tee "$d/compare-verdict.log" >&2 || summary_rc=1
  done
fi
python3 "$here/junit-summary.py" "${stage_dirs[@]}" || summary_rc=$?
((failed || summary_rc)) && exit 1
exit 0

# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash disable=SC2034,SC2154  # the globals vm-test.sh and the other vm-*.sh share
# Sourced by vm-test.sh: the host preparation, before anything boots. Uses vm-test.sh's globals
# (here = scripts/, repo, the parsed options, device_qemu) and its log and die.
#   vm_prepare_host      under .build-vm/.prepare.lock: installs the missing host tools (Debian/
#                        Ubuntu), picks the QEMU (lib/qemu-backports.sh: qemu_bin, qemu_env,
#                        qemu_data), builds the minimal root (--rootfs: rootfs), fetches kunit.py
#                        (scripts/fetch-kunit.sh, for scripts/lib/results.py), creates
#                        /lib/modules for the guest's bind mount, builds the Swift products
#                        (bin_dir), fetches and prepares the kernel (lib/kernel-dir.sh: bzimage,
#                        kver, moddir, mcache) and chooses the accelerator (lib/accel.sh:
#                        accel_args, accel_line); then releases the lock.
#   vm_prepare_payload   --rootfs: the read-only share the guest root gets from the host (payload:
#                        the modules, the kernel for the kexec, the two installs, the guest
#                        script), and the guest_* paths of vm-test.env for either mode.

vm_prepare_host() {
  # Several vm-test.sh runs may start at once (.ci/run boots its kernels in parallel): the host
  # preparation (apt, the private QEMU, the Debian kernel, the modules cache) is done under one
  # lock, released before the boot.
  mkdir -p "$repo/.build-vm"
  [[ -e $repo/.build-vm/.gitignore ]] || echo '*' > "$repo/.build-vm/.gitignore"
  exec {prep_lock}>"$repo/.build-vm/.prepare.lock"
  flock "$prep_lock"
  sudo_cmd=(); ((EUID == 0)) || sudo_cmd=(sudo)
  PATH=$PATH:/usr/sbin:/sbin
  vm_prepare_tools
  # The QEMU to run: the system's, or (when it lacks a wanted device) a private 10.0 unpacked
  # under .build-vm (see lib/qemu-backports.sh): qemu_bin, qemu_env, qemu_data.
  local wanted=() d
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

  # The kernel's KTAP parser (kunit_parser, scripts/fetch-kunit.sh, cached): the summary's C
  # comparison (--rootfs) and the guest's scripts (compare-c.sh, cli-acceptance.sh, check-ktap.sh,
  # from this tree) read KTAP with it through scripts/lib/results.py.
  "$here/fetch-kunit.sh" >/dev/null || die "scripts/fetch-kunit.sh failed (KTAP is read with the kernel's kunit_parser)"

  # libkmod in the guest looks in /lib/modules/$(uname -r): /init bind-mounts the prepared modules
  # over /lib/modules, which therefore has to exist on the (read-only shared) host tree.
  if ((rootfs_mode == 0)) && [[ ! -d /lib/modules ]]; then
    log "creating the empty directory /lib/modules on the host (the guest bind-mounts its modules there)"
    "${sudo_cmd[@]}" mkdir -p /lib/modules || die "cannot create /lib/modules"
  fi

  vm_prepare_swift

  # The kernel: fetch (debian), prepare modules (cached); the accelerator (probed once, cached).
  kernel_prepare "$repo/.build-vm"
  accel_choose "$accel" "$repo/.build-vm" "$bzimage" "$busybox_bin" "$tcg_thread"
  flock -u "$prep_lock"
  log "kernel $label: $bzimage ($kver), modules $moddir/$kver"
  log "accelerator: $accel_line"
}

# vm_prepare_tools: the host tools vm-test.sh runs, installed when missing (Debian/Ubuntu); the
# busybox copied into the initramfs must be a static one.
vm_prepare_tools() {
  local -A pkg_of=([qemu-system-x86_64]=qemu-system-x86 [busybox]=busybox-static [kexec]=kexec-tools
    [cpio]=cpio [xz]=xz-utils [depmod]=kmod [python3]=python3 [gzip]=gzip [timeout]=coreutils)
  local missing=() c ldd_out
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
}

# vm_prepare_swift: builds the Swift products (unless --skip-build or --rootfs) and checks that
# the guest script's binaries are in bin_dir (VFIO_SELFTESTS_BIN_DIR, default .build/debug).
vm_prepare_swift() {
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
  # The test binary is run-suites.sh's; another --guest-script (such as scripts/guest/bench.sh,
  # with release binaries in VFIO_SELFTESTS_BIN_DIR) needs only the CLI.
  local needed_bins=(vfio-selftests) b
  [[ $guest_script == scripts/guest/run-suites.sh ]] && needed_bins+=(vfio-selftestsPackageTests.xctest)
  ((rootfs_mode)) && needed_bins=()
  for b in "${needed_bins[@]}"; do
    [[ -x $bin_dir/$b ]] || die "missing $bin_dir/$b (build first, or drop --skip-build)"
  done
}

vm_prepare_payload() {
  # --rootfs: what the guest needs from the host comes through one read-only share, the payload
  # (mounted at /opt/vfio-selftests in the guest root): the modules, the kernel and initramfs for
  # the kexec, the two installs and the guest script.
  guest_repo=$repo guest_bin=$bin_dir guest_moddir=$moddir guest_kexec_bin=$kexec_bin
  guest_kexec_kernel=$bzimage guest_kexec_initrd=$work/initramfs.cpio.gz guest_script_path=$guest_script
  payload=""
  ((rootfs_mode)) || return 0
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
}

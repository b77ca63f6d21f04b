# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash disable=SC2034,SC2154  # the globals vm-test.sh and the other vm-*.sh share
# Sourced by vm-test.sh: the guest's initramfs, built in the work dir. Uses vm-test.sh's globals
# (here = scripts/, repo, work, the parsed options, what lib/vm-prepare.sh and lib/vm-qemu.sh's
# vm_qemu_devices set) and its log and die.
#   vm_initramfs   WORK/initramfs: a static busybox, scripts/guest/init.sh as /init, the 9p
#                  bootstrap modules when 9p is modular, and vm-test.env (everything /init and the
#                  guest script read: the repo, binaries, stages, devices, environment, mount
#                  points, the kexec's kernel and initramfs); packed as WORK/initramfs.cpio.gz
#                  (and copied into the --rootfs payload for the kexec).

vm_initramfs() {
  ird=$work/initramfs
  mkdir -p "$ird"/{bin,sbin,dev,proc,sys,host,modules,tmp}
  cp "$busybox_bin" "$ird/bin/busybox"
  local a
  for a in $("$busybox_bin" --list); do [[ -e $ird/bin/$a ]] || ln -s busybox "$ird/bin/$a"; done
  ((EUID == 0)) && mknod -m 600 "$ird/dev/console" c 5 1
  cp "$here/guest/init.sh" "$ird/init"; chmod 755 "$ird/init"
  vm_initramfs_9p_modules
  vm_initramfs_mounts
  vm_initramfs_env > "$ird/vm-test.env"
  (cd "$ird" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.cpio.gz"
  if ((rootfs_mode)); then cp "$work/initramfs.cpio.gz" "$payload/boot/initramfs.cpio.gz"; fi
}

# vm_initramfs_9p_modules: the 9p bootstrap modules when 9p is modular (Debian): decompressed, in
# dependency order, listed in /modules/order.
vm_initramfs_9p_modules() {
  local -A seen=()
  local order=() m rel f base
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
  unset -f add_mod
  return 0
}

# vm_initramfs_mounts: where the guest mounts the results share (results_mnt), and whether tmpfs
# may cover /tmp and /run (tmpfs_tmp, tmpfs_run, guest_tmp): never over a directory that holds
# the repo, the binaries, the kernel or the modules.
vm_initramfs_mounts() {
  local needed=("$repo" "$bin_dir" "$kdir" "$mcache" "$work") c
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
  unset -f under
  [[ -n $results_mnt ]] || die "no free mount point for the results share (/media, /mnt or /srv)"
  guest_tmp=/tmp; ((tmpfs_tmp)) || guest_tmp=/dev/shm
}

shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# vm_initramfs_env: vm-test.env on stdout (sourced by /init and the guest script).
vm_initramfs_env() {
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
}

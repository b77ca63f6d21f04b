#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds a Live Update / iommufd / VFIO-cdev test guest kernel from Debian's linux-source-7.x
# (trixie-backports) and lays it out like ../shared/kernel, usable as `vm-test.sh --kernel OUTDIR`:
#   bzImage, modules.tar.xz (lib/modules/<kver>/, uncompressed .ko, modules.dep), uapi-headers.tar.xz,
#   config, luo-test.config, VERSION.
# Config: x86_64_defconfig + kernel/configs/kvm_guest.config + scripts/kernel-config/luo-test.config.
# Usage: build-test-kernel.sh [--check-apt] [OUTDIR]   (default OUTDIR: <repo>/.build-vm/kernels/luo-test)
#   --check-apt   only resolve the source package in the private apt view and print it (no download)
# Env: KERNEL_SUITE (default trixie-backports), KERNEL_SOURCE_PKG (default: newest linux-source-7.*),
#      JOBS (default nproc), KEEP_WORK=1 (keep the work dir .build-vm/kbuild.XXXXXX; its build/ is
#      the O= build tree, bootable as is with `vm-test.sh --kernel .build-vm/kbuild.XXXXXX/build`).
# Needs (installed when missing): build-essential flex bison bc libelf-dev libssl-dev dwarves rsync
# xz-utils cpio kmod. About 45 min on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
check_only=0
[[ ${1:-} == --check-apt ]] && { check_only=1; shift; }
out=${1:-$repo/.build-vm/kernels/luo-test}
suite=${KERNEL_SUITE:-trixie-backports}
fragment=$here/kernel-config/luo-test.config
log() { echo "build-test-kernel: $*" >&2; }
[[ -r $fragment ]] || { log "missing $fragment"; exit 1; }

mkdir -p "$repo/.build-vm"
[[ -e $repo/.build-vm/.gitignore ]] || echo '*' > "$repo/.build-vm/.gitignore"
work=$(mktemp -d "$repo/.build-vm/kbuild.XXXXXX")
[[ -n ${KEEP_WORK:-} ]] || trap 'rm -rf "$work"' EXIT

. "$here/lib/debian-apt-view.sh"
debian_apt_view "$work" "$suite"
pkg=${KERNEL_SOURCE_PKG:-$(apt-cache "${apt_opts[@]}" pkgnames linux-source- |
  grep -E '^linux-source-7\.[0-9]+$' | sort -V | tail -n1 || true)}
[[ -n $pkg ]] || { log "no linux-source-7.x in $suite"; exit 1; }
ver=$(apt-cache "${apt_opts[@]}" show "$pkg" 2>/dev/null | awk '/^Version:/ {print $2; exit}')
[[ -n $ver ]] || { log "$pkg not found in $suite"; exit 1; }
log "source package: $pkg $ver ($uri $suite)"
((check_only)) && exit 0

need=()
for p in build-essential flex bison bc libelf-dev libssl-dev dwarves rsync xz-utils cpio kmod; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
  sudo_cmd=(); ((EUID == 0)) || sudo_cmd=(sudo)
  log "installing: ${need[*]}"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

(cd "$work" && apt-get "${apt_opts[@]}" download -qq "$pkg")
dpkg-deb -x "$work"/"$pkg"_*.deb "$work/deb"
tar -C "$work" -xJf "$work/deb/usr/src/$pkg.tar.xz"
src="$work/$pkg"
build="$work/build"

make -C "$src" O="$build" x86_64_defconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" \
  "$src/kernel/configs/kvm_guest.config" "$fragment" >/dev/null
make -C "$src" O="$build" olddefconfig >/dev/null
# Every option the fragment sets must have survived olddefconfig.
bad=0
while read -r opt; do
  grep -qx "$opt" "$build/.config" || { log "missing after olddefconfig: $opt"; bad=1; }
done < <(grep -E '^CONFIG_[A-Z0-9_]+=[ym]$' "$fragment")
((bad == 0)) || exit 1

make -C "$src" O="$build" -j"${JOBS:-$(nproc)}" bzImage modules
stage="$work/stage"
make -C "$src" O="$build" modules_install INSTALL_MOD_PATH="$stage" INSTALL_MOD_STRIP=1 >/dev/null
make -C "$src" O="$build" headers_install INSTALL_HDR_PATH="$stage/usr" >/dev/null

kver=$(cat "$build/include/config/kernel.release")
rm -f "$stage/lib/modules/$kver/build" "$stage/lib/modules/$kver/source"
[[ -s $stage/lib/modules/$kver/modules.dep ]] || depmod -b "$stage" "$kver"
rm -rf "$out.new"; mkdir -p "$out.new"
cp "$build/arch/x86/boot/bzImage" "$out.new/bzImage"
cp "$build/.config" "$out.new/config"
cp "$fragment" "$out.new/luo-test.config"
tar -C "$stage" -cJf "$out.new/modules.tar.xz" lib/modules
tar -C "$stage/usr" -cJf "$out.new/uapi-headers.tar.xz" include
( cd "$out.new" && { echo "release: $kver"; echo "source: Debian $pkg $ver ($suite)";
  sha256sum bzImage modules.tar.xz uapi-headers.tar.xz config; } > VERSION )
rm -rf "$out"; mv "$out.new" "$out"
log "built $kver into $out (use: scripts/vm-test.sh --kernel $out)"
[[ -n ${KEEP_WORK:-} ]] && log "build tree kept: $build (source $src; use: scripts/vm-test.sh --kernel $build)"
exit 0

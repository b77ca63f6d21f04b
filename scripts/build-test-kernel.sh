#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds a Live Update / iommufd / VFIO-cdev test guest kernel from Debian's linux-source-7.x
# (trixie-backports) and lays it out like ../shared/kernel, usable as `vm-test.sh --kernel OUTDIR`:
#   bzImage, modules.tar.xz (lib/modules/<kver>/, uncompressed .ko, modules.dep), uapi-headers.tar.xz,
#   config, luo-test.config (or base.config with --config), patches/, VERSION.
# Config: x86_64_defconfig + kernel/configs/kvm_guest.config + scripts/kernel-config/luo-test.config,
# or (--config) a whole .config such as ../shared/kernel/config, then olddefconfig.
# Usage: build-test-kernel.sh [--check-apt] [--config FILE] [--patch FILE|DIR]... [OUTDIR]
#        (default OUTDIR: <repo>/.build-vm/kernels/luo-test)
#   --check-apt   only resolve the source package in the private apt view and print it (no download)
#   --config FILE start from this .config instead of the defconfig and fragments: a lab kernel's
#                 config gives a kernel that differs from that lab kernel only by the patches
#   --patch FILE  apply this patch (git format-patch or plain diff, -p1) to the source before the
#                 build; repeatable, applied in the order given; a directory means its *.patch in
#                 name order. VERSION lists each patch (subject and sha256). A patch under
#                 docs/findings/patches/ is a finding's fix: its name (without .patch) joins the
#                 kernel release after a "+" (uname -r: 7.3.4+type1-pfnmap-retry), which is how
#                 the suites know the kernel carries the fix and stop treating the finding as known.
# Env: KERNEL_SUITE (default trixie-backports), KERNEL_SOURCE_PKG (default: newest linux-source-7.*),
#      LINUX_SOURCE_DEB (a downloaded linux-source .deb: no apt), JOBS (default nproc),
#      KEEP_WORK=1 (keep the work dir .build-vm/kbuild.XXXXXX; its build/ is the O= build tree,
#      bootable as is with `vm-test.sh --kernel .build-vm/kbuild.XXXXXX/build`).
# Example, a finding's fix on top of the lab's kernel (docs/findings/):
#   scripts/build-test-kernel.sh --config ../shared/kernel/config \
#     --patch docs/findings/patches/type1-pfnmap-retry.patch .build-vm/kernels/type1-fix
# Needs (installed when missing): build-essential flex bison bc libelf-dev libssl-dev dwarves rsync
# xz-utils cpio kmod patch. About 45 min on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
log() { echo "build-test-kernel: $*" >&2; }
check_only=0 base_config="" patches=()
while (($#)); do
  case $1 in
    --check-apt) check_only=1 ;;
    --config) base_config=$(realpath -e "${2:?--config needs a file}") || exit 1; shift ;;
    --patch)
      p=${2:?--patch needs a file or directory}; shift
      if [[ -d $p ]]; then
        mapfile -t found < <(find "$p" -maxdepth 1 -name '*.patch' | sort)
        ((${#found[@]})) || { log "no *.patch in $p"; exit 1; }
        for f in "${found[@]}"; do patches+=("$(realpath "$f")"); done
      else
        patches+=("$(realpath -e "$p")") || exit 1
      fi ;;
    -h|--help) sed -n '3,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    -*) log "unknown option $1"; exit 2 ;;
    *) break ;;
  esac
  shift
done
out=${1:-$repo/.build-vm/kernels/luo-test}
suite=${KERNEL_SUITE:-trixie-backports}
fragment=$here/kernel-config/luo-test.config
[[ -r $fragment ]] || { log "missing $fragment"; exit 1; }

mkdir -p "$repo/.build-vm"
[[ -e $repo/.build-vm/.gitignore ]] || echo '*' > "$repo/.build-vm/.gitignore"
work=$(mktemp -d "$repo/.build-vm/kbuild.XXXXXX")
[[ -n ${KEEP_WORK:-} ]] || trap 'rm -rf "$work"' EXIT

. "$here/lib/debian-apt-view.sh"
if [[ -n ${LINUX_SOURCE_DEB:-} ]]; then
  deb=$(realpath -e "$LINUX_SOURCE_DEB") || exit 1
  pkg=$(dpkg-deb -f "$deb" Package) ver=$(dpkg-deb -f "$deb" Version)
  log "source package: $pkg $ver ($deb)"
  ((check_only)) && exit 0
else
  debian_apt_view "$work" "$suite"
  pkg=${KERNEL_SOURCE_PKG:-$(apt-cache "${apt_opts[@]}" pkgnames linux-source- |
    grep -E '^linux-source-7\.[0-9]+$' | sort -V | tail -n1 || true)}
  [[ -n $pkg ]] || { log "no linux-source-7.x in $suite"; exit 1; }
  ver=$(apt-cache "${apt_opts[@]}" show "$pkg" 2>/dev/null | awk '/^Version:/ {print $2; exit}')
  [[ -n $ver ]] || { log "$pkg not found in $suite"; exit 1; }
  log "source package: $pkg $ver ($uri $suite)"
  ((check_only)) && exit 0
fi

need=()
for p in build-essential flex bison bc libelf-dev libssl-dev dwarves rsync xz-utils cpio kmod patch; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
  sudo_cmd=(); ((EUID == 0)) || sudo_cmd=(sudo)
  log "installing: ${need[*]}"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [[ -z ${deb:-} ]]; then
  (cd "$work" && apt-get "${apt_opts[@]}" download -qq "$pkg")
  deb=$(echo "$work"/"$pkg"_*.deb)
fi
dpkg-deb -x "$deb" "$work/deb"
tar -C "$work" -xJf "$work/deb/usr/src/$pkg.tar.xz"
src="$work/$pkg"
build="$work/build"

for p in "${patches[@]}"; do
  log "applying $(basename "$p")"
  patch -d "$src" -p1 --batch --forward --quiet < "$p" || { log "$p does not apply to $pkg $ver"; exit 1; }
done

mkdir -p "$build"
if [[ -n $base_config ]]; then
  cp "$base_config" "$build/.config"
  make -C "$src" O="$build" olddefconfig >/dev/null
  want=$base_config
else
  make -C "$src" O="$build" x86_64_defconfig >/dev/null
  "$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" \
    "$src/kernel/configs/kvm_guest.config" "$fragment" >/dev/null
  make -C "$src" O="$build" olddefconfig >/dev/null
  want=$fragment
fi
# Every option the fragment (or the given config) sets must have survived olddefconfig; from a
# given config, an option this tree has no Kconfig symbol for (a series not applied here) is
# reported and left out.
bad=0
while read -r opt; do
  grep -qx "$opt" "$build/.config" && continue
  sym=${opt%%=*}; sym=${sym#CONFIG_}
  if [[ -n $base_config ]] && ! grep -rqsE "^(menu)?config $sym\b" --include='Kconfig*' "$src"; then
    log "not in this tree, left out: $opt"
  else
    log "missing after olddefconfig: $opt"; bad=1
  fi
done < <(grep -E '^CONFIG_[A-Z0-9_]+=[ym]$' "$want")
((bad == 0)) || exit 1
# The release names the findings' fixes it carries.
tags=""
for p in "${patches[@]}"; do
  [[ $p == */docs/findings/patches/*.patch ]] && tags+="+$(basename "$p" .patch)"
done
if [[ -n $tags ]]; then
  "$src/scripts/config" --file "$build/.config" --set-str LOCALVERSION "$tags" --disable LOCALVERSION_AUTO
  make -C "$src" O="$build" olddefconfig >/dev/null
  log "release tag: $tags"
fi

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
if [[ -n $base_config ]]; then cp "$base_config" "$out.new/base.config"; else cp "$fragment" "$out.new/luo-test.config"; fi
mkdir -p "$out.new/patches"
for p in "${patches[@]}"; do cp "$p" "$out.new/patches/"; done
tar -C "$stage" -cJf "$out.new/modules.tar.xz" lib/modules
tar -C "$stage/usr" -cJf "$out.new/uapi-headers.tar.xz" include
( cd "$out.new" && { echo "release: $kver"; echo "source: Debian $pkg $ver (${LINUX_SOURCE_DEB:-$suite})"
  echo "config: ${base_config:-x86_64_defconfig + kvm_guest.config + luo-test.config}"
  for p in "${patches[@]}"; do
    echo "patch: $(basename "$p") $(sha256sum < "$p" | cut -c1-16) $(awk '/^Subject: / { s = substr($0, 10)
      while ((getline l) > 0 && l ~ /^[ \t]/) s = s l; print s; exit }' "$p")"
  done
  sha256sum bzImage modules.tar.xz uapi-headers.tar.xz config; } > VERSION )
rm -rf "$out"; mv "$out.new" "$out"
log "built $kver into $out (use: scripts/vm-test.sh --kernel $out)"
[[ -n ${KEEP_WORK:-} ]] && log "build tree kept: $build (source $src; use: scripts/vm-test.sh --kernel $build)"
exit 0

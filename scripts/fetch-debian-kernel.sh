#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Downloads Debian's stock 7.x amd64 kernel (trixie-backports) without installing it and lays it
# out like ../shared/kernel: OUTDIR/bzImage, OUTDIR/lib/modules/<kver>/ (an unpacked tree,
# .ko.xz modules, no modules.dep: vm-test.sh runs depmod), OUTDIR/VERSION.
# Usage: fetch-debian-kernel.sh [OUTDIR]   (default: <repo>/.build-vm/kernels/debian)
# Env:   KERNEL_SUITE (default trixie-backports), KERNEL_MAJOR (default 7), FORCE=1 to refetch.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
out=${1:-$repo/.build-vm/kernels/debian}
suite=${KERNEL_SUITE:-trixie-backports}
major=${KERNEL_MAJOR:-7}

log() { echo "fetch-debian-kernel: $*" >&2; }

if [[ -z ${FORCE:-} && -s $out/bzImage && -s $out/VERSION ]] && ls -d "$out"/lib/modules/*/kernel >/dev/null 2>&1; then
  log "cached: $out ($(awk '/^release:/ {print $2}' "$out/VERSION"))"
  exit 0
fi

for c in apt-get apt-cache dpkg-deb; do
  command -v "$c" >/dev/null || { log "needs $c (a Debian/Ubuntu host)"; exit 1; }
done
mkdir -p "$repo/.build-vm"
[[ -e $repo/.build-vm/.gitignore ]] || echo '*' > "$repo/.build-vm/.gitignore"
work=$(mktemp -d "$repo/.build-vm/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

. "$here/lib/debian-apt-view.sh"
debian_apt_view "$work" "$suite"

# Newest linux-binary-unsigned-<major>.*-amd64 (the plain image, not -rt/-cloud), its modules package.
image=$(apt-cache "${apt_opts[@]}" pkgnames linux-binary-unsigned- |
  grep -E "^linux-binary-unsigned-${major}\.[0-9.]+\+[a-z0-9.]+-amd64$" | sort -V | tail -n1 || true)
if [[ -z $image ]]; then
  # Older naming: linux-image-<ver>-amd64-unsigned.
  image=$(apt-cache "${apt_opts[@]}" pkgnames linux-image- |
    grep -E "^linux-image-${major}\.[0-9.]+[^ ]*-amd64-unsigned$" | sort -V | tail -n1 || true)
fi
[[ -n $image ]] || { log "no linux ${major}.x amd64 unsigned image in $suite"; exit 1; }
abi=${image#linux-binary-unsigned-}; abi=${abi#linux-image-}; abi=${abi%-unsigned}
# linux-modules-<abi>: the .ko.xz files; linux-base-<abi>: modules.builtin/.order and config
# (so depmod and libkmod know what is built in).
modules=""
for cand in "linux-modules-$abi" "linux-base-$abi"; do
  apt-cache "${apt_opts[@]}" show "$cand" >/dev/null 2>&1 && modules+="${modules:+ }$cand"
done
log "image: $image  modules: ${modules:-<in image package>}"

(cd "$work" && apt-get "${apt_opts[@]}" download -qq "$image" $modules)
mkdir -p "$work/x"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/x"; done

# 7.x packages ship usr/lib/modules/<kver>/vmlinuz.unsigned; older ones boot/vmlinuz-<kver>.
vmlinuz=$(ls "$work"/x/usr/lib/modules/*/vmlinuz* "$work"/x/lib/modules/*/vmlinuz* 2>/dev/null | head -n1 || true)
if [[ -n $vmlinuz ]]; then
  kver=$(basename "$(dirname "$vmlinuz")")
else
  vmlinuz=$(ls "$work"/x/boot/vmlinuz-* 2>/dev/null | head -n1 || true)
  [[ -n $vmlinuz ]] || { log "no kernel image in $image"; exit 1; }
  kver=${vmlinuz##*/vmlinuz-}
fi
moddir=$(ls -d "$work"/x/lib/modules/"$kver" "$work"/x/usr/lib/modules/"$kver" 2>/dev/null | head -n1 || true)
[[ -n $moddir ]] || { log "no modules tree for $kver"; exit 1; }

rm -rf "$out.new"; mkdir -p "$out.new/lib/modules"
cp "$vmlinuz" "$out.new/bzImage"
cp -a "$moddir" "$out.new/lib/modules/$kver"
rm -f "$out.new/lib/modules/$kver"/vmlinuz* "$out.new/lib/modules/$kver"/System.map "$out.new/lib/modules/$kver"/config
cp "$moddir/config" "$out.new/config" 2>/dev/null || cp "$work"/x/boot/config-"$kver" "$out.new/config" 2>/dev/null || true
( cd "$out.new" && {
    echo "release: $kver"
    echo "source: Debian $image ${modules} ($suite, $uri)"
    for deb in "$work"/*.deb; do echo "deb: $(basename "$deb")"; done
    sha256sum bzImage; } > VERSION )
rm -rf "$out"; mv "$out.new" "$out"
log "fetched $kver into $out"

#!/usr/bin/env bash
# Builds the C side of the benchmark (scripts/bench/bench.c + the kernel's C selftest library)
# from Debian's linux-source-7.3, with the selftests' own CFLAGS (see scripts/bench/Makefile).
# The source paths it needs are extracted once into a cache (like scripts/fetch-kernel-source.sh,
# through scripts/lib/linux-source.sh; LINUX_SOURCE_DEB skips the download). The uAPI headers are
# the kernel dir's uapi-headers.tar.xz (`make headers_install` of the same linux-source-7.3, as
# /work/shared/kernel ships it) or KHDR=<dir holding linux/vfio.h's include/>.
# Usage: build-c.sh [--kernel DIR] [--out DIR]    Prints the path of the bench binary on stdout.
# Env: LINUX_SOURCE_DEB, KERNEL_SOURCE_PKG (linux-source-7.3), KERNEL_SUITE (trixie-backports),
#      KHDR, EXTRA_CFLAGS (appended, as the VFIO selftests' Makefile allows), FORCE=1.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)   # scripts/
repo=$(cd "$here/.." && pwd)
pkg=${KERNEL_SOURCE_PKG:-linux-source-7.3}
suite=${KERNEL_SUITE:-trixie-backports}
log() { echo "bench-build-c: $*" >&2; }
kernel=/work/shared/kernel out=$repo/.build-vm/bench-c/out
while (($#)); do
  case $1 in
    --kernel) kernel=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    *) log "unknown option $1"; exit 2 ;;
  esac
done
cache=$repo/.build-vm/bench-c
src=$cache/src
paths=(
  tools/testing/selftests/vfio
  tools/testing/selftests/liveupdate
  tools/testing/selftests/kselftest.h
  tools/testing/selftests/kselftest_harness.h
  tools/testing/selftests/lib.mk
  scripts/subarch.include
  tools/include
  tools/arch/x86/include
  include/linux/pci_ids.h
  include/uapi/linux/pci_regs.h
  include/uapi/linux/idxd.h
  include/uapi/linux/mii.h
  drivers/dma/ioat/hw.h
  drivers/dma/ioat/registers.h
  drivers/dma/idxd/registers.h
  drivers/net/ethernet/intel/igb/e1000_regs.h
  drivers/net/ethernet/intel/igb/e1000_defines.h
  drivers/net/ethernet/intel/igb/e1000_82575.h
)
mkdir -p "$repo/.build-vm"
[[ -e $repo/.build-vm/.gitignore ]] || echo '*' > "$repo/.build-vm/.gitignore"
if [[ -n ${FORCE:-} || ! -s $src/VERSION || ! -e $src/tools/testing/selftests/vfio/lib/libvfio.mk ]]; then
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/fetch.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  . "$here/lib/linux-source.sh"
  linux_source_extract "$work" "${paths[@]}"
  echo "source: $(basename "$deb")" > "$work/k/$top/VERSION"
  rm -rf "$src"; mv "$work/k/$top" "$src"
  rm -rf "$work"; trap - EXIT
fi
khdr=${KHDR:-}
if [[ -z $khdr ]]; then
  [[ -f $kernel/uapi-headers.tar.xz ]] || { log "no $kernel/uapi-headers.tar.xz: set KHDR=<headers_install include dir>"; exit 2; }
  stamp=$(stat -L -c '%s %Y' "$kernel/uapi-headers.tar.xz")
  if [[ ! -e $cache/uapi/stamp || $(cat "$cache/uapi/stamp") != "$stamp" ]]; then
    rm -rf "$cache/uapi"; mkdir -p "$cache/uapi"
    tar -xJf "$kernel/uapi-headers.tar.xz" -C "$cache/uapi"
    echo "$stamp" > "$cache/uapi/stamp"
  fi
  khdr=$cache/uapi/include
fi
[[ -f $khdr/linux/vfio.h && -f $khdr/linux/liveupdate.h ]] || { log "$khdr lacks linux/vfio.h or linux/liveupdate.h"; exit 2; }
log "building against $(cat "$src/VERSION"), uAPI headers $khdr"
make -s -C "$here/bench" -j2 KSRC="$src" KHDR="$khdr" OUTPUT="$out" EXTRA_CFLAGS="${EXTRA_CFLAGS:-}" >&2
echo "$out/bench"

#!/usr/bin/env bash
# Builds the kernel's own C selftests this project mirrors, once, for every script that runs them
# (scripts/compare-c.sh, scripts/bench.sh): from Debian's linux-source-7.3, with the selftests'
# own Makefiles and flags:
# - tools/testing/selftests/vfio: the seven programs and libvfio (with its drivers);
# - tools/testing/selftests/liveupdate: liveupdate and the luo_* kexec programs;
# - with --bench, also the benchmark's C side (scripts/bench/bench.c; scripts/bench/Makefile
#   builds it against the same libvfio and lu_utils sources with the same flags).
# The source paths they need are extracted once into .build-vm/c-selftests/src (through
# scripts/lib/linux-source.sh; LINUX_SOURCE_DEB skips the download). The uAPI headers are the
# kernel dir's uapi-headers.tar.xz (`make headers_install` of the same linux-source-7.3, as
# ../shared/kernel ships it) or KHDR=<dir holding linux/vfio.h's include/>.
# Usage: build-c-selftests.sh [--kernel DIR] [--bench]
#   Prints the directory of the binaries (.build-vm/c-selftests/bin; the benchmark's in bench-obj/)
#   on stdout.
# Env: LINUX_SOURCE_DEB, KERNEL_SOURCE_PKG (linux-source-7.3), KERNEL_SUITE (trixie-backports),
#      KHDR, EXTRA_CFLAGS (appended, as the VFIO selftests' Makefile allows), FORCE=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)   # scripts/
repo=$(cd "$here/.." && pwd)
pkg=${KERNEL_SOURCE_PKG:-linux-source-7.3}
suite=${KERNEL_SUITE:-trixie-backports}
log() { echo "build-c-selftests: $*" >&2; }
kernel=$repo/../shared/kernel bench=0
while (($#)); do
  case $1 in
    --kernel) kernel=${2:?}; shift 2 ;;
    --bench) bench=1; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) log "unknown option $1"; exit 2 ;;
  esac
done
missing=()
for c in make cc; do command -v "$c" >/dev/null || missing+=("$c"); done
[[ -e /usr/include/uuid/uuid.h ]] || missing+=("uuid-dev (libvfio links -luuid)")
((${#missing[@]} == 0)) || { log "needs: ${missing[*]}"; exit 2; }
cache=$repo/.build-vm/c-selftests
src=$cache/src out=$cache/bin
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
want=${LINUX_SOURCE_DEB:+$(basename "$LINUX_SOURCE_DEB")}
if [[ -n ${FORCE:-} || ! -s $src/VERSION || ! -e $src/tools/testing/selftests/vfio/lib/libvfio.mk ]] ||
   [[ -n $want && $(cat "$src/VERSION") != "source: $want" ]]; then
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/fetch.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  . "$here/lib/linux-source.sh"
  linux_source_extract "$work" "${paths[@]}"
  echo "source: $(basename "$deb")" > "$work/k/$top/VERSION"
  rm -rf "$src" "$out"; mv "$work/k/$top" "$src"
  rm -rf "$work"; trap - EXIT
fi
khdr=${KHDR:-}
if [[ -z $khdr ]]; then
  [[ -f $kernel/uapi-headers.tar.xz ]] || { log "no $kernel/uapi-headers.tar.xz: set KHDR=<headers_install include dir>"; exit 2; }
  stamp=$(stat -L -c '%s %Y' "$kernel/uapi-headers.tar.xz")
  if [[ ! -e $cache/uapi/stamp || $(cat "$cache/uapi/stamp") != "$stamp" ]]; then
    rm -rf "$cache/uapi" "$out"; mkdir -p "$cache/uapi"
    tar -xJf "$kernel/uapi-headers.tar.xz" -C "$cache/uapi"
    echo "$stamp" > "$cache/uapi/stamp"
  fi
  khdr=$cache/uapi/include
fi
[[ -f $khdr/linux/vfio.h && -f $khdr/linux/liveupdate.h ]] || { log "$khdr lacks linux/vfio.h or linux/liveupdate.h"; exit 2; }
log "building against $(cat "$src/VERSION"), uAPI headers $khdr"
mkdir -p "$out"
# The selftests' own Makefiles (make is incremental: a second call only checks).
for dir in vfio liveupdate; do
  make -s -C "$src/tools/testing/selftests/$dir" -j2 OUTPUT="$out" KHDR_INCLUDES="-isystem $khdr" \
    EXTRA_CFLAGS="${EXTRA_CFLAGS:-}" >&2
done
if ((bench)); then
  make -s -C "$here/bench" -j2 KSRC="$src" KHDR="$khdr" OUTPUT="$out/bench-obj" EXTRA_CFLAGS="${EXTRA_CFLAGS:-}" >&2
fi
echo "$out"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Fetches the C selftests (tools/testing/selftests/vfio with its drivers, .../liveupdate) and the
# kernel headers they include from Debian's linux-source-<ver> package, through a private
# apt view (no system apt state touched), into a cache laid out as the kernel tree. The driver
# conformance test (Tests/UAPIConformanceTests/DriverConformanceTests.swift) compiles against it.
# When kunit.py is missing from its default place too, it is taken from the same download
# (scripts/fetch-kunit.sh). Prints the cache's path on stdout.
# Usage: fetch-kernel-source.sh [CACHEDIR]   (default: <repo>/.build-vm/kernel-source)
# Env:   KERNEL_SOURCE_PKG (default linux-source-7.3), KERNEL_SUITE (default trixie-backports),
#        LINUX_SOURCE_DEB=path to an already downloaded linux-source .deb (skips apt), FORCE=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
out=${1:-$repo/.build-vm/kernel-source}
pkg=${KERNEL_SOURCE_PKG:-linux-source-7.3}
suite=${KERNEL_SUITE:-trixie-backports}
log() { echo "fetch-kernel-source: $*" >&2; }

# What the drivers and the conformance probe include (the drivers' registers.h and hw.h are
# symlinks into drivers/dma/, igb's e1000_*.h into drivers/net/ethernet/intel/igb/,
# tools/include/linux/pci_ids.h one to include/linux/), and what the selftests' own Makefiles
# need to build every C program and the kselftest install (scripts/build-c-selftests.sh builds
# from this same tree; scripts/package.sh takes run_kselftest.sh and kselftest/ from it).
paths=(
  tools/testing/selftests/vfio
  tools/testing/selftests/liveupdate
  tools/testing/selftests/kselftest.h
  tools/testing/selftests/kselftest_harness.h
  tools/testing/selftests/lib.mk
  tools/testing/selftests/Makefile
  tools/testing/selftests/run_kselftest.sh
  tools/testing/selftests/kselftest
  scripts/subarch.include
  tools/include
  tools/arch/x86/include
  drivers/net/ethernet/intel/igb/e1000_regs.h
  drivers/net/ethernet/intel/igb/e1000_defines.h
  drivers/net/ethernet/intel/igb/e1000_82575.h
  include/uapi/linux/mii.h
  drivers/dma/ioat/hw.h
  drivers/dma/ioat/registers.h
  drivers/dma/idxd/registers.h
  include/uapi/linux/idxd.h
  include/uapi/linux/pci_regs.h
  include/linux/pci_ids.h
)

# (A cache from before the selftests' Makefiles or the kselftest runner were added lacks lib.mk
# or run_kselftest.sh: fetched again.)
if [[ -z ${FORCE:-} && -s $out/VERSION && -e $out/tools/testing/selftests/vfio/lib/drivers/nv_falcon/hw.h &&
      -e $out/drivers/net/ethernet/intel/igb/e1000_82575.h && -e $out/tools/testing/selftests/lib.mk &&
      -e $out/tools/testing/selftests/run_kselftest.sh ]]; then
  echo "$out"; exit 0
fi
mkdir -p "$repo/.build-vm"
[[ -e $repo/.build-vm/.gitignore ]] || echo '*' > "$repo/.build-vm/.gitignore"
work=$(mktemp -d "$repo/.build-vm/kernel-source-fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
. "$here/lib/linux-source.sh"
linux_source_extract "$work" "${paths[@]}"
echo "source: $(basename "$deb")" > "$work/k/$top/VERSION"
rm -rf "$out"; mv "$work/k/$top" "$out"
log "driver sources and headers in $out"

# One download serves kunit.py too when it is missing from its default place.
if [[ -z ${1:-} && ! -s $repo/.build-vm/kunit/tools/testing/kunit/kunit.py ]]; then
  LINUX_SOURCE_DEB=$deb "$here/fetch-kunit.sh" >/dev/null || log "warning: could not extract kunit.py"
fi
echo "$out"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds the kernel's own C selftests this project mirrors, once, for every script that runs them
# (scripts/compare-c.sh, scripts/bench.sh): from Debian's linux-source-7.3, with the selftests'
# own Makefiles and flags:
# - tools/testing/selftests/vfio: the seven programs and libvfio (with its drivers);
# - tools/testing/selftests/liveupdate: liveupdate and the luo_* kexec programs;
# - with --bench, also the benchmark's C side (scripts/bench/bench.c; scripts/bench/Makefile
#   builds it against the same libvfio and lu_utils sources with the same flags) in bench-obj/,
#   and the same at -O2 in bench-obj-O2/ (the benchmark's second C baseline); each with, in its
#   selftests/, the vfio_pci_device_test its run_one_test operation runs (at -O2 for bench-obj-O2);
#   the bench's libvfio is the tree's with the VFIO Live Update series' patch 0015
#   (__vfio_pci_device_init from a cdev fd: the init_from_fd operation) and the port's own edu
#   driver (scripts/bench/drivers/edu: the driver_memcpy_*_edu operations), the programs' the
#   tree's own;
# - with --gen-tar, the kernel's own kselftest install of vfio + liveupdate instead
#   (`make -C tools/testing/selftests TARGETS="vfio liveupdate" install`, as gen_tar packs it),
#   tarred as .build-vm/c-selftests/kselftest-c[-series].tar.gz; with --series, on a copy of the
#   tree with the VFIO Live Update series' selftest patches applied (the kernel dir's
#   series-selftests/*.patch: vfio_pci_liveupdate_uapi_test, vfio_pci_liveupdate_kexec_test).
# The source is scripts/fetch-kernel-source.sh's tree (.build-vm/kernel-source; LINUX_SOURCE_DEB
# skips the download). The uAPI headers are the
# kernel dir's uapi-headers.tar.xz (`make headers_install` of the same linux-source-7.3, as
# ../shared/kernel ships it) or KHDR=<dir holding linux/vfio.h's include/>.
# Usage: build-c-selftests.sh [--kernel DIR] [--bench | --gen-tar [--series]]
#   Prints the directory of the binaries (.build-vm/c-selftests/bin; the benchmark's in bench-obj/)
#   on stdout, or with --gen-tar the tarball's path.
# Env: LINUX_SOURCE_DEB, KERNEL_SOURCE_PKG (linux-source-7.3), KERNEL_SUITE (trixie-backports),
#      KHDR, EXTRA_CFLAGS (appended, as the VFIO selftests' Makefile allows), FORCE=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)   # scripts/
repo=$(cd "$here/.." && pwd)
log() { echo "build-c-selftests: $*" >&2; }
kernel=$repo/../shared/kernel bench=0 gen_tar=0 series=0
while (($#)); do
  case $1 in
    --kernel) kernel=${2:?}; shift 2 ;;
    --bench) bench=1; shift ;;
    --gen-tar) gen_tar=1; shift ;;
    --series) series=1; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) log "unknown option $1"; exit 2 ;;
  esac
done
missing=()
for c in make cc; do command -v "$c" >/dev/null || missing+=("$c"); done
[[ -e /usr/include/uuid/uuid.h ]] || missing+=("uuid-dev (libvfio links -luuid)")
((${#missing[@]} == 0)) || { log "needs: ${missing[*]}"; exit 2; }
# The kernel's `make install` (lib.mk) copies with rsync, which a minimal Debian lacks.
if ((gen_tar)) && ! command -v rsync >/dev/null; then
  . "$here/lib/apt-install.sh"
  apt_install rsync >&2 || { log "needs rsync (the kernel's kselftest install copies with it) and could not install it"; exit 2; }
fi
cache=$repo/.build-vm/c-selftests
out=$cache/bin
# The source tree: scripts/fetch-kernel-source.sh's (one extraction for the driver conformance
# test and this build; it honours LINUX_SOURCE_DEB and FORCE).
src=$("$here/fetch-kernel-source.sh") || { log "scripts/fetch-kernel-source.sh failed"; exit 2; }
# A tree from another .deb than LINUX_SOURCE_DEB names is fetched again.
if [[ -n ${LINUX_SOURCE_DEB:-} && $(cat "$src/VERSION") != "source: $(basename "$LINUX_SOURCE_DEB")" ]]; then
  src=$(FORCE=1 "$here/fetch-kernel-source.sh") || { log "scripts/fetch-kernel-source.sh failed"; exit 2; }
fi
mkdir -p "$cache"
# Binaries built from another source are stale.
if [[ ! -e $out/SOURCE || $(cat "$out/SOURCE") != "$(cat "$src/VERSION")" ]]; then rm -rf "$out"; fi
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
if ((gen_tar)); then
  # The kernel's own install, as a lab installs it; the series' tests on a patched copy.
  name=kselftest-c tree=$src
  if ((series)); then
    name=kselftest-c-series patches=("$repo"/../shared/kernel-debug/series-selftests/*.patch)
    [[ -e ${patches[0]} ]] || { log "no ../shared/kernel-debug/series-selftests/*.patch"; exit 2; }
    tree=$cache/series-tree
    rm -rf "$tree"; cp -a "$src" "$tree"
    for p in "${patches[@]}"; do patch -s -p1 -d "$tree" < "$p" || { log "patch $(basename "$p") does not apply"; exit 2; }; done
  fi
  inst=$cache/$name
  rm -rf "$inst" "$cache/$name-build"
  make -s -C "$tree/tools/testing/selftests" TARGETS="vfio liveupdate" KHDR_INCLUDES="-isystem $khdr" \
    O="$cache/$name-build" KSFT_INSTALL_PATH="$inst" EXTRA_CFLAGS="${EXTRA_CFLAGS:-}" -j2 install >&2 ||
    { log "make install failed"; exit 2; }
  cat "$src/VERSION" > "$inst/VERSION"
  tar -czf "$cache/$name.tar.gz" -C "$inst" .
  log "$cache/$name.tar.gz: $(cut -d: -f2 "$inst/kselftest-list.txt" | tr '\n' ' ')"
  echo "$cache/$name.tar.gz"
  exit 0
fi
log "building against $(cat "$src/VERSION"), uAPI headers $khdr"
mkdir -p "$out"
cat "$src/VERSION" > "$out/SOURCE"
# The selftests' own Makefiles (make is incremental: a second call only checks). liveupdate's
# Makefile leaves its objects beside its sources, in the fetched tree.
for dir in vfio liveupdate; do
  make -s -C "$src/tools/testing/selftests/$dir" -j2 OUTPUT="$out" KHDR_INCLUDES="-isystem $khdr" \
    EXTRA_CFLAGS="${EXTRA_CFLAGS:-}" >&2
done
if ((bench)); then
  # The bench's libvfio has the VFIO Live Update series' __vfio_pci_device_init(bdf, iommu, fd)
  # (its init_from_fd operation): a copy of the tree with the series' patch 0015 (that function
  # only; vfio_pci_device_init becomes __vfio_pci_device_init(bdf, iommu, -1)).
  fd_patch=$(ls "$repo"/../shared/kernel-debug/series-selftests/0015-*.patch 2>/dev/null | head -n 1)
  [[ -n $fd_patch ]] || { log "no ../shared/kernel-debug/series-selftests/0015-*.patch (the series' __vfio_pci_device_init, for the bench)"; exit 2; }
  # And the port's own C twin of EDU.swift (scripts/bench/drivers/edu: edu.c, copied into the
  # tree's lib/drivers/edu/, and libvfio-edu.patch, which builds it and lists it after igb), for
  # the driver_memcpy_*_edu operations: the kernel's libvfio has no edu driver.
  edu_dir=$here/bench/drivers/edu
  btree=$cache/bench-tree
  bstamp="$(cat "$src/VERSION") $(basename "$fd_patch") $(md5sum < "$fd_patch") $(cat "$edu_dir/edu.c" "$edu_dir/libvfio-edu.patch" | md5sum)"
  if [[ ! -e $btree/STAMP || $(cat "$btree/STAMP") != "$bstamp" ]]; then
    rm -rf "$btree" "$out/bench-obj" "$out/bench-obj-O2"; cp -a "$src" "$btree"
    patch -s -p1 -d "$btree" < "$fd_patch" || { log "patch $(basename "$fd_patch") does not apply"; exit 2; }
    mkdir -p "$btree/tools/testing/selftests/vfio/lib/drivers/edu"
    cp "$edu_dir/edu.c" "$btree/tools/testing/selftests/vfio/lib/drivers/edu/"
    patch -s -p1 -d "$btree" < "$edu_dir/libvfio-edu.patch" || { log "patch libvfio-edu.patch does not apply"; exit 2; }
    echo "$bstamp" > "$btree/STAMP"
  fi
  make -s -C "$here/bench" -j2 KSRC="$btree" KHDR="$khdr" OUTPUT="$out/bench-obj" EXTRA_CFLAGS="${EXTRA_CFLAGS:-}" >&2
  # The second C baseline: the same library and bench.c at -O2 (the benchmark compares both).
  make -s -C "$here/bench" -j2 KSRC="$btree" KHDR="$khdr" OUTPUT="$out/bench-obj-O2" EXTRA_CFLAGS="-O2" >&2
  # run_one_test's C program, in selftests/ beside each bench (bench.c looks there): the one just
  # built with the selftests' flags, and the same program built by their Makefile at -O2.
  mkdir -p "$out/bench-obj/selftests"
  cp "$out/vfio_pci_device_test" "$out/bench-obj/selftests/"
  make -s -C "$src/tools/testing/selftests/vfio" -j2 OUTPUT="$out/bench-obj-O2/selftests" KHDR_INCLUDES="-isystem $khdr" \
    EXTRA_CFLAGS="-O2" "$out/bench-obj-O2/selftests/vfio_pci_device_test" >&2
fi
echo "$out"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Builds the kselftest package: the Swift port laid out as the kernel's
# `make -C tools/testing/selftests TARGETS="vfio liveupdate" install` (gen_tar) lays out the C
# selftests, runnable on a machine with no Swift toolchain:
#   run_kselftest.sh, kselftest/ (runner.sh, ktap_helpers.sh, ...), kselftest-list.txt
#                          the kernel's own runner, taken from linux-source-7.3 at build time
#   vfio/<program>         one executable per C program under the C name (and the port's own
#                          vfio_pci_reset_mmap_test, vfio_migration_test): C's arguments (-l, -r,
#                          -f/-v/-t..., -s 1|2, BDFs last or VFIO_SELFTESTS_BDF), C's KTAP, C's
#                          exit code (`vfio-selftests kselftest PROGRAM`)
#   vfio/setup.sh, cleanup.sh, run.sh, lib.sh   as C's (where C's install puts them), on the
#                          journaled `vfio-selftests setup/cleanup`
#   liveupdate/<program>   liveupdate and the luo_* kexec programs
#   vfio-selftests/bin/    the vfio-selftests CLI and the Swift Testing binary (release build, the
#                          hardware suites alone: no unit test), and the binary's test
#                          declarations (<binary>.listing.jsonl)
#   vfio-selftests/lib/    the Swift runtime and Swift Testing libraries they load (RUNPATH
#                          $ORIGIN/../lib): nothing is read from a toolchain at run time; glibc
#                          and libstdc++ stay the system's, and libkmod (dlopen'ed to load a module)
#   VERSION                the port's commit, the toolchain, the linux-source the runner came from
# Each program first checks (vfio-selftests/preflight.sh) that the system's glibc is new enough
# and its libstdc++ is there, else prints one line and exits with kselftest's skip code.
# Usage: package.sh [--skip-build] [--debug] [--output TARBALL]
#   (default .build-vm/package/vfio-selftests-kselftest.tar.gz); prints the tarball's path.
#   --debug packs the debug build instead (`swift build --build-tests`, as scripts/test.sh makes it):
#   the same layout and bundling, no second build; CI uses it to keep its time flat.
# Env: VFIO_SELFTESTS_RELEASE_BIN (use these release binaries instead of building).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
log() { echo "package: $*" >&2; }
die() { log "error: $*"; exit 1; }
skip_build=0 debug=0 out=$repo/.build-vm/package/vfio-selftests-kselftest.tar.gz
while (($#)); do
  case $1 in
    --skip-build) skip_build=1; shift ;;
    --debug) debug=1; shift ;;
    --output) out=${2:?--output needs a path}; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
done
for c in patchelf readelf ldd; do
  command -v "$c" >/dev/null || { . "$here/lib/apt-install.sh"; apt_install patchelf binutils || die "cannot install $c"; }
done

# ---- the release build ----
bin=${VFIO_SELFTESTS_RELEASE_BIN:-}
if [[ -z $bin ]]; then
  # The release test binary holds the hardware suites alone (VFIO_SELFTESTS_TEST_TARGETS=hardware,
  # Package.swift: the kselftest programs run nothing else, and it starts faster without the unit
  # tests), built in a scratch path of its own so the development build keeps every target.
  flags=(-c release --build-tests --scratch-path "$repo/.build-package")
  export VFIO_SELFTESTS_TEST_TARGETS=hardware
  ((debug)) && { flags=(--build-tests); unset VFIO_SELFTESTS_TEST_TARGETS; }
  if ((skip_build == 0)); then
    log "swift build ${flags[*]}"
    (cd "$repo" && swift build "${flags[@]}" >&2) || die "swift build ${flags[*]} failed"
  fi
  bin=$(cd "$repo" && swift build "${flags[@]}" --show-bin-path)
fi
for b in vfio-selftests vfio-selftestsPackageTests.xctest; do [[ -x $bin/$b ]] || die "no $bin/$b (build first)"; done

# ---- the kernel's runner (linux-source-7.3, the tree the project already fetches) ----
src=$("$here/fetch-kernel-source.sh") || die "scripts/fetch-kernel-source.sh failed"
ks=$src/tools/testing/selftests
[[ -f $ks/run_kselftest.sh && -f $ks/kselftest/runner.sh ]] || die "$ks lacks run_kselftest.sh or kselftest/runner.sh"

stage=$(mktemp -d "${TMPDIR:-/tmp}/vfio-selftests-package.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/kselftest_install
mkdir -p "$root"/{kselftest,vfio,liveupdate,vfio-selftests/bin,vfio-selftests/lib}
install -m 755 "$ks/run_kselftest.sh" "$root/"
for f in runner.sh prefix.pl ktap_helpers.sh module.sh ksft.py; do
  [[ -f $ks/kselftest/$f ]] && install -m 744 "$ks/kselftest/$f" "$root/kselftest/"
done

# ---- the binaries and the Swift libraries they load ----
for b in vfio-selftests vfio-selftestsPackageTests.xctest; do
  install -m 755 "$bin/$b" "$root/vfio-selftests/bin/"
  strip --strip-debug "$root/vfio-selftests/bin/$b"
done
# Every shared library that does not resolve to the system's (/lib, /usr/lib): the toolchain's.
declare -A copied=()
for b in "$root"/vfio-selftests/bin/*; do
  while read -r name _ path _; do
    [[ $path == /* ]] || continue
    case $path in /lib/*|/lib64/*|/usr/lib/*|/usr/lib64/*) continue ;; esac
    [[ -n ${copied[$name]:-} ]] && continue
    copied[$name]=1
    install -m 644 "$path" "$root/vfio-selftests/lib/$name"
    strip --strip-debug "$root/vfio-selftests/lib/$name"
  done < <(ldd "$b")
done
((${#copied[@]})) || die "ldd found no Swift libraries to bundle (a static build?)"
for b in "$root"/vfio-selftests/bin/*; do patchelf --set-rpath '$ORIGIN/../lib' "$b"; done
for l in "$root"/vfio-selftests/lib/*.so*; do patchelf --set-rpath '$ORIGIN' "$l"; done
# What is left to the system, checked by preflight.sh before each program runs.
for b in "$root"/vfio-selftests/bin/* "$root"/vfio-selftests/lib/*; do
  (env -u LD_LIBRARY_PATH ldd "$b" | grep -q 'not found') && die "$b: a library is not found after bundling: $(ldd "$b" | grep 'not found' | head -n1)"
done
# The test binary's declarations beside it (bin/vfio-selftestsPackageTests.xctest.listing.jsonl,
# tied to its size and mtime as installed): each program reads them instead of starting the test
# binary a second time with --list-tests (docs/benchmark.md, run_one_test).
"$root/vfio-selftests/bin/vfio-selftests" kselftest --write-listing || die "vfio-selftests kselftest --write-listing failed"
glibc=$(for f in "$root"/vfio-selftests/bin/vfio-selftests "$root"/vfio-selftests/bin/*.xctest "$root"/vfio-selftests/lib/*; do readelf -V --wide "$f"; done |
  grep -oE 'GLIBC_[0-9]+\.[0-9]+' | sed 's/GLIBC_//' | sort -V | tail -n1)
system_libs=$(for f in "$root"/vfio-selftests/bin/vfio-selftests "$root"/vfio-selftests/bin/*.xctest "$root"/vfio-selftests/lib/*; do readelf -d "$f"; done |
  sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u | while read -r n; do [[ -e $root/vfio-selftests/lib/$n ]] || echo "$n"; done | tr '\n' ' ')
log "bundled ${#copied[@]} Swift libraries; needs from the system: glibc >= $glibc, $system_libs"

# ---- preflight: one line and kselftest's skip code where the system cannot run them ----
cat > "$root/vfio-selftests/preflight.sh" <<EOF
# SPDX-License-Identifier: GPL-2.0-only
# Sourced by each program of the vfio-selftests kselftest package (scripts/package.sh) before it
# starts the Swift binaries: a system they cannot run on gets one line and kselftest's skip code
# (4), as a C selftest that lacks what it needs. \$vst_program: the program's name (set before
# sourcing: POSIX sh's "." takes no arguments).
vst_glibc_needed=$glibc
vst_system_libs="$system_libs"
EOF
cat >> "$root/vfio-selftests/preflight.sh" <<'EOF'
vst_skip() { printf 'TAP version 13\n1..0 # SKIP %s: %s\n' "$vst_program" "$1"; exit 4; }
vst_have=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }')
[ -n "$vst_have" ] || vst_skip "not a glibc system (the package needs glibc >= $vst_glibc_needed)"
if [ "$(printf '%s\n%s\n' "$vst_glibc_needed" "$vst_have" | sort -t. -k1,1n -k2,2n | head -n1)" != "$vst_glibc_needed" ]; then
  vst_skip "needs glibc >= $vst_glibc_needed, this system has $vst_have"
fi
for vst_lib in $vst_system_libs; do
  case $vst_lib in libc.so.*|libm.so.*|ld-linux*|libpthread.so.*|libdl.so.*|librt.so.*|libutil.so.*) continue ;; esac
  vst_found=0
  for vst_dir in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib64 /usr/lib64 /lib /usr/lib; do
    [ -e "$vst_dir/$vst_lib" ] && { vst_found=1; break; }
  done
  [ $vst_found = 1 ] || { command -v ldconfig >/dev/null && ldconfig -p 2>/dev/null | grep -q "$vst_lib" && vst_found=1; }
  [ $vst_found = 1 ] || vst_skip "the system lacks $vst_lib (install libstdc++6 or your distribution's equivalent)"
done
EOF

# ---- one program per C program, under the C name ----
cli=$root/vfio-selftests/bin/vfio-selftests
"$cli" kselftest --kselftest-list > "$root/kselftest-list.txt" || die "the packaged CLI does not run here"
while IFS=: read -r collection name; do
  cat > "$root/$collection/$name" <<EOF
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# $name, the Swift port (vfio-selftests kselftest $name): the C program's arguments, KTAP and
# exit code. Package: scripts/package.sh.
top=\$(cd "\$(dirname "\$0")/.." && pwd -P)
vst_program=$name
. "\$top/vfio-selftests/preflight.sh"
exec "\$top/vfio-selftests/bin/vfio-selftests" kselftest $name "\$@"
EOF
  chmod 755 "$root/$collection/$name"
done < <("$cli" kselftest --all-programs)

# ---- vfio's setup.sh, cleanup.sh, run.sh, lib.sh: where C's install puts them ----
cat > "$root/vfio/lib.sh" <<'EOF'
# SPDX-License-Identifier: GPL-2.0-only
# Sourced by setup.sh, cleanup.sh and run.sh (C's vfio/scripts/lib.sh has the same role): the
# packaged CLI. Its journal (/run/vfio-selftests/devices) records each device's setup.
VFIO_SELFTESTS_TOP=$(cd "$(dirname -- "$0")/.." && pwd -P)
vst_program=$(basename -- "$0")
. "$VFIO_SELFTESTS_TOP/vfio-selftests/preflight.sh"
vfio_selftests() { "$VFIO_SELFTESTS_TOP/vfio-selftests/bin/vfio-selftests" "$@"; }
journaled_devices() { ls /run/vfio-selftests/devices 2>/dev/null; }
EOF
cat > "$root/vfio/setup.sh" <<'EOF'
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Like C's setup.sh: binds each device to vfio-pci (remembering and zeroing sriov_numvfs,
# remembering and unbinding its driver, driver_override), journaled so cleanup.sh undoes it.
. "$(dirname -- "$0")/lib.sh"
if [ $# = 0 ]; then echo "usage: $0 segment:bus:device.function ..." >&2; exit 1; fi
vfio_selftests setup "$@"
EOF
cat > "$root/vfio/cleanup.sh" <<'EOF'
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Like C's cleanup.sh: restores the named devices (no argument: every device setup.sh set up)
# to their driver, driver_override and sriov_numvfs, from the journal.
. "$(dirname -- "$0")/lib.sh"
vfio_selftests cleanup "$@"
EOF
cat > "$root/vfio/run.sh" <<'EOF'
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Like C's run.sh: runs the command with every device setup.sh set up appended.
. "$(dirname -- "$0")/lib.sh"
devices=$(journaled_devices)
if [ -z "$devices" ]; then echo "No devices found, skipping."; exit 4; fi
# shellcheck disable=SC2086
"$@" $devices
EOF
chmod 755 "$root/vfio/setup.sh" "$root/vfio/cleanup.sh" "$root/vfio/run.sh"

{ echo "vfio-selftests $(cd "$repo" && git describe --always --dirty 2>/dev/null || echo unknown) (the Swift port, kselftest package)"
  echo "toolchain: $(swift --version 2>/dev/null | head -n1)"
  echo "runner: $(cat "$src/VERSION")"
  echo "needs: glibc >= $glibc, $system_libs"; } > "$root/VERSION"

mkdir -p "$(dirname "$out")"
tar -czf "$out.tmp" -C "$root" .
mv "$out.tmp" "$out"
log "$out: $(du -h "$out" | cut -f1) ($(du -sh "$root" | cut -f1) unpacked), $(wc -l < "$root/kselftest-list.txt") programs listed, $(ls "$root/vfio" "$root/liveupdate" | grep -vc -e '\.sh$' -e ':$' -e '^$') in all"
echo "$out"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs the LAVA job of scripts/lava/ on this machine with Debian's lava-dispatcher (lava-run, no
# server) and checks its per-case results against the KTAP the programs printed.
# See usage() below.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)   # scripts/lava
repo=$(cd "$here/../.." && pwd)
prog=lava-run-local

usage() {
  cat <<EOF
Usage: scripts/lava/run-local.sh [options]
  --kernel DIR       bzImage and modules.tar.xz (or lib/modules/<kver>/) (default ../shared/kernel)
  --package TARBALL  the kselftest install to test, laid out like the kernel's gen_tar
                     (default .build-vm/package/vfio-selftests-kselftest.tar.gz, from
                     scripts/package.sh; the kernel's own gen_tar kselftest.tar.gz works too)
  --tests "SEL"      run_kselftest.sh selection, e.g. "-t vfio:vfio_pci_device_test -c liveupdate"
                     (default: "$default_tests")
  --timeout SECONDS  run_kselftest.sh -o (default 600)
  --out DIR          results (default results/lava/<job id>): job.yaml, lava.log (LAVA's log
                     stream), results.ktap (the KTAP as the DUT printed it), cases.tsv
  --env NAME=VALUE   also set NAME for run_kselftest.sh and the programs in the DUT (repeatable;
                     e.g. VFIO_SELFTESTS_TIMEOUT_SCALE=4 for the package's programs under TCG)
  --inject MODE      prove the check: extra-fail (one extra failing case), drop-first (the KTAP's
                     first case unreported), flip-first (it reported as fail), no-setup (device
                     left unbound: the programs fail for real)
  --job-minutes N    LAVA job timeout (default 30)
  -h, --help         this text
Installs lava-dispatcher (--no-install-recommends, about 135 packages) and qemu-system-x86 when
missing; builds (once, cached under .build-vm/lava/) the ramdisk: scripts/build-rootfs.sh's
Debian minbase root + the kernel's modules (depmod'ed) + scripts/lava/ramdisk-init.sh as /init.
Fills scripts/lava/job.yaml.in, runs lava-run on scripts/lava/qemu-device.yaml, then
scripts/lava/check-results.py. Needs root (lava-run does). Exit 0 only when the job passed, every
case passed or skipped, and LAVA's cases are the KTAP's, name by name; otherwise one line per
problem. Last lines: the check's summary and "lava-run: N s wall, QEMU N s CPU".
EOF
}
log() { echo "$prog: $*" >&2; }
die() { echo "$prog: error: $*" >&2; exit 2; }

default_tests="-t vfio:vfio_pci_device_test -t liveupdate:liveupdate"
kernel=$repo/../shared/kernel package=$repo/.build-vm/package/vfio-selftests-kselftest.tar.gz
tests=$default_tests timeout_s=600 out="" inject="" job_minutes=30 test_env=()
while (($#)); do
  case $1 in
    --kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
    --package) package=${2:?--package needs a value}; shift 2 ;;
    --tests) tests=${2?--tests needs a value}; shift 2 ;;
    --timeout) timeout_s=${2:?--timeout needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    --env) [[ ${2:-} =~ ^[A-Za-z_][A-Za-z0-9_]*=[-A-Za-z0-9_.,:/=+]*$ ]] ||
             die "--env: NAME=VALUE without spaces or quotes, not '${2:-}'"
           test_env+=("$2"); shift 2 ;;
    --inject) inject=${2:?--inject needs a value}; shift 2 ;;
    --job-minutes) job_minutes=${2:?--job-minutes needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[[ $timeout_s =~ ^[0-9]+$ ]] || die "--timeout: seconds, not '$timeout_s'"
[[ $job_minutes =~ ^[0-9]+$ ]] || die "--job-minutes: minutes, not '$job_minutes'"
case $inject in ""|extra-fail|drop-first|flip-first|no-setup) ;; *) die "--inject: extra-fail, drop-first, flip-first or no-setup, not '$inject'" ;; esac
[[ $tests =~ ^[-A-Za-z0-9_:.,\ ]*$ ]] || die "--tests: only run_kselftest.sh options and COLLECTION:TEST names (LAVA quotes parameters in single quotes)"
((EUID == 0)) || die "lava-run must run as root"
kernel=$(cd "$kernel" 2>/dev/null && pwd) || die "--kernel: no directory $kernel"
[[ -f $kernel/bzImage ]] || die "--kernel: no $kernel/bzImage"
[[ -f $kernel/modules.tar.xz || -d $kernel/lib/modules ]] || die "--kernel: no $kernel/modules.tar.xz or $kernel/lib/modules"
if [[ ! -f $package ]]; then
  die "--package: no $package (scripts/package.sh builds it; or pass a kernel gen_tar kselftest.tar.gz)"
fi
package=$(cd "$(dirname "$package")" && pwd)/$(basename "$package")
tar -tzf "$package" 2>/dev/null | grep -E '^(\./)?([^/]+/)?run_kselftest\.sh$' >/dev/null ||
  die "--package: $package has no run_kselftest.sh (at its top or one directory down)"

# Tools: lava-dispatcher (lava-run), QEMU, cpio (LAVA repacks the ramdisk with it).
PATH=$PATH:/usr/sbin:/sbin
missing=()
command -v lava-run >/dev/null || missing+=(lava-dispatcher)
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v cpio >/dev/null || missing+=(cpio)
command -v depmod >/dev/null || missing+=(kmod)
if ((${#missing[@]})); then
  log "installing ${missing[*]} (--no-install-recommends; lava-dispatcher: about 135 packages, minutes)"
  . "$repo/scripts/lib/apt-install.sh"
  apt_install "${missing[@]}" || die "cannot install ${missing[*]}"
fi

# Debian's Python (python3-yaml comes with lava-dispatcher), not whatever python3 is first in PATH.
py=/usr/bin/python3
[[ -x $py ]] || py=python3
cache=$repo/.build-vm/lava
mkdir -p "$cache"
[[ -e $repo/.build-vm/.gitignore ]] || echo '*' > "$repo/.build-vm/.gitignore"

# check-results.py reads the KTAP with the kernel's kunit_parser (scripts/lib/results.py): fetch
# it now (cached), not after the job.
"$repo/scripts/fetch-kunit.sh" >/dev/null || die "scripts/fetch-kunit.sh failed (check-results.py reads the KTAP with kunit_parser)"

# The ramdisk, once per (root, modules, init): concurrent runs share it, built under a lock.
rootfs=$("$repo/scripts/build-rootfs.sh") || die "scripts/build-rootfs.sh failed"
if [[ -f $kernel/modules.tar.xz ]]; then
  mods_id=$(sha256sum < "$kernel/modules.tar.xz" | cut -c1-16)
else
  mods_id=$(find "$kernel/lib/modules" -type f -printf '%P %s %T@\n' | sort | sha256sum | cut -c1-16)
fi
key=$( (cat "$rootfs/.vfio-selftests-rootfs"; echo "$mods_id"; cat "$here/ramdisk-init.sh"; echo ramdisk-v1) | sha256sum | cut -c1-16)
ramdisk=$cache/ramdisk-$key.cpio.gz
exec {lock}>"$cache/.lock"
flock "$lock"
if [[ ! -s $ramdisk ]]; then
  s=$SECONDS
  log "building the ramdisk from $rootfs + $kernel's modules"
  stage=$cache/ramdisk.tmp.$$
  rm -rf "$stage"; mkdir -p "$stage"
  trap 'rm -rf "$stage"' EXIT
  cp -a "$rootfs/." "$stage/"
  # Smaller (LAVA unpacks and repacks it): no translations, time zones or package lists.
  rm -rf "$stage"/usr/share/locale/* "$stage"/usr/share/zoneinfo "$stage"/usr/share/info \
    "$stage"/usr/share/bash-completion "$stage"/var/cache/* "$stage"/var/lib/apt/lists/* \
    "$stage"/var/log/*
  if [[ -f $kernel/modules.tar.xz ]]; then
    tar -xJf "$kernel/modules.tar.xz" -C "$stage" lib/modules
  else
    mkdir -p "$stage/lib/modules"; cp -a "$kernel/lib/modules/." "$stage/lib/modules/"
  fi
  for kver in "$stage"/lib/modules/*/; do
    kver=$(basename "$kver")
    depmod -b "$stage" "$kver" || die "depmod $kver failed"
  done
  install -m 755 "$here/ramdisk-init.sh" "$stage/init"
  # bash on ttyS0: the prompt LAVA's boot action waits for (job.yaml.in: prompts).
  printf '%s\n' "# vfio-selftests LAVA DUT (scripts/lava/run-local.sh)" "PS1='vfio-dut# '" > "$stage/root/.bashrc"
  mkdir -p "$stage/opt/kselftest"
  (cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) | gzip -1 > "$ramdisk.tmp"
  mv "$ramdisk.tmp" "$ramdisk"
  rm -rf "$stage"; trap - EXIT
  log "ramdisk $ramdisk ($(du -h "$ramdisk" | cut -f1), $((SECONDS - s)) s)"
fi
flock -u "$lock"

job_id=vfio-kselftest-$(date +%Y%m%d-%H%M%S)-$$
out=${out:-$repo/results/lava/$job_id}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/{lava.log,results.ktap,cases.tsv,check.txt}
# The test definition as LAVA's `from: url` takes it: a tarball of the repository's scripts/lava.
tar -czf "$out/testdef.tar.gz" -C "$repo" scripts/lava/vfio-kselftest.yaml scripts/lava/vfio-kselftest.sh
JOB_NAME="vfio-kselftest local ($(basename "$kernel"), $(basename "$package"))" \
JOB_MINUTES=$job_minutes TEST_MINUTES=$((job_minutes > 8 ? job_minutes - 7 : 1)) \
KERNEL_URL=file://$kernel/bzImage KERNEL_SHA256=$(sha256sum < "$kernel/bzImage" | cut -d' ' -f1) \
RAMDISK_URL=file://$ramdisk RAMDISK_SHA256=$(sha256sum < "$ramdisk" | cut -d' ' -f1) \
PACKAGE_URL=file://$package PACKAGE_SHA256=$(sha256sum < "$package" | cut -d' ' -f1) \
TESTDEF_URL=file://$out/testdef.tar.gz TESTS=$tests TIMEOUT=$timeout_s INJECT=$inject \
TEST_ENV="${test_env[*]}" \
"$py" - "$here/job.yaml.in" "$out/job.yaml" <<'EOF'
import os, re, sys
text = open(sys.argv[1]).read()
text = re.sub(r"@([A-Z0-9_]+)@", lambda m: os.environ.get(m.group(1), m.group(0)), text)
left = [l for l in text.splitlines() if re.search(r"@[A-Z0-9_]+@", l.split("#")[0])]
assert not left, "unfilled fields: %s" % left
open(sys.argv[2], "w").write(text)
EOF

# QEMU's CPU time: sampled from /proc while it runs (LAVA starts it; its command line names the
# job's work dir).
workdir=/var/lib/lava/dispatcher/tmp/$job_id
sample_qemu() {
  local pid="" ticks=0 hz
  hz=$(getconf CLK_TCK)
  while :; do
    if [[ -z $pid || ! -d /proc/$pid ]]; then
      pid=$(pgrep -f -n "qemu-system-x86_64.*$workdir" || true)
    fi
    if [[ -n $pid && -r /proc/$pid/stat ]]; then
      local st; st=$(cut -d' ' -f14,15 "/proc/$pid/stat" 2>/dev/null) || st=""
      [[ -n $st ]] && ticks=$(( ${st% *} + ${st#* } ))
      echo "$ticks $hz" > "$out/.qemu-cpu"
    fi
    sleep 1
  done
}
sample_qemu & sampler=$!
trap 'kill "$sampler" 2>/dev/null' EXIT
log "job $job_id: lava-run (log: $out/lava.log)"
s=$SECONDS rc=0
lava-run --job-id "$job_id" --output-dir "$out/lava" --device "$here/qemu-device.yaml" \
  --dispatcher "$here/dispatcher.yaml" "$out/job.yaml" 2> "$out/lava.log" > "$out/lava-run.stdout" || rc=$?
wall=$((SECONDS - s))
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
trap - EXIT
qemu_cpu=?
if [[ -s $out/.qemu-cpu ]]; then read -r ticks hz < "$out/.qemu-cpu"; qemu_cpu=$((ticks / hz)); fi
rm -f "$out/.qemu-cpu"
rm -rf "$workdir"
((rc == 0)) || echo "lava-run: exit $rc"
check_rc=0
"$py" "$here/check-results.py" "$out/lava.log" --ktap-out "$out/results.ktap" --tsv-out "$out/cases.tsv" \
  | tee "$out/check.txt" || check_rc=1
echo "lava-run: $wall s wall, QEMU $qemu_cpu s CPU ($out)" | tee -a "$out/check.txt"
((rc == 0 && check_rc == 0))

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Side-by-side benchmark of the Swift port (LibVFIO, LibLiveUpdate) against the kernel's C
# selftest library (tools/testing/selftests/vfio/lib + liveupdate/lib of linux-source-7.3).
# Builds both (C: scripts/build-c-selftests.sh --bench, the selftests' CFLAGS; Swift: vfio-bench and the CLI
# in release, --scratch-path .build-release), boots ONE guest (scripts/vm-test.sh --guest-script
# scripts/guest/bench.sh --skip-build), which sets the virtio-net device 0000:00:03.0 up with
# `vfio-selftests setup`, alternates C and Swift runs, and cleans up; then prints, per operation,
# C min/median/max, Swift min/median/max and Swift ÷ C of the medians (scripts/bench/report.py).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
usage() {
  cat <<EOT
Usage: scripts/bench.sh [--kernel DIR] [--short] [--json FILE] [options]
  --kernel DIR        guest kernel dir (default: $repo/../shared/kernel); needs iommufd and the
                      VFIO cdev (and LUO for the Live Update operation; skipped without it)
  --short             CI mode: ~1/20 of the rounds; only checks that every operation produced
                      numbers on both sides (an operation both sides skip, with their reason, is
                      allowed: an IOMMU mode the kernel lacks)
  --json FILE         also write the comparison as JSON
  --alternations N    C-then-Swift rounds in the guest (default 3; --short: 1)
  --strace            after the timed runs, count each operation's system calls per round on
                      both sides (strace -c -f, 1/10 of the rounds) in the same boot
  --results DIR       results root (default <repo>/results); the boot writes DIR/bench-<kernel>/
  --timeout SECONDS   vm-test.sh watchdog (default 1800)
Env: LINUX_SOURCE_DEB (a downloaded linux-source-7.3 .deb), EXTRA_CFLAGS (added to the C
  build, e.g. -O2; default none: the VFIO selftests' own flags build at -O0).
EOT
}
log() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 2; }
kernel=$repo/../shared/kernel short=0 json="" alternations="" strace=0 results_root=$repo/results timeout_s=1800
while (($#)); do
  case $1 in
    --kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
    --short) short=1; shift ;;
    --json) json=${2:?--json needs a value}; shift 2 ;;
    --alternations) alternations=${2:?}; shift 2 ;;
    --strace) strace=1; shift ;;
    --results) results_root=${2:?}; shift 2 ;;
    --timeout) timeout_s=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done
[[ -d $kernel ]] || die "--kernel $kernel: no such directory"
kernel=$(cd "$kernel" && pwd -P)
[[ -n $json ]] && json=$(cd "$(dirname "$json")" && pwd)/$(basename "$json")
divisor=1
((short)) && divisor=20
alternations=${alternations:-$((short ? 1 : 3))}
[[ $alternations =~ ^[1-9][0-9]*$ ]] || die "--alternations must be a positive number"

t_start=$SECONDS
log "building the C side (linux-source-7.3 selftest library, selftests' CFLAGS${EXTRA_CFLAGS:+ + $EXTRA_CFLAGS})"
c_dir=$("$here/build-c-selftests.sh" --kernel "$kernel" --bench) || die "C build failed"
c_bin=$c_dir/bench-obj/bench
log "building the Swift side (release: vfio-bench, vfio-selftests)"
(cd "$repo" && swift build -c release --scratch-path .build-release --product vfio-bench -j 2 >&2 &&
  swift build -c release --scratch-path .build-release --product vfio-selftests -j 2 >&2) || die "swift build failed"
rel=$(cd "$repo" && swift build -c release --scratch-path .build-release --show-bin-path)
# Copies, so a rebuild during the boot cannot change what the guest runs.
bin=$repo/.build-vm/bench-bin
mkdir -p "$repo/.build-vm"; [[ -e $repo/.build-vm/.gitignore ]] || echo '*' > "$repo/.build-vm/.gitignore"
rm -rf "$bin"; mkdir -p "$bin"
cp "$c_bin" "$bin/bench"; cp "$c_bin.cflags" "$bin/bench.cflags" 2>/dev/null || true
cp "$rel/vfio-bench" "$rel/vfio-selftests" "$bin/"
log "builds done in $((SECONDS - t_start)) s; binaries in $bin"

label=bench-$(basename "$kernel")
vm_args=(--kernel "$kernel" --label "$label" --results "$results_root" --guest-script scripts/guest/bench.sh
  --skip-build --quiet --timeout "$timeout_s"
  --env BENCH_DIVISOR=$divisor --env BENCH_ALTERNATIONS=$alternations --env BENCH_STRACE=$strace)
log "booting: VFIO_SELFTESTS_BIN_DIR=$bin scripts/vm-test.sh ${vm_args[*]}"
t0=$(date +%s.%N)
vm_rc=0
VFIO_SELFTESTS_BIN_DIR=$bin "$here/vm-test.sh" "${vm_args[@]}" >&2 || vm_rc=$?
boot_wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
stage=$results_root/$label/stage1
log "bench boot: ${boot_wall} s wall (vm-test.sh exit $vm_rc); results in $stage"
[[ -d $stage ]] || die "no results in $stage"
echo "boot_wall_s=$boot_wall" >> "$stage/guest-info"

report_args=("$stage")
[[ -n $json ]] && report_args+=(--json "$json")
((short)) && report_args+=(--check)
echo "C: $(cat "$bin/bench.cflags" 2>/dev/null || echo '?'); Swift: swift build -c release; $alternations alternation(s), rounds/${divisor}; bench boot ${boot_wall} s wall"
report_rc=0
python3 "$here/bench/report.py" "${report_args[@]}" || report_rc=$?
if [[ -n $json ]]; then
  python3 - "$json" "$boot_wall" "$kernel" "$divisor" <<'PY'
import json, sys
path, wall, kernel, divisor = sys.argv[1:]
d = json.load(open(path))
d.update({"boot_wall_s": float(wall), "kernel": kernel, "rounds_divisor": int(divisor)})
json.dump(d, open(path, "w"), indent=2)
PY
fi
((vm_rc == 0)) || { log "vm-test.sh failed (exit $vm_rc)"; exit 1; }
exit "$report_rc"

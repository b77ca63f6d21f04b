#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Side-by-side benchmark of the Swift port (LibVFIO, LibLiveUpdate) against the kernel's C
# selftest library (tools/testing/selftests/vfio/lib + liveupdate/lib of linux-source-7.3).
# Builds both (C: scripts/build-c-selftests.sh --bench, once with the selftests' CFLAGS and once at
# -O2; Swift: vfio-bench and the CLI in release, --scratch-path .build-release), boots ONE guest
# (scripts/vm-test.sh --guest-script scripts/guest/bench.sh --skip-build), which sets the
# virtio-net device 0000:00:03.0 up with `vfio-selftests setup`, and runs the three side by side:
# per operation, short batches on each side back to back in rotating order, until the 95%
# interval of Swift ÷ C is within ±3% (or --max-alternations); cleans up; then prints, per
# operation, the median of the per-alternation ratios with its interval against both C builds
# (scripts/bench/report.py). luo_retrieve_memfd is timed after a kexec: a run that selects it
# boots two stages (stage 1 preserves its sessions). docs/benchmark.md has the method and the last run.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
usage() {
  cat <<EOT
Usage: scripts/bench.sh [--kernel DIR] [--short] [--json FILE] [options]
  --kernel DIR        guest kernel dir (default: $repo/../shared/kernel); needs iommufd and the
                      VFIO cdev (and LUO for the Live Update operation; skipped without it)
  --short             CI mode: ~1/20 of the rounds, each side once over all operations; only
                      checks that every operation produced numbers on every side (an operation
                      all sides skip, with their reason, is allowed: an IOMMU mode the kernel lacks)
  --json FILE         also write the comparison as JSON
  --filter REGEX      only the operations whose name matches it (bash =~)
  --min-alternations N   at least N alternations per operation (default 12)
  --max-alternations N   at most N (default 60), when ±3% is not reached before
  --alternations N    --short: rounds of all operations per side (default 1)
  --strace            after the timed runs, count each operation's system calls per round on
                      both sides (strace -c -f, 1/10 of the rounds) in the same boot
  --results DIR       results root (default <repo>/results); the boot writes DIR/bench-<kernel>/
  --env NAME=VALUE    also set NAME in the guest, for every side (repeatable; e.g. LD_BIND_NOW=1)
  --timeout SECONDS   vm-test.sh watchdog (default 5400)
  --no-kexec          one stage only: luo_retrieve_memfd (timed after a kexec) then skips; by
                      default a run that selects it boots with --stages 2 (stage 1: every other
                      operation, then each side preserves its sessions; kexec; stage 2: it alone)
  --no-driver         boot without the igb (0000:00:06.0, QEMU >= 8.0: a private QEMU 10 from
                      bookworm-backports when the system's lacks it) and the edu (0000:00:04.0)
                      whose selftest drivers the driver_memcpy operations use (driver_memcpy_*_edu:
                      the edu's); they then skip on every side
Env: LINUX_SOURCE_DEB (a downloaded linux-source-7.3 .deb), EXTRA_CFLAGS (added to the C
  build, e.g. -O2; default none: the VFIO selftests' own flags build at -O0).
EOT
}
log() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 2; }
kernel=$repo/../shared/kernel short=0 json="" alternations="" strace=0 results_root=$repo/results timeout_s=5400
filter="" min_alt=12 max_alt=60 driver=1 kexec=1 extra_env=()
while (($#)); do
  case $1 in
    --kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
    --short) short=1; shift ;;
    --json) json=${2:?--json needs a value}; shift 2 ;;
    --alternations) alternations=${2:?}; shift 2 ;;
    --filter) filter=${2:?}; shift 2 ;;
    --no-driver) driver=0; shift ;;
    --no-kexec) kexec=0; shift ;;
    --min-alternations) min_alt=${2:?}; shift 2 ;;
    --max-alternations) max_alt=${2:?}; shift 2 ;;
    --strace) strace=1; shift ;;
    --env) extra_env+=(--env "${2:?--env needs NAME=VALUE}"); shift 2 ;;
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
alternations=${alternations:-1}
[[ $alternations =~ ^[1-9][0-9]*$ ]] || die "--alternations must be a positive number"

t_start=$SECONDS
log "building the C side (linux-source-7.3 selftest library, selftests' CFLAGS${EXTRA_CFLAGS:+ + $EXTRA_CFLAGS})"
c_dir=$("$here/build-c-selftests.sh" --kernel "$kernel" --bench) || die "C build failed"
c_bin=$c_dir/bench-obj/bench
log "building the Swift side (release: vfio-bench, vfio-selftests; and, for run_one_test, the package's release build of the CLI and its test binary)"
(cd "$repo" && swift build -c release --scratch-path .build-release --product vfio-bench -j 2 >&2 &&
  swift build -c release --scratch-path .build-release --product vfio-selftests -j 2 >&2) || die "swift build failed"
rel=$(cd "$repo" && swift build -c release --scratch-path .build-release --show-bin-path)
# run_one_test runs `vfio-selftests run`, which starts the Swift Testing binary beside it: the
# release build scripts/package.sh ships (the hardware suites alone, VFIO_SELFTESTS_TEST_TARGETS=
# hardware), in the package's scratch path, so vfio-bench's build stays as it was.
# Only when the filter selects run_one_test (the only operation that runs it); --short runs every
# operation whatever the filter.
run_one_test=0
((short)) || [[ -z $filter || run_one_test =~ $filter ]] && run_one_test=1
test_flags=(-c release --build-tests --scratch-path .build-package)
if ((run_one_test)); then
  (cd "$repo" && VFIO_SELFTESTS_TEST_TARGETS=hardware swift build "${test_flags[@]}" -j 2 >&2) ||
    die "VFIO_SELFTESTS_TEST_TARGETS=hardware swift build ${test_flags[*]} failed"
  rel_tests=$(cd "$repo" && VFIO_SELFTESTS_TEST_TARGETS=hardware swift build "${test_flags[@]}" --show-bin-path)
fi
# Copies, so a rebuild during the boot cannot change what the guest runs.
bin=$repo/.build-vm/bench-bin
mkdir -p "$repo/.build-vm"; [[ -e $repo/.build-vm/.gitignore ]] || echo '*' > "$repo/.build-vm/.gitignore"
rm -rf "$bin"; mkdir -p "$bin"
# Each C bench finds run_one_test's program in selftests/ beside its real path: bench-O2 is a
# link to O2/bench, beside O2/selftests/ (the -O2 build of that program).
mkdir -p "$bin/selftests" "$bin/O2/selftests" "$bin/run"
cp "$c_bin" "$bin/bench"; cp "$c_bin.cflags" "$bin/bench.cflags" 2>/dev/null || true
cp "$c_dir/bench-obj/selftests/vfio_pci_device_test" "$bin/selftests/"
cp "$c_dir/bench-obj-O2/bench" "$bin/O2/bench"
cp "$c_dir/bench-obj-O2/selftests/vfio_pci_device_test" "$bin/O2/selftests/"
ln -s O2/bench "$bin/bench-O2"
cp "$rel/vfio-bench" "$rel/vfio-selftests" "$bin/"
# vfio-bench's run_one_test runs run/vfio-selftests (beside it) when there is one.
((run_one_test)) && cp "$rel_tests/vfio-selftests" "$rel_tests/vfio-selftestsPackageTests.xctest" "$bin/run/"
log "builds done in $((SECONDS - t_start)) s; binaries in $bin"

label=bench-$(basename "$kernel")
vm_args=(--kernel "$kernel" --label "$label" --results "$results_root" --guest-script scripts/guest/bench.sh
  --skip-build --quiet --timeout "$timeout_s"
  --env BENCH_DIVISOR=$divisor --env BENCH_ALTERNATIONS=$alternations --env BENCH_STRACE=$strace
  --env BENCH_MIN_ALTERNATIONS=$min_alt --env BENCH_MAX_ALTERNATIONS=$max_alt)
((short)) || vm_args+=(--env BENCH_MODE=interleaved)
((driver)) && vm_args+=(--device igb --env BENCH_DRIVER_BDF=0000:00:06.0 --device edu --env BENCH_EDU_BDF=0000:00:04.0)
[[ -n $filter ]] && vm_args+=(--env "BENCH_FILTER=$filter")
vm_args+=("${extra_env[@]}")
# luo_retrieve_memfd is timed in the boot after a kexec: two stages when it is selected.
stages=1
((kexec)) && [[ -z $filter || luo_retrieve_memfd =~ $filter ]] && stages=2
vm_args+=(--stages "$stages")
log "booting: VFIO_SELFTESTS_BIN_DIR=$bin scripts/vm-test.sh ${vm_args[*]}"
t0=$(date +%s.%N)
vm_rc=0
VFIO_SELFTESTS_BIN_DIR=$bin "$here/vm-test.sh" "${vm_args[@]}" >&2 || vm_rc=$?
boot_wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
stage=$results_root/$label/stage1
log "bench boot: ${boot_wall} s wall, $stages stage(s) (vm-test.sh exit $vm_rc); results in $stage$( ((stages == 2)) && echo " and ../stage2")"
[[ -d $stage ]] || die "no results in $stage"
echo "boot_wall_s=$boot_wall" >> "$stage/guest-info"

report_args=("$stage")
if ((stages == 2)); then
  [[ -d $results_root/$label/stage2 ]] || die "no results in $results_root/$label/stage2 (the boot after the kexec)"
  report_args+=("$results_root/$label/stage2")
fi
[[ -n $json ]] && report_args+=(--json "$json")
((short)) && report_args+=(--check)
if ((short)); then
  echo "C: $(cat "$bin/bench.cflags" 2>/dev/null || echo '?') (and -O2); Swift: swift build -c release; $alternations run(s) per side, rounds/${divisor}; bench boot ${boot_wall} s wall"
else
  echo "C: $(cat "$bin/bench.cflags" 2>/dev/null || echo '?') (and -O2); Swift: swift build -c release; interleaved, $min_alt-$max_alt alternations per operation; bench boot ${boot_wall} s wall"
fi
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

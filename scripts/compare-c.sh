#!/usr/bin/env bash
# Side-by-side check of the Swift port against the kernel's own C VFIO selftests, on the same
# device in the same guest boot: builds the C program(s) from Debian's linux-source-7.3
# (tools/testing/selftests/vfio, against that source's own uAPI headers from `make
# headers`), then boots one guest with scripts/vm-test.sh and
# scripts/guest/compare-driver.sh, which runs every C case in its own process, then the matching
# Swift suites, and writes <results>/<label>/stage1/compare.tsv:
#   test<TAB>C<TAB>Swift<TAB>C s<TAB>Swift s<TAB>note
# Why: a Swift failure means little until the C original has been seen to pass or fail on the
# same device, kernel and QEMU; this gives both verdicts per case.
# Exit status: 0 when C and Swift agree on every case (ok / not ok / skip), or disagree only on
# cases listed in scripts/compare-c.allow (test name, TAB, reason); 1 on any other disagreement,
# a missing row or a guest that did not report; 2 on a usage or build error.
# The C build is cached under .build-vm/c-selftests (source subset and its uAPI headers in src/,
# binaries at the top); it is redone when the linux-source .deb or the program list
# changes, or with FORCE=1.
# Usage: scripts/compare-c.sh [--kernel DIR] [--programs "P..."] [--under-test DEV] [--label NAME]
#                             [--results DIR] [--timeout S] [--build-only]
#                             [-- vm-test.sh options...]
#   --kernel DIR    guest kernel (default ../shared/kernel, relative to the repo)
#   --programs P    C programs to compare (default vfio_pci_driver_test; the guest script says
#                   which cases each has)
#   --under-test D  vm-test.sh device under test (default igb)
#   --label NAME    results label (default compare-c)
#   --results DIR   results root (default <repo>/results)
#   --timeout S     guest watchdog (default 3000)
#   --build-only    build (or find cached) the C programs and stop
#   after --, options passed to vm-test.sh as they are (for example --skip-build, --quiet)
# Env: KERNEL_SOURCE_PKG (default linux-source-7.3), KERNEL_SUITE (default trixie-backports),
#      LINUX_SOURCE_DEB (an already downloaded linux-source .deb: skips apt), FORCE=1 (rebuild C).
set -u -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
pkg=${KERNEL_SOURCE_PKG:-linux-source-7.3}
suite=${KERNEL_SUITE:-trixie-backports}
log() { echo "compare-c: $*" >&2; }
die() { log "error: $*"; exit 2; }

kernel=$repo/../shared/kernel programs=vfio_pci_driver_test under_test=igb label=compare-c
results_root=$repo/results timeout_s=3000 vm_args=() build_only=0
while (($#)); do
  case $1 in
    --kernel) kernel=${2:?--kernel needs a value}; shift 2 ;;
    --programs) programs=${2:?--programs needs a value}; shift 2 ;;
    --under-test) under_test=${2:?--under-test needs a value}; shift 2 ;;
    --label) label=${2:?--label needs a value}; shift 2 ;;
    --results) results_root=${2:?--results needs a value}; shift 2 ;;
    --timeout) timeout_s=${2:?--timeout needs a value}; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --) shift; vm_args=("$@"); break ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[[ -d $kernel ]] || die "--kernel $kernel: no such directory"
allow=$here/compare-c.allow
[[ -f $allow ]] || die "no $allow"

# ---- the C programs, built once from linux-source and cached ----
cache=$repo/.build-vm/c-selftests
build_c() {
  local p missing=()
  for c in make cc; do command -v "$c" >/dev/null || missing+=("$c"); done
  [[ -e /usr/include/uuid/uuid.h ]] || missing+=("uuid-dev (libvfio links -luuid)")
  ((${#missing[@]} == 0)) || { log "needs: ${missing[*]}"; return 1; }
  mkdir -p "$repo/.build-vm"
  [[ -e $repo/.build-vm/.gitignore ]] || echo '*' > "$repo/.build-vm/.gitignore"
  local work
  work=$(mktemp -d "$repo/.build-vm/c-selftests-fetch.XXXXXX") || return 1
  # What headers_install and the selftests build read; the drivers' headers are symlinks into
  # drivers/dma and drivers/net/ethernet/intel/igb.
  (
    trap 'rm -rf "$work"' EXIT
    . "$here/lib/linux-source.sh"
    linux_source_extract "$work" Makefile scripts include arch/x86 usr tools \
      drivers/dma drivers/net/ethernet/intel/igb || exit 1
    rm -rf "$cache"; mkdir -p "$cache"
    mv "$work/k/$top" "$cache/src"
    echo "$(basename "$deb") $programs" > "$cache/src/.compare-c-source"
  ) || return 1
  # `make headers` leaves the installable uAPI headers in src/usr/include, where the selftests'
  # lib.mk looks by default (headers_install would only copy them, and needs rsync).
  log "make headers (uAPI headers of $(cut -d' ' -f1 "$cache/src/.compare-c-source"))"
  make -s -C "$cache/src" ARCH=x86 headers >"$cache/build.log" 2>&1 ||
    { tail -n 20 "$cache/build.log" >&2; return 1; }
  for p in $programs; do
    log "building $p"
    make -C "$cache/src/tools/testing/selftests/vfio" OUTPUT="$cache" \
      KHDR_INCLUDES="-isystem $cache/src/usr/include" "$cache/$p" >>"$cache/build.log" 2>&1 ||
      { tail -n 20 "$cache/build.log" >&2; return 1; }
  done
  cp "$cache/src/.compare-c-source" "$cache/BUILT"
}
want_deb=${LINUX_SOURCE_DEB:+$(basename "$LINUX_SOURCE_DEB")}
built_ok=1
[[ -n ${FORCE:-} || ! -s $cache/BUILT ]] && built_ok=0
if ((built_ok)); then
  read -r built_deb built_programs < "$cache/BUILT"
  [[ $built_programs == "$programs" ]] || built_ok=0
  [[ -z $want_deb || $want_deb == "$built_deb" ]] || built_ok=0
  for p in $programs; do [[ -x $cache/$p ]] || built_ok=0; done
fi
if ((built_ok)); then
  log "C programs cached in $cache ($(cat "$cache/BUILT"))"
else
  build_c || die "building the C selftests failed (log: $cache/build.log)"
  log "C programs built in $cache: $programs"
fi
((build_only)) && exit 0

# ---- one guest boot: C cases one by one, then the Swift suites ----
t0=$SECONDS
vm_log=$(mktemp)
trap 'rm -f "$vm_log"' EXIT
"$here/vm-test.sh" --kernel "$kernel" --under-test "$under_test" --label "$label" --results "$results_root" \
  --timeout "$timeout_s" --guest-script scripts/guest/compare-driver.sh \
  --env "COMPARE_PROGRAMS=${programs// /,}" --env "COMPARE_C_DIR=$cache" "${vm_args[@]}" 2>&1 | tee "$vm_log"
vm_rc=${PIPESTATUS[0]}
wall=$((SECONDS - t0))
tsv=$results_root/$label/stage1/compare.tsv
qemu=$(grep -m1 -o 'QEMU: .*' "$vm_log")
log "$qemu; kernel $kernel ($(cat "$results_root/$label/stage1/guest-info" 2>/dev/null | sed -n 's/^uname_r=//p')); vm-test.sh exited $vm_rc after $wall s"
if [[ ! -s $tsv ]]; then
  # A guest that stalls during the C cases (see --timeout) leaves only the C results so far.
  log "no $tsv: the guest did not finish the C cases"
  [[ -s ${tsv%/*}/c-results.tsv ]] && { log "C results so far:"; cat "${tsv%/*}/c-results.tsv"; }
  exit 1
fi

cat "$tsv"

# ---- the verdict: C against Swift, per case (a Swift "pending": the guest died before it) ----
verdict() { case $1 in ok*) echo ok ;; "not ok"*) echo fail ;; skip*) echo skip ;; *) echo "${1%% *}" ;; esac; }
declare -A allowed=()
while IFS=$'\t' read -r name reason; do
  [[ -z $name || $name == \#* ]] && continue
  [[ -n $reason ]] || die "$allow: $name has no reason"
  allowed[$name]=$reason
done < "$allow"
disagree=0 rows=0
while IFS=$'\t' read -r name c swift _; do
  [[ $name == test ]] && continue
  rows=$((rows + 1))
  [[ $(verdict "$c") == "$(verdict "$swift")" ]] && continue
  if [[ -n ${allowed[$name]:-} ]]; then
    log "allowed disagreement: $name: C '$c', Swift '$swift' (${allowed[$name]})"
  else
    log "DISAGREE: $name: C '$c', Swift '$swift'"
    disagree=$((disagree + 1))
  fi
done < "$tsv"
((rows)) || { log "$tsv has no rows"; exit 1; }
log "$rows cases compared, $disagree unexplained disagreement(s); table: $tsv"
((disagree == 0)) || exit 1
exit 0

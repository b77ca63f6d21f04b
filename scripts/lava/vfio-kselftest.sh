#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The DUT side of the LAVA test definition scripts/lava/vfio-kselftest.yaml (POSIX sh, awk,
# base64, sha256sum: a Debian minbase root or any kselftest-capable root has them; bash for the
# package's setup.sh/cleanup.sh, as the kernel's own scripts need it too).
#
# Usage: vfio-kselftest.sh modules|setup|run|report|cleanup
# Settings (the test definition's params, exported by its first step):
#   KSELFTEST_DIR  where the kselftest install (the package or the kernel's gen_tar) was unpacked;
#                  run_kselftest.sh there or one directory below (default /opt/kselftest)
#   TESTS          run_kselftest.sh selection (-t COLLECTION:TEST, -c COLLECTION, -S ...); empty: all
#   TIMEOUT        run_kselftest.sh -o SECONDS (kselftest's 45 s default is too short under TCG)
#   BDF            the device handed to vfio-pci, exported as VFIO_SELFTESTS_BDF (0000:00:03.0)
#   MODULES        modules loaded before setup (default "vfio-pci iommufd")
#   RESULTS_DIR    where the KTAP and the run's exit code are kept (default /tmp/vfio-kselftest)
#   TEST_ENV       NAME=VALUE ... exported to run_kselftest.sh and the programs (for example
#                  VFIO_SELFTESTS_TIMEOUT_SCALE=4 for the package's programs under emulation)
#   INJECT         test hook for the host-side check (scripts/lava/check-results.py), empty in
#                  real jobs: "extra-fail" also reports one failing case that is in no KTAP,
#                  "drop-first" leaves the KTAP's first result unreported, "flip-first" reports
#                  it as fail whatever the KTAP says, "no-setup" skips setup.sh so the programs
#                  meet an unbound device and fail for real.
#
# Every phase reports one case of the test set "vfio-kselftest-infra" (modprobe-<m>, setup,
# package, run, ktap-transfer, cleanup), pass or fail; it exits 0 so that LAVA's run.sh
# (set -e) always reaches the next phase and the end of the run.
#
# `report` turns EVERY KTAP result line into a LAVA test case, the nested ones too:
#   ok 1 selftests: vfio: vfio_pci_device_test           -> case vfio.vfio_pci_device_test
#   # ok 3 vfio_pci_device_test.vfio_type1_iommu.reset   -> set vfio.vfio_pci_device_test,
#                                                            case vfio_pci_device_test.vfio_type1_iommu.reset
#   (deeper levels: case <depth-1 name>.<depth-2 name>..., one set per top-level test)
# Result: "# SKIP" (or "# TODO") directive -> skip; "not ok" -> fail; "ok" (XFAIL too) -> pass.
# Name parts keep [A-Za-z0-9._-]; any other character becomes "_" (LAVA's signal protocol splits
# on spaces and "="). kselftest's "selftests: C: P" top-level name becomes "C.P".
# It then prints the KTAP itself on the console between VFIO-KTAP-BEGIN/END markers, base64, with
# its sha256, so the host can compare LAVA's cases with exactly what the programs printed.
set -u
phase=${1:-}
KSELFTEST_DIR=${KSELFTEST_DIR:-/opt/kselftest}
TESTS=${TESTS:-}
TIMEOUT=${TIMEOUT:-600}
BDF=${BDF:-0000:00:03.0}
MODULES=${MODULES:-vfio-pci iommufd}
RESULTS_DIR=${RESULTS_DIR:-/tmp/vfio-kselftest}
TEST_ENV=${TEST_ENV:-}
INJECT=${INJECT:-}
INFRA_SET=vfio-kselftest-infra
mkdir -p "$RESULTS_DIR"

say() { echo "vfio-kselftest: $*"; }
have() { command -v "$1" >/dev/null 2>&1; }

# lava-test-case outside LAVA (a manual run): print what would be reported.
if ! have lava-test-case; then
  lava_test_case() { echo "lava-test-case $*"; }
  lava_test_set() { echo "lava-test-set $*"; }
else
  lava_test_case() { lava-test-case "$@"; }
  lava_test_set() { lava-test-set "$@"; }
fi

infra() { # infra CASE pass|fail
  lava_test_set start "$INFRA_SET"
  lava_test_case "$1" --result "$2"
  lava_test_set stop
}

# The install: run_kselftest.sh in KSELFTEST_DIR or in its only subdirectory that has one.
find_install() {
  if [ -x "$KSELFTEST_DIR/run_kselftest.sh" ]; then echo "$KSELFTEST_DIR"; return 0; fi
  for d in "$KSELFTEST_DIR"/*/; do
    [ -x "${d}run_kselftest.sh" ] && { echo "${d%/}"; return 0; }
  done
  return 1
}

# vfio's setup.sh/cleanup.sh: vfio/scripts/ (the package's layout) or vfio/ (gen_tar flattens
# TEST_FILES).
vfio_script() {
  for f in "$1/vfio/scripts/$2" "$1/vfio/$2"; do
    [ -f "$f" ] && { echo "$f"; return 0; }
  done
  return 1
}

# The package's CLI, when it has one (a C install has none).
vfio_cli() {
  for f in "$1/vfio-selftests/bin/vfio-selftests" "$1/vfio/vfio-selftests" "$1/bin/vfio-selftests"; do
    [ -f "$f" ] && [ -x "$f" ] && { echo "$f"; return 0; }
  done
  return 1
}

phase_modules() {
  ks=$(find_install) || ks=""
  for m in $MODULES; do
    if have modprobe && modprobe "$m"; then
      say "modprobe $m: ok"; infra "modprobe-$m" pass
    elif [ -n "$ks" ] && cli=$(vfio_cli "$ks") && "$cli" modprobe "$m"; then
      say "vfio-selftests modprobe $m: ok"; infra "modprobe-$m" pass
    else
      say "cannot load $m"; infra "modprobe-$m" fail
    fi
  done
  ls -l /dev/vfio /dev/iommu /dev/liveupdate 2>&1 | sed 's/^/vfio-kselftest: /'
}

phase_setup() {
  if [ "$INJECT" = no-setup ]; then
    say "INJECT=no-setup: $BDF left on its driver"; return 0
  fi
  ks=$(find_install) || { say "no run_kselftest.sh under $KSELFTEST_DIR"; infra setup fail; return 0; }
  s=$(vfio_script "$ks" setup.sh) || { say "no vfio/scripts/setup.sh or vfio/setup.sh in $ks"; infra setup fail; return 0; }
  if bash "$s" "$BDF"; then
    say "$BDF: $(basename "$(readlink -f "/sys/bus/pci/devices/$BDF/driver" 2>/dev/null)" 2>/dev/null)"
    infra setup pass
  else
    infra setup fail
  fi
}

phase_run() {
  ks=$(find_install) || { say "no run_kselftest.sh under $KSELFTEST_DIR"; infra package fail; : > "$RESULTS_DIR/ktap"; return 0; }
  infra package pass
  say "cd $ks; ${TEST_ENV:+$TEST_ENV }VFIO_SELFTESTS_BDF=$BDF ./run_kselftest.sh -o $TIMEOUT $TESTS"
  start=$(cut -d. -f1 /proc/uptime)
  # The KTAP is run_kselftest.sh's stdout; its exit code travels beside the pipe.
  # shellcheck disable=SC2086 # TESTS is a list of options, TEST_ENV of NAME=VALUE words
  { (cd "$ks" && for kv in $TEST_ENV; do export "$kv"; done &&
      VFIO_SELFTESTS_BDF=$BDF ./run_kselftest.sh -o "$TIMEOUT" $TESTS); echo $? > "$RESULTS_DIR/rc"; } |
    tee "$RESULTS_DIR/ktap"
  rc=$(cat "$RESULTS_DIR/rc")
  say "run_kselftest.sh exit $rc after $(( $(cut -d. -f1 /proc/uptime) - start )) s"
  # The run itself passed when it produced a KTAP plan; the cases say the rest.
  if grep -q '^1\.\.[0-9]' "$RESULTS_DIR/ktap"; then infra run pass; else infra run fail; fi
}

# KTAP -> "set|case|result" lines (no name part has a "|"), in KTAP order, each top-level test after its subtests.
ktap_cases() {
  awk '
    function clean(s) { gsub(/[^A-Za-z0-9._-]/, "_", s); return s }
    {
      sub(/\r+$/, "")
      line = $0; depth = 0
      while (substr(line, 1, 2) == "# ") { line = substr(line, 3); depth++ }
      if (line !~ /^(not ok|ok) [0-9]+( |$)/) next
      res = "pass"
      if (line ~ /^not ok/) { res = "fail"; line = substr(line, 7) } else line = substr(line, 3)
      num = line; sub(/^ /, "", num); sub(/[^0-9].*$/, "", num)
      sub(/^ [0-9]+/, "", line); sub(/^ /, "", line)
      dir = ""
      i = index(line, " # "); if (i == 0 && substr(line, 1, 2) == "# ") i = -1
      if (i > 0) { dir = substr(line, i + 3); name = substr(line, 1, i - 1) }
      else if (i < 0) { dir = substr(line, 3); name = "" }
      else name = line
      sub(/[ \t]+$/, "", name)
      if (toupper(dir) ~ /^(SKIP|TODO)/) res = "skip"
      if (depth == 0 && name ~ /^selftests: [^:]+: /) {
        sub(/^selftests: /, "", name); k = index(name, ": ")
        name = substr(name, 1, k - 1) "." substr(name, k + 2)
      }
      if (name == "") name = "test" num
      name = clean(name)
      # Subtests waiting for their parent (the next result one level up) carry their level.
      for (j = 1; j <= n; j++) if (lvl[j] == depth + 1) { path[j] = name "." path[j]; lvl[j] = depth }
      n++; lvl[n] = depth; path[n] = name; r[n] = res
      if (depth == 0) {
        # Its subtests (level 0 now, their path starts with its name) under its name as the
        # set; subtests that never met a parent one level up keep their own path.
        for (j = 1; j < n; j++) {
          c = lvl[j] == 0 ? substr(path[j], length(name) + 2) : path[j]
          printf "%s|%s|%s\n", name, c, r[j]
        }
        printf "|%s|%s\n", name, res
        n = 0
      }
    }
    END {
      # A run cut short: subtests whose top-level line never came, under their own names.
      for (j = 1; j <= n; j++) printf "unfinished|%s|%s\n", path[j], r[j]
    }' "$1"
}

phase_report() {
  ktap=$RESULTS_DIR/ktap
  [ -f "$ktap" ] || : > "$ktap"
  ktap_cases "$ktap" > "$RESULTS_DIR/cases"
  cur="" dropped=0 pass=0 fail=0 skip=0
  while IFS='|' read -r set case res; do
    if [ "$INJECT" = drop-first ] && [ $dropped = 0 ]; then
      dropped=1; say "INJECT=drop-first: not reporting $set/$case"; continue
    fi
    if [ "$INJECT" = flip-first ] && [ $dropped = 0 ]; then
      dropped=1; say "INJECT=flip-first: reporting $set/$case ($res in the KTAP) as fail"; res=fail
    fi
    if [ "$set" != "$cur" ]; then
      [ -n "$cur" ] && lava_test_set stop
      [ -n "$set" ] && lava_test_set start "$set"
      cur=$set
    fi
    lava_test_case "$case" --result "$res"
    case $res in pass) pass=$((pass + 1)) ;; fail) fail=$((fail + 1)) ;; *) skip=$((skip + 1)) ;; esac
  done < "$RESULTS_DIR/cases"
  [ -n "$cur" ] && lava_test_set stop
  if [ "$INJECT" = extra-fail ]; then
    say "INJECT=extra-fail: reporting a failing case that no KTAP line has"
    lava_test_case injected_failure --result fail
  fi
  say "reported $pass pass, $fail fail, $skip skip from $ktap"
  # The KTAP as the programs printed it, for the host's name-by-name comparison.
  echo "VFIO-KTAP-BEGIN sha256=$(sha256sum < "$ktap" | cut -d' ' -f1) bytes=$(wc -c < "$ktap") exit=$(cat "$RESULTS_DIR/rc" 2>/dev/null || echo none)"
  base64 < "$ktap" | sed 's/^/VFIO-KTAP: /'
  echo "VFIO-KTAP-END"
  infra ktap-transfer pass
}

phase_cleanup() {
  if [ "$INJECT" = no-setup ]; then return 0; fi
  ks=$(find_install) || { infra cleanup fail; return 0; }
  s=$(vfio_script "$ks" cleanup.sh) || { say "no cleanup.sh in $ks"; infra cleanup fail; return 0; }
  if bash "$s" "$BDF"; then infra cleanup pass; else infra cleanup fail; fi
  say "$BDF: $(basename "$(readlink -f "/sys/bus/pci/devices/$BDF/driver" 2>/dev/null)" 2>/dev/null)"
}

case $phase in
  modules) phase_modules ;;
  setup) phase_setup ;;
  run) phase_run ;;
  report) phase_report ;;
  cleanup) phase_cleanup ;;
  cases) ktap_cases "${2:?KTAP file}" ;;   # for checking the parser by hand
  *) echo "usage: $0 modules|setup|run|report|cleanup|cases KTAP" >&2; exit 2 ;;
esac
exit 0

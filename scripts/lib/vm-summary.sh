# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash disable=SC2034,SC2154  # the globals vm-test.sh and the other vm-*.sh share
# Sourced by vm-test.sh: the summary after the boot. Uses vm-test.sh's globals (here = scripts/,
# results, stages, rootfs_mode, keep, work).
#   vm_summary   --rootfs: per stage, C's run_kselftest.sh KTAP against the port's by test name
#                (scripts/kselftest-compare.py, then scripts/compare-verdict.py with
#                scripts/compare-c.allow); then scripts/junit-summary.py over the stage dirs, whose
#                last line is "N passed, N failed, N skipped". Sets summary_rc (0, or non-zero
#                when a comparison or the summary failed).

vm_summary() {
  ((keep)) && log "work dir kept: $work"
  local stage_dirs=() s d f c_files swift_files
  for s in $(seq 1 "$stages"); do stage_dirs+=("$results/stage$s"); done
  summary_rc=0
  # --rootfs: C against the port by test name, per stage (the guest ran both installs).
  if ((rootfs_mode)); then
    for d in "${stage_dirs[@]}"; do
      c_files=() swift_files=()
      for f in c c-kexec; do [[ -s $d/$f.ktap ]] && c_files+=(--c "$d/$f.ktap"); done
      for f in swift swift-kexec; do [[ -s $d/$f.ktap ]] && swift_files+=(--swift "$d/$f.ktap"); done
      [[ -s $d/swift-only.ktap ]] && swift_files+=(--swift-only "$d/swift-only.ktap")
      ((${#c_files[@]} + ${#swift_files[@]})) || continue
      python3 "$here/kselftest-compare.py" "${c_files[@]}" "${swift_files[@]}" --tsv "$d/compare.tsv" --junit "$d/junit-kselftest.xml" >&2 || summary_rc=1
      echo "== $(basename "$d"): C against the port (run_kselftest.sh, by name)" >&2
      python3 "$here/compare-verdict.py" "$d/compare.tsv" "$here/compare-c.allow" | tee "$d/compare-verdict.log" >&2 || summary_rc=1
    done
  fi
  python3 "$here/junit-summary.py" "${stage_dirs[@]}" || summary_rc=$?
  return 0
}

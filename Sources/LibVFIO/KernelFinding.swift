// SPDX-License-Identifier: GPL-2.0-only
/// The kernel problems the suites found (docs/findings/), each with the fix that
/// `scripts/build-test-kernel.sh` names in the kernel release when it applies the fix's patch from
/// `docs/findings/patches/` (`uname -r`: `7.3.4+type1-pfnmap-retry+hugetlb-pin-fallback`). A test
/// reports a finding as a known issue only on a kernel without its fix; on a kernel with the fix
/// the same outcome fails like any other.
public enum KernelFinding: String, CaseIterable, Sendable {
  /// docs/findings/type1-dma-map-reset-einval.md: a type1 DMA map of a BAR mmap racing a reset
  /// fails with EINVAL.
  case type1PFNMapRetry = "type1-pfnmap-retry"
  /// docs/findings/kexec-hugetlb-efault.md: a long-term pin of a hugetlb page fails with EFAULT
  /// when the pool's free pages all sit in CMA pageblocks (KHO scratch after a KHO kexec).
  case hugetlbPinFallback = "hugetlb-pin-fallback"

  /// Whether a kernel release names this fix: one of its `+`-separated tags after the version.
  public func isFixed(inRelease release: String) -> Bool {
    release.split(separator: "+").dropFirst().contains { $0 == rawValue }
  }

  /// Whether the running kernel carries this fix.
  public var isFixedInRunningKernel: Bool { isFixed(inRelease: KernelModules.kernelRelease()) }
}

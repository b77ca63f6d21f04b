// SPDX-License-Identifier: GPL-2.0-only
// The SR-IOV PF vfio_pci_sriov_uapi_test uses, and the one VF all its cases share (the C test's
// vf_setup/vf_teardown, run around the suite as C runs them once per process).
import Foundation
import Glibc
import LibVFIO
import Testing

extension HardwareEnvironment {
  /// The variable naming the SR-IOV PF (bound to vfio-pci, like `VFIO_SELFTESTS_BDF`).
  static let sriovPFVariable = SelftestsEnvironment.Variable.sriovBDF

  /// The SR-IOV PF, from `VFIO_SELFTESTS_SRIOV_BDF`.
  static func sriovPF() -> Resolution { device(sriovPFVariable) }
}

extension Tag {
  /// A test whose arguments are `SRIOVVariant.underTest()` (the modes under test x the three
  /// VF tokens). `vfio-selftests` names its cases by variant when Swift Testing lists none.
  @Tag static var sriovVariants: Self
}

/// The VF that `SRIOVVFScope` created for the running suite.
enum SRIOVFixture {
  @TaskLocal static var vf: PCIAddress?

  static let enableSRIOVParameter = "/sys/module/vfio_pci/parameters/enable_sriov"

  /// `vf_setup`'s skip reasons, in its order: no SR-IOV capability (a missing `sriov_totalvfs`
  /// counts as 0), or VFs already enabled (a missing `sriov_numvfs` counts as configured).
  static func skipReason(_ pf: PCIAddress, sysfs: PCISysfs = PCISysfs()) throws -> String? {
    guard let total = try sysfs.sriovTotalVFs(pf), total > 0 else { return "SR-IOV may not be supported by the PF: \(pf)" }
    guard try sysfs.sriovNumVFs(pf) == 0 else { return "SR-IOV already configured for the PF: \(pf)" }
    return nil
  }

  /// Why vfio-pci will refuse to create VFs, or nil: it must be loaded with `enable_sriov=1`
  /// (else writing `sriov_numvfs` fails with ENOENT). Nil too when the parameter cannot be read.
  static func vfioPCISRIOVDisabled() -> String? {
    guard let value = try? String(contentsOfFile: enableSRIOVParameter, encoding: .utf8) else { return nil }
    guard value.trimmingCharacters(in: .whitespacesAndNewlines) == "N" else { return nil }
    return "vfio-pci is loaded without enable_sriov=1 (\(enableSRIOVParameter) is N), so writing sriov_numvfs fails with ENOENT: "
      + "load it with enable_sriov=1 (vfio_pci.enable_sriov=1 on the kernel command line) or write Y to that file"
  }

  /// Creates one VF under `pf` (`sriov_numvfs` = 1), checks that it is bound to vfio-pci, runs
  /// `body` with its address, and sets `sriov_numvfs` back to 0 whatever happens.
  static func withVF(under pf: PCIAddress, sysfs: PCISysfs = PCISysfs(), _ body: (PCIAddress) async throws -> Void) async throws {
    try createVF(under: pf, sysfs: sysfs)
    defer { removeVFs(under: pf, sysfs: sysfs) }
    let vf = try vfioPCIVF(under: pf, sysfs: sysfs)
    print("Created 1 VF (\(vf)) under the PF: \(pf)")
    try await body(vf)
  }

  /// `sysfs_sriov_numvfs_set(pf_bdf, 1)`; ENOENT means vfio-pci was loaded without enable_sriov=1.
  static func createVF(under pf: PCIAddress, sysfs: PCISysfs) throws(VFIOError) {
    do {
      try sysfs.setSriovNumVFs(pf, 1)
    } catch {
      guard error.errno == .noSuchFileOrDirectory else { throw error }
      throw .unexpected(operation: "write(sriov_numvfs, 1)", device: pf.description,
                        detail: "ENOENT: vfio-pci must be loaded with enable_sriov=1 to create VFs (\(error))")
    }
  }

  /// `sysfs_sriov_numvfs_set(pf_bdf, 0)`; a failure is recorded, not thrown (it runs in a defer).
  static func removeVFs(under pf: PCIAddress, sysfs: PCISysfs) {
    do {
      try sysfs.setSriovNumVFs(pf, 0)
    } catch {
      Issue.record(Comment(rawValue: "VF teardown: \(error)"))
    }
  }

  /// VF 0 of `pf` (`virtfn0`), which must be bound to exactly vfio-pci (it inherits the PF's driver).
  static func vfioPCIVF(under pf: PCIAddress, sysfs: PCISysfs) throws(VFIOError) -> PCIAddress {
    let vf = try sysfs.virtualFunction(pf, index: 0)
    let driver = try sysfs.driver(vf)
    guard driver == "vfio-pci" else {
      throw .unexpected(operation: "VF setup", device: vf.description, detail: "the VF is bound to \(driver ?? "no driver"), expected vfio-pci")
    }
    return vf
  }
}

/// `vf_setup`'s checks for one case of mode `mode`: the SR-IOV PF from `VFIO_SELFTESTS_SRIOV_BDF`
/// usable in `mode` (as `requireVFIODevice` checks a device), and the VF the suite created.
/// Without a VF, cancels with the C test's reason (no SR-IOV, VFs already enabled) or vfio-pci's
/// missing `enable_sriov=1`, which fails instead under `VFIO_SELFTESTS_STRICT` (`1` or `sriov`).
func requireSRIOVVF(_ mode: IOMMUMode) throws {
  try requireVFIODevice(mode, variable: HardwareEnvironment.sriovPFVariable)
  guard SRIOVFixture.vf == nil else { return }
  let pf = try VFIOPCISRIOVUAPITest.sriovPF()
  if let reason = try SRIOVFixture.skipReason(pf) { try Test.cancel(Comment(rawValue: reason)) }
  if let reason = SRIOVFixture.vfioPCISRIOVDisabled() {
    if HardwareEnvironment.isStrict(.sriov) { throw RequirementFailure(description: "VFIO_SELFTESTS_STRICT (sriov): \(reason)") }
    try Test.cancel(Comment(rawValue: reason))
  }
  throw RequirementFailure(description: "no VF under the PF \(pf): the suite trait .sriovVF creates it")
}

/// Around the suite: one VF under the SR-IOV PF from `VFIO_SELFTESTS_SRIOV_BDF`, bound to
/// vfio-pci, for all its cases (`SRIOVFixture.vf`), removed afterwards. C creates its one VF in
/// `main()`, for the whole process; a VF per case tripled the time. Nothing is created when the
/// cases cannot run (no PF, not root, no SR-IOV, VFs already there, vfio-pci without
/// `enable_sriov=1`): each case then says why (`requireSRIOVVF`).
struct SRIOVVFScope: SuiteTrait, TestScoping {
  /// The suite alone, once (not each case).
  func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
    test.isSuite && testCase == nil ? self : nil
  }

  func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
    guard case .device(let pf) = HardwareEnvironment.sriovPF(), SRIOVFixture.vf == nil, HostCapabilities().isRoot,
          (try? SRIOVFixture.skipReason(pf)) == .some(nil), SRIOVFixture.vfioPCISRIOVDisabled() == nil
    else { return try await function() }
    try await SRIOVFixture.withVF(under: pf) { vf in
      try await SRIOVFixture.$vf.withValue(vf) { try await function() }
    }
  }
}

extension Trait where Self == SRIOVVFScope {
  /// One VF under the SR-IOV PF for all the suite's cases.
  static var sriovVF: Self { SRIOVVFScope() }
}

// SPDX-License-Identifier: GPL-2.0-only
// The SR-IOV PF the vfio_pci_sriov_uapi_test suites use, and the one VF each suite's tests share
// (the C test's vf_setup/vf_teardown, run around each suite rather than once per process).
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

/// The VF that `RequiresSRIOVVF` created for the running test.
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

/// Needs the SR-IOV PF from `VFIO_SELFTESTS_SRIOV_BDF` usable in `mode` (as `.vfioDevice` checks
/// it), with SR-IOV and no VFs yet; skips with the C test's reasons otherwise. Around each suite
/// it creates one VF, bound to vfio-pci, and removes it afterwards (`SRIOVFixture.vf`).
///
/// vfio-pci loaded without `enable_sriov=1` skips, or fails with `VFIO_SELFTESTS_STRICT`
/// (`1` or a list with `sriov`).
struct RequiresSRIOVVF: TestTrait, SuiteTrait, TestScoping {
  let mode: IOMMUMode
  var isRecursive: Bool { true }

  func prepare(for test: Test) async throws {
    guard !test.isSuite else { return }
    try await RequiresVFIODevice(mode: mode, feature: nil, variable: HardwareEnvironment.sriovPFVariable).prepare(for: test)
    guard case .device(let pf) = HardwareEnvironment.sriovPF() else { return }
    if let reason = try SRIOVFixture.skipReason(pf) { try Test.cancel(Comment(rawValue: reason)) }
    if let reason = SRIOVFixture.vfioPCISRIOVDisabled() {
      if HardwareEnvironment.isStrict(.sriov) { throw RequirementFailure(description: "VFIO_SELFTESTS_STRICT (sriov): \(reason)") }
      try Test.cancel(Comment(rawValue: reason))
    }
  }

  /// Scopes the suite itself too (a recursive suite trait scopes only each test case by default).
  func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
    test.isSuite || testCase != nil ? self : nil
  }

  /// One VF for all the tests of a suite (C creates its one VF in `main()`, for the whole
  /// process; a VF per test tripled the suite's time), created around the suite when its tests
  /// can run at all (prepare, at planning, has already cancelled them otherwise); a test that
  /// runs outside such a suite gets its own.
  func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
    guard case .device(let pf) = HardwareEnvironment.sriovPF(), SRIOVFixture.vf == nil else { return try await function() }
    if test.isSuite {
      var runnable = false
      do { runnable = try SRIOVFixture.skipReason(pf) == nil } catch {}
      guard runnable, SRIOVFixture.vfioPCISRIOVDisabled() == nil else { return try await function() }
    }
    try await SRIOVFixture.withVF(under: pf) { vf in
      try await SRIOVFixture.$vf.withValue(vf) { try await function() }
    }
  }
}

extension Trait where Self == RequiresSRIOVVF {
  /// The SR-IOV PF from `VFIO_SELFTESTS_SRIOV_BDF` in `mode`, and one fresh VF per test.
  static func sriovVF(_ mode: IOMMUMode) -> Self { RequiresSRIOVVF(mode: mode) }
}

// SPDX-License-Identifier: GPL-2.0-only
// The port of tools/testing/selftests/vfio/vfio_pci_sriov_uapi_test.c (Linux 7.3): whether the
// kernel grants a VF only to a user presenting its PF's VF token, through the group
// (VFIO_GROUP_GET_DEVICE_FD "<bdf> vf_token=<uuid>") and through the cdev (VFIO_DEVICE_BIND_IOMMUFD
// with VFIO_DEVICE_BIND_FLAG_TOKEN).
//
// The PF comes from VFIO_SELFTESTS_SRIOV_BDF; the suite trait `.sriovVF` creates one VF for the
// whole suite and removes it afterwards (the C test creates it once per process). Fixture
// `vfio_pci_sriov_uapi_test` with the C variants <mode>_{same,diff,null}_uuid: one parameterized
// test per C test, one case per variant (`SRIOVVariant`), each case checking its mode and the VF
// (`requireSRIOVVF`); `vfio-selftests run` names each case `vfio_pci_sriov_uapi_test.<variant>.<test>`.
import LibVFIO
import SystemPackage
import Testing

enum VFIOPCISRIOVUAPITest {
  static let uuid1 = VFToken("52ac9bff-3a88-4fbd-901a-0d767c3b6c97")!
  static let uuid2 = VFToken("88594674-90a0-47a9-aea8-9d9b352ac08a")!

  /// The token a variant opens the VF with.
  enum Variant: String, CaseIterable, Sendable {
    case same = "same_uuid", diff = "diff_uuid", null = "null_uuid"

    var vfToken: VFToken? {
      switch self {
      case .same: uuid1
      case .diff: uuid2
      case .null: nil
      }
    }
  }

  /// `FIXTURE(vfio_pci_sriov_uapi_test)`: the IOMMU, the PF opened with UUID_1, the VF once a
  /// test opens it, and the PF token the test expects the kernel to hold.
  final class Fixture {
    let mode: IOMMUMode
    let variant: Variant
    let iommu: IOMMU
    var pf: VFIODeviceFile?
    var vf: VFIODeviceFile?
    var pfToken = uuid1

    /// `FIXTURE_SETUP`: `iommu_init`, then the PF with `pf_token` (UUID_1), which must be granted.
    init(mode: IOMMUMode, variant: Variant) throws {
      self.mode = mode
      self.variant = variant
      iommu = try IOMMU(mode: mode)
      let address = try sriovPF()
      let pf = try VFIODeviceFile(address: address, iommu: iommu, vfToken: pfToken)
      self.pf = pf
      try #require(pf.isGranted, "PF \(address): \(pf.accessOperation) failed: \(pf.refusal.map(Errno.name(of:)) ?? "")")
    }

    /// `FIXTURE_TEARDOWN`: the VF, then the PF, then the IOMMU.
    deinit {
      vf?.close()
      pf?.close()
      iommu.close()
    }

    /// `device_init(vf_bdf, iommu, variant->vf_token)`; the kernel's answer is `refusal`.
    func openVF() throws -> VFIODeviceFile {
      let address = try #require(SRIOVFixture.vf, "no VF (the .sriovVF trait creates it)")
      let vf = try VFIODeviceFile(address: address, iommu: iommu, vfToken: variant.vfToken)
      self.vf = vf
      return vf
    }

    /// `ASSERT_COND_VF_CREATION`: the VF is granted exactly when the variant's token is the PF's
    /// current one. Like the C test, a refusal is not checked for a particular errno; the
    /// message and the log name it.
    func expectVFCreation(_ vf: VFIODeviceFile) {
      let presented = variant.vfToken.map { "vf_token=\($0)" } ?? "no vf_token"
      let outcome = vf.refusal.map { "refused: \(Errno.name(of: $0)) (\($0.rawValue))" } ?? "granted"
      let what = "VF \(vf.address), \(mode), \(presented), PF token \(pfToken): \(vf.accessOperation) \(outcome)"
      print(what)
      if let token = variant.vfToken, token == pfToken {
        #expect(vf.isGranted, Comment(rawValue: "\(what); expected the VF to be granted"))
      } else {
        #expect(!vf.isGranted, Comment(rawValue: "\(what); expected a refusal"))
      }
    }
  }

  static func sriovPF() throws -> PCIAddress {
    guard case .device(let address) = HardwareEnvironment.sriovPF() else {
      throw VFIOError.unexpected(operation: "test setup", device: "-", detail: "no SR-IOV PF (the trait should have skipped)")
    }
    return address
  }

  /// `vfio_pci_sriov_uapi_test.<variant>.init_token_match`: the VF with the variant's token.
  static func initTokenMatch(_ mode: IOMMUMode, _ variant: Variant) throws {
    let f = try Fixture(mode: mode, variant: variant)
    f.expectVFCreation(try f.openVF())
  }

  /// `vfio_pci_sriov_uapi_test.<variant>.pf_early_close`: the PF closed (device fd and group)
  /// first; its token still guards the VF.
  static func pfEarlyClose(_ mode: IOMMUMode, _ variant: Variant) throws {
    let f = try Fixture(mode: mode, variant: variant)
    f.pf?.close()
    f.pf = nil
    f.expectVFCreation(try f.openVF())
  }

  /// `vfio_pci_sriov_uapi_test.<variant>.override_token`: the PF's token set to UUID_2 through
  /// `VFIO_DEVICE_FEATURE_PCI_VF_TOKEN`; only that one opens the VF now.
  static func overrideToken(_ mode: IOMMUMode, _ variant: Variant) throws {
    let f = try Fixture(mode: mode, variant: variant)
    f.pfToken = uuid2
    let pf = try #require(f.pf)
    try pf.setVFToken(f.pfToken)
    f.expectVFCreation(try f.openVF())
  }
}

/// One C variant: `FIXTURE_VARIANT_ADD_ALL_IOMMU_MODES` x {same,diff,null}_uuid, named as C
/// names it (`vfio_type1_iommu_same_uuid`), the argument of each test's case.
struct SRIOVVariant: Sendable, CustomStringConvertible, CustomTestStringConvertible {
  let mode: IOMMUMode
  let token: VFIOPCISRIOVUAPITest.Variant

  var description: String { "\(mode.rawValue)_\(token.rawValue)" }
  var testDescription: String { description }

  /// The variants of the modes this run tests, in C's order (mode by mode, then same, diff, null).
  static func underTest() throws -> [SRIOVVariant] {
    // In the order `vfio-selftests` names unlisted cases by (IOMMUMode.sriovUAPIVariantTokens).
    let tokens = IOMMUMode.sriovUAPIVariantTokens.compactMap(VFIOPCISRIOVUAPITest.Variant.init(rawValue:))
    return try IOMMUMode.underTest().flatMap { mode in tokens.map { SRIOVVariant(mode: mode, token: $0) } }
  }
}

extension Hardware {
  @Suite("vfio_pci_sriov_uapi_test", .tags(.sriovVariants), .sriovVF, .hangGuard)
  struct vfio_pci_sriov_uapi_test {
    @Test(arguments: try SRIOVVariant.underTest())
    func init_token_match(_ v: SRIOVVariant) throws {
      try requireSRIOVVF(v.mode)
      try VFIOPCISRIOVUAPITest.initTokenMatch(v.mode, v.token)
    }

    @Test(arguments: try SRIOVVariant.underTest())
    func pf_early_close(_ v: SRIOVVariant) throws {
      try requireSRIOVVF(v.mode)
      try VFIOPCISRIOVUAPITest.pfEarlyClose(v.mode, v.token)
    }

    @Test(arguments: try SRIOVVariant.underTest())
    func override_token(_ v: SRIOVVariant) throws {
      try requireSRIOVVF(v.mode)
      try VFIOPCISRIOVUAPITest.overrideToken(v.mode, v.token)
    }
  }
}

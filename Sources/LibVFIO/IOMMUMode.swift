// SPDX-License-Identifier: GPL-2.0-only
/// The five iommu modes of the C selftests (`FIXTURE_VARIANT_ADD_ALL_IOMMU_MODES`), in their order.
public enum IOMMUMode: String, CaseIterable, Sendable, CustomStringConvertible {
  case vfioType1 = "vfio_type1_iommu"
  case vfioType1v2 = "vfio_type1v2_iommu"
  case iommufdCompatType1 = "iommufd_compat_type1"
  case iommufdCompatType1v2 = "iommufd_compat_type1v2"
  case iommufd = "iommufd"

  /// libvfio's `default_iommu_mode`.
  public static let `default` = IOMMUMode.iommufd

  /// Looks a mode up by its C name, throwing `VFIOError.unknownIOMMUMode`.
  public init(named name: String) throws(VFIOError) {
    guard let m = IOMMUMode(rawValue: name) else { throw .unknownIOMMUMode(name) }
    self = m
  }

  public var description: String { rawValue }

  /// The modes the suites parameterized over the iommu modes run, in C's order: those
  /// `VFIO_SELFTESTS_IOMMU_MODES` names (space or comma separated), else the one
  /// `VFIO_SELFTESTS_IOMMU_MODE` names, else all five. A test's cases of the other modes are not
  /// run nor reported at all. Read through the environment registry (`SelftestsEnvironment`).
  public static func underTest(environment: [String: String]) throws(VFIOError) -> [IOMMUMode] {
    try SelftestsEnvironment(values: environment).iommuModesUnderTest()
  }

  /// The modes vfio_migration_test's pci (Xe VF) tests run in. The suites take their cases from
  /// it and `vfio-selftests` names the cases Swift Testing did not list by it, so the two agree.
  public static let pciMigrationModes: [IOMMUMode] = [.vfioType1v2, .iommufd]

  /// vfio_pci_sriov_uapi_test's variants after the mode (`<mode>_same_uuid`, ...), in C's order;
  /// shared by the suite and `vfio-selftests` in the same way.
  public static let sriovUAPIVariantTokens = ["same_uuid", "diff_uuid", "null_uuid"]

  /// The container node a group is attached to, nil for the iommufd (cdev) mode.
  public var containerPath: String? {
    switch self {
    case .vfioType1, .vfioType1v2: "/dev/vfio/vfio"
    case .iommufdCompatType1, .iommufdCompatType1v2: "/dev/iommu"
    case .iommufd: nil
    }
  }

  /// The `VFIO_SET_IOMMU` type; 0 in iommufd mode.
  public var iommuType: UInt32 {
    switch self {
    case .vfioType1, .iommufdCompatType1: VFIO.TYPE1_IOMMU
    case .vfioType1v2, .iommufdCompatType1v2: VFIO.TYPE1v2_IOMMU
    case .iommufd: 0
    }
  }

  /// Whether devices are reached through an IOMMU group and a container (the four legacy-style
  /// modes) rather than through their cdev bound to an iommufd.
  public var usesContainer: Bool { containerPath != nil }

  /// What the mode needs from the kernel, in words.
  public var requirements: String {
    switch self {
    case .vfioType1, .vfioType1v2:
      "the VFIO container /dev/vfio/vfio (CONFIG_VFIO_CONTAINER) with VFIO_SET_IOMMU type \(iommuType) (vfio_iommu_type1)"
    case .iommufdCompatType1, .iommufdCompatType1v2:
      "/dev/iommu (iommufd) used as a VFIO container, VFIO_SET_IOMMU type \(iommuType)"
    case .iommufd:
      "/dev/iommu (iommufd) and the device's VFIO cdev /dev/vfio/devices/vfioN (CONFIG_VFIO_DEVICE_CDEV)"
    }
  }
}

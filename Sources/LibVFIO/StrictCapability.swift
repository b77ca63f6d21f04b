// SPDX-License-Identifier: GPL-2.0-only
/// A kernel capability a strict run (`VFIO_SELFTESTS_STRICT`) expects: missing, the tests that
/// need it fail instead of skipping. The one list of these names.
public enum StrictCapability: String, CaseIterable, Sendable, CustomStringConvertible {
  case vfioContainer = "vfio-container"
  case iommufd = "iommufd"
  case vfioCdev = "vfio-cdev"
  case liveUpdate = "liveupdate"
  case vfioLiveUpdate = "vfio-liveupdate"
  case sriov = "sriov"

  public var description: String { rawValue }

  /// The capability a mode needs (`device`: to open a device in it, which in iommufd mode is
  /// the VFIO cdev).
  public init(for mode: IOMMUMode, device: Bool) {
    switch mode {
    case .vfioType1, .vfioType1v2: self = .vfioContainer
    case .iommufdCompatType1, .iommufdCompatType1v2: self = .iommufd
    case .iommufd: self = device ? .vfioCdev : .iommufd
    }
  }

  /// The capabilities of a whole VFIO program: any of these makes its absence a failure.
  public static let vfio: [StrictCapability] = [.vfioContainer, .vfioCdev, .iommufd]
}

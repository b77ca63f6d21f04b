// SPDX-License-Identifier: GPL-2.0-only
import SystemPackage

/// What this kernel and machine offer for VFIO tests, each missing piece with a reason that a
/// skip message can carry as is ("not root", "kernel has no iommufd (no /dev/iommu)").
public struct HostCapabilities: Sendable {
  public let paths: SystemPaths
  public let sysfs: PCISysfs

  public init(paths: SystemPaths = .system) {
    self.paths = paths
    self.sysfs = PCISysfs(paths: paths)
  }

  public var isRoot: Bool { Syscalls.effectiveUserID == 0 }

  /// The reason `mode` cannot be used on this kernel, or nil when it can. Probes the container
  /// with `VFIO_CHECK_EXTENSION` where the mode needs one.
  public func unavailability(of mode: IOMMUMode) -> String? {
    switch mode {
    case .vfioType1, .vfioType1v2:
      let path = "\(paths.dev)/vfio/vfio"
      guard FileSystem.exists(path) else { return "no /dev/vfio/vfio (kernel has no VFIO container: vfio not loaded or CONFIG_VFIO_CONTAINER=n)" }
      return checkExtension(path, mode)
    case .iommufdCompatType1, .iommufdCompatType1v2:
      let path = "\(paths.dev)/iommu"
      guard FileSystem.exists(path) else { return "kernel has no iommufd (no /dev/iommu)" }
      return checkExtension(path, mode)
    case .iommufd:
      guard FileSystem.exists("\(paths.dev)/iommu") else { return "kernel has no iommufd (no /dev/iommu)" }
      return nil
    }
  }

  private func checkExtension(_ path: String, _ mode: IOMMUMode) -> String? {
    switch openFile(path, .readWrite) {
    case .failure(let e):
      return "cannot open \(path): \(Errno.name(of: e))"
    case .success(let fd):
      defer { try? fd.close() }
      switch fd.ioctl(VFIO.CHECK_EXTENSION, value: UInt(mode.iommuType)) {
      case .success(let n) where n > 0: return nil
      case .success: return "\(path) does not support VFIO IOMMU type \(mode.iommuType) (vfio_iommu_type1 not loaded?)"
      case .failure(let e): return "ioctl(\(path), VFIO_CHECK_EXTENSION, \(mode.iommuType)) failed: \(Errno.name(of: e))"
      }
    }
  }

  /// The reason `address` cannot be opened through VFIO in `mode`, or nil when it can.
  public func deviceUnavailability(_ address: PCIAddress, mode: IOMMUMode) -> String? {
    guard sysfs.exists(address) else { return "no PCI device \(address)" }
    let driver = (try? sysfs.driver(address)) ?? nil
    guard driver == "vfio-pci" else {
      return "\(address) is bound to \(driver ?? "no driver"), not vfio-pci (run: vfio-selftests setup \(address))"
    }
    if mode == .iommufd {
      guard (try? sysfs.vfioCdevPath(address)) ?? nil != nil else {
        return "kernel has no VFIO cdev for \(address) (no vfio-dev/ in sysfs: CONFIG_VFIO_DEVICE_CDEV=n)"
      }
    } else {
      guard (try? sysfs.iommuGroup(address)) != nil else { return "\(address) has no IOMMU group" }
    }
    return nil
  }
}

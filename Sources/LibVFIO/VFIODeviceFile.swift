// SPDX-License-Identifier: GPL-2.0-only
import SystemPackage

/// A VFIO PCI device opened only as far as the kernel's access check, presenting an optional
/// VF token: the local `device_init` of `vfio_pci_sriov_uapi_test`. Unlike `VFIOPCIDevice` it
/// reads no region or IRQ info, maps no BAR and attaches to no IOAS.
///
/// - Container modes: opens the device's group, attaches it to the IOMMU's container and sets
///   the IOMMU type (failures throw), then `VFIO_GROUP_GET_DEVICE_FD` with `"<bdf>"` or
///   `"<bdf> vf_token=<uuid>"`.
/// - `iommufd` mode: opens the cdev (failures throw), then `VFIO_DEVICE_BIND_IOMMUFD`, with
///   `VFIO_DEVICE_BIND_FLAG_TOKEN` and the token when one is given.
///
/// The kernel may refuse that last ioctl (a missing or wrong VF token): `refusal` is its errno,
/// nil when the device was granted. `close()` closes the device fd, then the group; it runs once.
public final class VFIODeviceFile {
  public let address: PCIAddress
  public let iommu: IOMMU
  /// The token presented, if any.
  public let vfToken: VFToken?
  /// The device's group, in container modes.
  public private(set) var group: VFIOGroup?
  /// The device fd (container modes, when granted) or the cdev fd (`iommufd` mode, open whether
  /// or not the bind succeeded).
  public private(set) var fd: FileDescriptor?
  /// The ioctl that checked the token, as messages name it.
  public let accessOperation: String
  /// The errno of that ioctl when the kernel refused the device; nil when it granted it.
  public let refusal: Errno?

  public var isGranted: Bool { refusal == nil }

  public init(address: PCIAddress, iommu: IOMMU, vfToken: VFToken?, sysfs: PCISysfs = PCISysfs()) throws(VFIOError) {
    self.address = address
    self.iommu = iommu
    self.vfToken = vfToken
    let name = address.description
    try sysfs.requireDevice(address)
    if iommu.mode.usesContainer {
      let group = try VFIOGroup(for: address, iommu: iommu, sysfs: sysfs)
      self.group = group
      accessOperation = "ioctl(VFIO_GROUP_GET_DEVICE_FD, \"\(group.deviceName(vfToken: vfToken))\")"
      switch group.deviceFDResult(vfToken: vfToken) {
      case .success(let fd): self.fd = fd; refusal = nil
      case .failure(let e): refusal = e
      }
    } else {
      guard let iommufd = iommu.iommufd else {
        throw .unexpected(operation: "bind", device: name, detail: "iommu has no iommufd")
      }
      let path = try sysfs.requireVFIOCdevPath(.pci(address))
      let cdev = try openFile(path, .readWrite).get("open(\(path))", device: name)
      fd = cdev
      accessOperation = "ioctl(VFIO_DEVICE_BIND_IOMMUFD\(vfToken.map { ", token \($0)" } ?? ""))"
      switch VFIOPCIDevice.bindIOMMUFDResult(cdev, iommufd: iommufd.rawValue, vfToken: vfToken) {
      case .success: refusal = nil
      case .failure(let e): refusal = e
      }
    }
  }

  deinit { close() }

  /// Sets the VF token of this device, a PF (`VFIO_DEVICE_FEATURE` with `SET | PCI_VF_TOKEN`).
  public func setVFToken(_ token: VFToken) throws(VFIOError) {
    let operation = "ioctl(VFIO_DEVICE_FEATURE, SET PCI_VF_TOKEN \(token))"
    guard let fd, isGranted else {
      throw .unexpected(operation: operation, device: address.description, detail: "the device was not granted (\(accessOperation) failed)")
    }
    try token.setResult(on: fd).get(operation, device: address.description)
  }

  /// Closes the device fd, then the group (C `device_cleanup`). Safe to call more than once.
  public func close() {
    try? fd?.close()
    fd = nil
    group?.close()
    group = nil
  }
}

extension VFIODeviceFile: CustomStringConvertible {
  public var description: String { address.description }
}

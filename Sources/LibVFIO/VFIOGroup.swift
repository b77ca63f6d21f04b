// SPDX-License-Identifier: GPL-2.0-only
import CVFIOShim
import SystemPackage

/// An open VFIO group (`/dev/vfio/<N>`) attached to a container: the container-mode way to a
/// device fd (libvfio's `vfio_pci_group_setup` + `vfio_container_set_iommu`).
public final class VFIOGroup {
  public let number: Int
  public let path: String
  public private(set) var fd: FileDescriptor?
  /// The device this group was opened for (a PCI function or an mdev).
  public let device: VFIODeviceID
  var address: String { device.description }

  /// Opens the device's group, checks it is viable, attaches it to `iommu`'s container and sets
  /// the container's IOMMU type.
  public convenience init(for address: PCIAddress, iommu: IOMMU, sysfs: PCISysfs = PCISysfs()) throws(VFIOError) {
    try self.init(for: .pci(address), iommu: iommu, sysfs: sysfs)
  }

  /// The same for a PCI function or an mdev (whose group is the emulated one vfio gives it).
  public init(for device: VFIODeviceID, iommu: IOMMU, sysfs: PCISysfs = PCISysfs()) throws(VFIOError) {
    guard let container = iommu.containerFD else {
      throw .unexpected(operation: "group setup", device: device.description, detail: "iommu mode \(iommu.mode) has no container")
    }
    self.device = device
    let address = device.description
    number = try sysfs.iommuGroup(device)
    path = "\(sysfs.paths.dev)/vfio/\(number)"
    let fd = try openFile(path, .readWrite).get("open(\(path))", device: address)
    self.fd = fd

    var status = vfio_group_status()
    status.argsz = UInt32(MemoryLayout<vfio_group_status>.size)
    _ = try fd.ioctl(VFIO.GROUP_GET_STATUS, &status).get("ioctl(VFIO_GROUP_GET_STATUS)", device: address)
    guard status.flags & VFIO.GROUP_FLAGS_VIABLE != 0 else {
      throw .unexpected(operation: "ioctl(VFIO_GROUP_GET_STATUS)", device: address,
                        detail: "group \(number) is not viable: bind every device in it to vfio-pci or unbind it")
    }
    var containerRaw = container.rawValue
    _ = try fd.ioctl(VFIO.GROUP_SET_CONTAINER, &containerRaw).get("ioctl(VFIO_GROUP_SET_CONTAINER)", device: address)

    let type = iommu.mode.iommuType
    let supported = try container.ioctl(VFIO.CHECK_EXTENSION, value: UInt(type)).get("ioctl(VFIO_CHECK_EXTENSION, \(type))", device: address)
    guard supported > 0 else {
      throw .unexpected(operation: "ioctl(VFIO_CHECK_EXTENSION)", device: address, detail: "VFIO IOMMU type \(type) not supported")
    }
    // Like libvfio, ignore the result: another device may already have set the container's IOMMU.
    _ = container.ioctl(VFIO.SET_IOMMU, value: UInt(type))
  }

  deinit { close() }

  public func close() {
    try? fd?.close()
    fd = nil
  }

  /// `VFIO_GROUP_GET_DEVICE_FD` with `"<bdf>"` (or an mdev's `"<uuid>"`) or
  /// `"<bdf> vf_token=<uuid>"`; the errno on failure.
  public func deviceFDResult(vfToken: VFToken? = nil) -> Result<FileDescriptor, Errno> {
    guard let fd else { return .failure(.badFileDescriptor) }
    return fd.ioctl(VFIO.GROUP_GET_DEVICE_FD, string: deviceName(vfToken: vfToken)).map { FileDescriptor(rawValue: $0) }
  }

  /// The name `VFIO_GROUP_GET_DEVICE_FD` is given: `"<bdf>"` or `"<bdf> vf_token=<uuid>"`.
  public func deviceName(vfToken: VFToken?) -> String {
    vfToken.map { "\(address) vf_token=\($0)" } ?? address
  }
}

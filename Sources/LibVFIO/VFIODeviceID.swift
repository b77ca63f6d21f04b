// SPDX-License-Identifier: GPL-2.0-only
/// What names a VFIO device: a PCI function (`0000:00:03.0`, bound to a VFIO PCI driver) or a
/// mediated device (an mdev, named by its UUID, such as an `mtty` instance). The description is
/// the name `VFIO_GROUP_GET_DEVICE_FD` takes and the one error messages carry.
public enum VFIODeviceID: Hashable, Sendable, CustomStringConvertible {
  case pci(PCIAddress)
  case mdev(uuid: String)

  public var description: String {
    switch self {
    case .pci(let a): a.description
    case .mdev(let uuid): uuid
    }
  }

  /// The PCI address, nil for an mdev.
  public var pciAddress: PCIAddress? {
    if case .pci(let a) = self { return a }
    return nil
  }

  /// The PCI address, or for an mdev `VFIOError.unexpected` naming `operation` and the mdev.
  public func requirePCIAddress(for operation: String) throws(VFIOError) -> PCIAddress {
    guard let a = pciAddress else {
      throw .unexpected(operation: operation, device: description, detail: "an mdev has no PCI address")
    }
    return a
  }
}

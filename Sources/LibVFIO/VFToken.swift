// SPDX-License-Identifier: GPL-2.0-only
import CVFIOShim
import SystemPackage

/// An SR-IOV VF token: the UUID that a vfio-pci PF and its VFs share (linux/vfio.h). A user
/// presents it as `vf_token=<uuid>` in `VFIO_GROUP_GET_DEVICE_FD`, as `token_uuid_ptr` in
/// `VFIO_DEVICE_BIND_IOMMUFD`, and sets the PF's with `VFIO_DEVICE_FEATURE_PCI_VF_TOKEN`.
public struct VFToken: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
  /// The 16 bytes of the `uuid_t`, in the order the text spells them.
  public let bytes: [UInt8]

  /// Parses the 36-character form (`8-4-4-4-12` hex digits), as `uuid_parse` does; nil otherwise.
  public init?(_ text: String) {
    try? self.init(parsing: text)
  }

  /// Parses the 36-character form, throwing `VFIOError.invalidVFToken` naming the input.
  public init(parsing text: String) throws(VFIOError) {
    let chars = Array(text.utf8)
    guard chars.count == 36 else { throw .invalidVFToken(text) }
    var bytes: [UInt8] = []
    var i = 0
    while i < 36 {
      if i == 8 || i == 13 || i == 18 || i == 23 {
        guard chars[i] == UInt8(ascii: "-") else { throw .invalidVFToken(text) }
        i += 1
        continue
      }
      guard let hi = Self.nibble(chars[i]), let lo = Self.nibble(chars[i + 1]) else { throw .invalidVFToken(text) }
      bytes.append(hi << 4 | lo)
      i += 2
    }
    self.bytes = bytes
  }

  private static func nibble(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
    default: nil
    }
  }

  /// The lower-case 36-character form (what `uuid_unparse` writes).
  public var description: String {
    var s = ""
    for (i, b) in bytes.enumerated() {
      if i == 4 || i == 6 || i == 8 || i == 10 { s += "-" }
      s += String(b >> 4, radix: 16) + String(b & 0xF, radix: 16)
    }
    return s
  }

  /// The `uuid_t` as a fixed-size value, the payload of `VFIO_DEVICE_FEATURE_PCI_VF_TOKEN`.
  typealias UUIDBytes = (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                         UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

  var uuid: UUIDBytes {
    let b = bytes
    return (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
  }

  /// `VFIO_DEVICE_FEATURE` with `SET | PCI_VF_TOKEN` and this UUID on a PF's device fd (libvfio's
  /// `vfio_device_set_vf_token`); the errno on failure (ENOTTY for a device that is not a PF
  /// under vfio-pci).
  public func setResult(on fd: FileDescriptor) -> Result<Void, Errno> {
    VFIOPCIDevice.featureResult(on: fd, VFIO.DEVICE_FEATURE_SET | VFIO.DEVICE_FEATURE_PCI_VF_TOKEN, uuid).map { _ in () }
  }
}

extension VFIOPCIDevice {
  /// Sets this PF's VF token (`VFIO_DEVICE_FEATURE_PCI_VF_TOKEN`).
  public func setVFToken(_ token: VFToken) throws(VFIOError) {
    try token.setResult(on: fd).get("ioctl(VFIO_DEVICE_FEATURE, SET PCI_VF_TOKEN \(token))", device: name)
  }
}

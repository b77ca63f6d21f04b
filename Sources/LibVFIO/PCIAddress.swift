// SPDX-License-Identifier: GPL-2.0-only
/// A PCI function address, `DDDD:BB:DD.F` (domain, bus, device, function).
///
/// Parsing accepts what the C selftests' `is_bdf()` accepts and validates the ranges PCI allows:
/// `0000:00:03.0`, `0:0:3.0`, and `00:03.0` (no domain means domain 0).
public struct PCIAddress: Hashable, Sendable, Comparable, CustomStringConvertible, LosslessStringConvertible {
  public let domain: UInt16
  public let bus: UInt8
  public let device: UInt8
  public let function: UInt8

  public init(domain: UInt16 = 0, bus: UInt8, device: UInt8, function: UInt8) {
    precondition(device < 32 && function < 8, "PCI device must be < 32 and function < 8")
    self.domain = domain
    self.bus = bus
    self.device = device
    self.function = function
  }

  /// Parses `DDDD:BB:DD.F` or `BB:DD.F`; returns nil for anything else.
  public init?(_ text: String) {
    try? self.init(parsing: text)
  }

  /// Parses `DDDD:BB:DD.F` or `BB:DD.F`, throwing `VFIOError.invalidAddress` naming the input.
  public init(parsing text: String) throws(VFIOError) {
    let colon = text.split(separator: ":", omittingEmptySubsequences: false)
    guard colon.count == 2 || colon.count == 3 else { throw .invalidAddress(text) }
    let dotted = colon[colon.count - 1].split(separator: ".", omittingEmptySubsequences: false)
    guard dotted.count == 2 else { throw .invalidAddress(text) }
    func hex(_ s: Substring, maxDigits: Int, max: UInt32) throws(VFIOError) -> UInt32 {
      guard !s.isEmpty, s.count <= maxDigits, s.allSatisfy(\.isHexDigit), let v = UInt32(s, radix: 16), v <= max
      else { throw .invalidAddress(text) }
      return v
    }
    let domain = colon.count == 3 ? try hex(colon[0], maxDigits: 4, max: 0xFFFF) : 0
    let bus = try hex(colon[colon.count - 2], maxDigits: 2, max: 0xFF)
    let device = try hex(dotted[0], maxDigits: 2, max: 0x1F)
    let function = try hex(dotted[1], maxDigits: 1, max: 7)
    self.init(domain: UInt16(domain), bus: UInt8(bus), device: UInt8(device), function: UInt8(function))
  }

  /// The canonical sysfs spelling, `0000:00:03.0`.
  /// Every device open and sysfs path spells it, so it is built once into 12 bytes (one small
  /// string, not a dozen radix conversions and concatenations).
  public var description: String {
    func digit(_ v: UInt16) -> UInt8 { UInt8(truncatingIfNeeded: v < 10 ? 0x30 + v : 0x57 + v) }
    let d = domain, b = UInt16(bus), dv = UInt16(device)
    let bytes: [UInt8] = [
      digit(d >> 12), digit(d >> 8 & 0xf), digit(d >> 4 & 0xf), digit(d & 0xf), 0x3a,
      digit(b >> 4), digit(b & 0xf), 0x3a, digit(dv >> 4), digit(dv & 0xf), 0x2e, digit(UInt16(function)),
    ]
    return String(decoding: bytes, as: UTF8.self)
  }

  public static func < (a: PCIAddress, b: PCIAddress) -> Bool {
    (a.domain, a.bus, a.device, a.function) < (b.domain, b.bus, b.device, b.function)
  }
}

/// `v` in lowercase hex, zero-padded to `width` digits (`%0*x`).
package func hex<T: BinaryInteger>(_ v: T, width: Int) -> String {
  let s = String(v, radix: 16)
  return String(repeating: "0", count: max(0, width - s.count)) + s
}

// SPDX-License-Identifier: GPL-2.0-only
/// An inclusive IOVA range `[start, last]`, as the kernel reports usable IOVA space.
public struct IOVARange: Equatable, Sendable, CustomStringConvertible {
  public var start: UInt64
  public var last: UInt64
  public init(start: UInt64, last: UInt64) {
    self.start = start
    self.last = last
  }
  public var description: String { "[0x\(String(start, radix: 16)), 0x\(String(last, radix: 16))]" }
}

/// Hands out naturally aligned IOVAs from the ranges the IOMMU reports, like libvfio's
/// `iova_allocator.c`: power-of-two sizes, aligned up to their size, never crossing a range.
public struct IOVAAllocator: Sendable {
  public let ranges: [IOVARange]
  private var rangeIndex = 0
  private var rangeOffset: UInt64 = 0

  /// Why an allocation failed: the kind of a `VFIOError.iovaAllocation`.
  public enum AllocationError: Equatable, CustomStringConvertible, Sendable {
    case sizeNotPowerOfTwo(UInt64)
    case outOfSpace(UInt64)
    public var description: String {
      switch self {
      case .sizeNotPowerOfTwo(let s): "IOVA allocation size 0x\(String(s, radix: 16)) is not a non-zero power of two"
      case .outOfSpace(let s): "IOVA allocator out of space (size 0x\(String(s, radix: 16)))"
      }
    }
  }

  public init(ranges: [IOVARange]) {
    self.ranges = ranges
  }

  /// Allocates only IOVAs a device with DMA mask `dmaMask` reaches: the ranges cut at the mask.
  /// (Not in C, whose selftest drivers all reach 64 bits; QEMU's edu reaches 28.)
  public init(ranges: [IOVARange], dmaMask: UInt64) {
    self.ranges = ranges.compactMap { r in
      r.start > dmaMask ? nil : IOVARange(start: r.start, last: min(r.last, dmaMask))
    }
  }

  public mutating func allocate(size: UInt64) throws(VFIOError) -> UInt64 {
    guard size > 0, size & (size - 1) == 0 else { throw .iovaAllocation(.sizeNotPowerOfTwo(size)) }
    while rangeIndex < ranges.count {
      let range = ranges[rangeIndex]
      let (base, o1) = range.start.addingReportingOverflow(rangeOffset)
      let (up, o2) = base.addingReportingOverflow(size - 1)
      if !o1 && !o2 {
        let iova = up & ~(size - 1)
        let (last, o3) = iova.addingReportingOverflow(size - 1)
        if !o3 && iova >= range.start && last <= range.last {
          if last == range.last {
            rangeIndex += 1
            rangeOffset = 0
          } else {
            rangeOffset = last + 1 - range.start
          }
          return iova
        }
      }
      rangeIndex += 1
      rangeOffset = 0
    }
    throw .iovaAllocation(.outOfSpace(size))
  }
}

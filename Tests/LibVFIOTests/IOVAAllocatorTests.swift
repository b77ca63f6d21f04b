// SPDX-License-Identifier: GPL-2.0-only
import LibVFIO
import Testing

@Suite("IOVAAllocator (iova_allocator.c)")
struct IOVAAllocatorTests {
  @Test func alignsUpToTheSize() throws {
    var a = IOVAAllocator(ranges: [IOVARange(start: 0x1000, last: 0xFFFF_FFFF)])
    #expect(try a.allocate(size: 0x1000) == 0x1000)
    // 0x2000 is the next free byte; a 64 KiB block must start at 0x10000.
    #expect(try a.allocate(size: 0x10000) == 0x10000)
    #expect(try a.allocate(size: 0x1000) == 0x20000)
    // A 2 MiB block after 0x21000 lands at 0x200000; the gap before it is never reused.
    #expect(try a.allocate(size: 0x200000) == 0x200000)
    #expect(try a.allocate(size: 0x1000) == 0x400000)
  }

  @Test func consecutiveAllocationsArePacked() throws {
    var a = IOVAAllocator(ranges: [IOVARange(start: 0, last: 0xFFFF)])
    let got = try (0..<16).map { _ in try a.allocate(size: 0x1000) }
    #expect(got == (0..<16).map { UInt64($0) * 0x1000 })
    #expect(throws: VFIOError.iovaAllocation(.outOfSpace(0x1000))) { try a.allocate(size: 0x1000) }
  }

  @Test func movesToTheNextRangeWhenABlockDoesNotFit() throws {
    var a = IOVAAllocator(ranges: [
      IOVARange(start: 0x1000, last: 0x3FFF),
      IOVARange(start: 0x10_0000, last: 0x1F_FFFF),
      IOVARange(start: 0x100_0000, last: 0x1FF_FFFF),
    ])
    #expect(try a.allocate(size: 0x1000) == 0x1000)
    // 0x4000 does not fit at 0x4000 (range ends at 0x3fff): the rest of range 0 is abandoned.
    #expect(try a.allocate(size: 0x4000) == 0x10_0000)
    #expect(try a.allocate(size: 0x1000) == 0x10_4000)
    // 1 MiB cannot be aligned inside range 1 any more; it goes to range 2.
    #expect(try a.allocate(size: 0x10_0000) == 0x100_0000)
    // and range 1 is not revisited.
    #expect(try a.allocate(size: 0x1000) == 0x110_0000)
  }

  @Test func exactFitAtTheEndOfARangeAdvancesToTheNext() throws {
    var a = IOVAAllocator(ranges: [IOVARange(start: 0x0, last: 0x1FFF), IOVARange(start: 0x8000, last: 0x8FFF)])
    #expect(try a.allocate(size: 0x1000) == 0x0)
    #expect(try a.allocate(size: 0x1000) == 0x1000)  // ends exactly at range.last
    #expect(try a.allocate(size: 0x1000) == 0x8000)  // exact fit of the whole second range
    #expect(throws: VFIOError.iovaAllocation(.outOfSpace(0x1))) { try a.allocate(size: 1) }
  }

  @Test func aBlockLargerThanEveryRangeIsOutOfSpace() {
    var a = IOVAAllocator(ranges: [IOVARange(start: 0, last: 0xFFF), IOVARange(start: 0x2000, last: 0x2FFF)])
    #expect(throws: VFIOError.iovaAllocation(.outOfSpace(0x2000))) { try a.allocate(size: 0x2000) }
    // The failed attempt consumed every range.
    #expect(throws: VFIOError.iovaAllocation(.outOfSpace(0x1000))) { try a.allocate(size: 0x1000) }
  }

  @Test func noRangesIsOutOfSpace() {
    var a = IOVAAllocator(ranges: [])
    #expect(throws: VFIOError.iovaAllocation(.outOfSpace(0x1000))) { try a.allocate(size: 0x1000) }
  }

  @Test("sizes that are not a non-zero power of two", arguments: [UInt64(0), 3, 0x1001, 0x3000, UInt64.max, (UInt64(1) << 63) + 1])
  func sizeNotPowerOfTwo(_ size: UInt64) throws {
    var a = IOVAAllocator(ranges: [IOVARange(start: 0, last: UInt64.max)])
    #expect(throws: VFIOError.iovaAllocation(.sizeNotPowerOfTwo(size))) { try a.allocate(size: size) }
    // A rejected size does not consume anything.
    #expect(try a.allocate(size: 0x1000) == 0)
  }

  @Test func rangeAtTheTopOfTheAddressSpaceDoesNotOverflow() throws {
    let top = IOVARange(start: 0xFFFF_FFFF_FFFF_0000, last: UInt64.max)
    var a = IOVAAllocator(ranges: [top])
    #expect(try a.allocate(size: 0x8000) == 0xFFFF_FFFF_FFFF_0000)
    #expect(try a.allocate(size: 0x8000) == 0xFFFF_FFFF_FFFF_8000)  // last == UInt64.max
    #expect(throws: VFIOError.iovaAllocation(.outOfSpace(0x1000))) { try a.allocate(size: 0x1000) }

    // Aligning up past UInt64.max must fail cleanly, not wrap to 0.
    var b = IOVAAllocator(ranges: [IOVARange(start: 0xFFFF_FFFF_FFFF_F001, last: UInt64.max)])
    #expect(throws: VFIOError.iovaAllocation(.outOfSpace(0x2000))) { try b.allocate(size: 0x2000) }
    var c = IOVAAllocator(ranges: [IOVARange(start: 0xFFFF_FFFF_FFFF_F001, last: UInt64.max), IOVARange(start: 0, last: 0xFFFF)])
    #expect(try c.allocate(size: 0x1000) == 0)  // nothing aligned fits in the top range

    // The whole 64-bit space with a 2^63 block: two of them, then nothing.
    var d = IOVAAllocator(ranges: [IOVARange(start: 0, last: UInt64.max)])
    #expect(try d.allocate(size: 1 << 63) == 0)
    #expect(try d.allocate(size: 1 << 63) == 1 << 63)
    #expect(throws: VFIOError.iovaAllocation(.outOfSpace(1))) { try d.allocate(size: 1) }
  }

  @Test func descriptions() {
    #expect(IOVARange(start: 0x1000, last: 0xfeefffff).description == "[0x1000, 0xfeefffff]")
    #expect(IOVAAllocator.AllocationError.sizeNotPowerOfTwo(3).description == "IOVA allocation size 0x3 is not a non-zero power of two")
    #expect(IOVAAllocator.AllocationError.outOfSpace(0x1000).description == "IOVA allocator out of space (size 0x1000)")
  }

  @Test func aDMAMaskCutsTheRanges() throws {
    let ranges = [IOVARange(start: 0, last: 0xFEDF_FFFF), IOVARange(start: 0xFEF0_0000, last: 0xFFFF_FFFF_FFFF)]
    #expect(IOVAAllocator(ranges: ranges, dmaMask: .max).ranges == ranges)
    #expect(IOVAAllocator(ranges: ranges, dmaMask: 0xFFF_FFFF).ranges == [IOVARange(start: 0, last: 0xFFF_FFFF)])
    #expect(IOVAAllocator(ranges: ranges, dmaMask: 0xFEF0_0000).ranges
      == [IOVARange(start: 0, last: 0xFEDF_FFFF), IOVARange(start: 0xFEF0_0000, last: 0xFEF0_0000)])
    // vfio_pci_driver_test's layout for edu (28 bits): 64 MiB, 2 MiB, 64 MiB, all below 256 MiB.
    var a = IOVAAllocator(ranges: ranges, dmaMask: 0xFFF_FFFF)
    #expect(try a.allocate(size: 64 << 20) == 0)
    #expect(try a.allocate(size: 2 << 20) == 64 << 20)
    #expect(try a.allocate(size: 64 << 20) == 128 << 20)
    #expect(try a.allocate(size: 64 << 20) == 192 << 20)
    #expect(throws: VFIOError.iovaAllocation(.outOfSpace(1 << 30))) { try a.allocate(size: 1 << 30) }
  }
}

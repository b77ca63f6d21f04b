// SPDX-License-Identifier: GPL-2.0-only
// The port of tools/testing/selftests/vfio/vfio_dma_mapping_mmio_test.c: DMA-map a BAR's MMIO
// mapping. VFIO type1 accepts it (map and unmap succeed); the iommufd-backed modes refuse it.
import Glibc
import LibVFIO
import SystemPackage
import Testing

enum VFIODMAMappingMMIOTest {
  /// `do_mmio_map_test`
  static func mapMMIO(_ device: VFIOPCIDevice, vaddr: UInt, size: UInt64) throws {
    var allocator = IOVAAllocator(ranges: try device.iommu.iovaRanges())
    let region = DMARegion(vaddr: vaddr, iova: try allocator.allocate(size: size), size: size)
    switch device.iommu.mode {
    case .vfioType1, .vfioType1v2:
      try device.iommu.map(region)
      try device.iommu.unmap(region)
    case .iommufdCompatType1, .iommufdCompatType1v2, .iommufd:
      #expect(throws: VFIOError.self, "DMA-mapping MMIO must fail in \(device.iommu.mode) mode") { try device.iommu.map(region) }
    }
  }

  /// The fixture: the device opened in `mode`, and its largest mapped read/write BAR. Without one
  /// the case skips, as C's `FIXTURE_SETUP` does on the device it opened (and `map_partial_bar`
  /// without `minimumSize` bytes of it, as C's test body does): checked on this open, not on a
  /// second one before it (an open and close cost as much as the rest of the case).
  static func withLargestBAR(_ mode: IOMMUMode, minimumSize: UInt64 = 0,
                             _ body: (VFIOPCIDevice, PCIBAR, MappedMemory) throws -> Void) throws {
    try withDevice(mode) { device in
      try DeviceFeature.mappableBAR(minimumSize: minimumSize).require(of: device)
      let bar = try #require(device.largestMappedBAR)
      try body(device, bar, try #require(bar.mapping))
    }
  }

  /// `map_full_bar`
  static func mapFullBAR(_ mode: IOMMUMode) throws {
    try withLargestBAR(mode) { device, bar, mapping in
      try mapMMIO(device, vaddr: mapping.address, size: bar.info.size)
    }
  }

  /// `map_partial_bar` (skips unless the BAR holds two pages)
  static func mapPartialBAR(_ mode: IOMMUMode) throws {
    try withLargestBAR(mode, minimumSize: 2 * UInt64(MappedMemory.pageSize)) { device, bar, mapping in
      try mapMMIO(device, vaddr: mapping.address, size: UInt64(MappedMemory.pageSize))
    }
  }

  /// `map_bar_misaligned`: the BAR mapped again one page off 1 GiB alignment.
  static func mapBARMisaligned(_ mode: IOMMUMode) throws {
    try withLargestBAR(mode) { device, bar, _ in
      let size = min(Int(bar.info.size), 1 << 30)
      let prot: MappedMemory.Protection = [.read, .write]
      let mapping = try MappedMemory.sharedAlignedResult(device.fd, fileOffset: Int64(bar.info.offset), size: size,
                                                   align: 1 << 30, alignOffset: MappedMemory.pageSize, protection: prot).get()
      #expect(mapping.address % UInt(1 << 30) == UInt(MappedMemory.pageSize))
      try mapMMIO(device, vaddr: mapping.address, size: UInt64(size))
      mapping.unmap()
    }
  }
}

extension Hardware {
  @Suite("vfio_dma_mapping_mmio_test", .tags(.iommuModes), .hangGuard)
  struct VFIODMAMappingMMIOSuite {
    // The mappable-BAR skip is the fixture's (`withLargestBAR`), on the case's own open.
    @Test(arguments: try IOMMUMode.underTest()) func map_full_bar(_ mode: IOMMUMode) throws {
      try requireVFIODevice(mode)
      try VFIODMAMappingMMIOTest.mapFullBAR(mode)
    }
    @Test(arguments: try IOMMUMode.underTest()) func map_partial_bar(_ mode: IOMMUMode) throws {
      try requireVFIODevice(mode)
      try VFIODMAMappingMMIOTest.mapPartialBAR(mode)
    }
    @Test(arguments: try IOMMUMode.underTest()) func map_bar_misaligned(_ mode: IOMMUMode) throws {
      try requireVFIODevice(mode)
      try VFIODMAMappingMMIOTest.mapBARMisaligned(mode)
    }
  }
}

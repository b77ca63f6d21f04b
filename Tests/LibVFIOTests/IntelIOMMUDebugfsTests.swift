// SPDX-License-Identifier: GPL-2.0-only
import Foundation
@testable import LibVFIO
import SystemPackage
import Testing

/// The parse of /sys/kernel/debug/iommu/intel/<bdf>/domain_translation_struct against dumps
/// copied from a guest run (kernel-debug, QEMU intel-iommu with 39-bit addresses, so a 3-level
/// table: PML5E and PML4E are 0), one file per mapping vfio_dma_mapping_test made at IOVA 0.
@Suite("IntelIOMMUDebugfs against dumps from a guest")
struct IntelIOMMUDebugfsTests {
  static let header = "IOVA_PFN         \tPML5E             \tPML4E             \tPDPE              \tPDE               \tPTE\n"

  /// vfio_type1v2_iommu, 4 KiB anonymous: a PTE.
  static let page4K = "Device 0000:00:03.0 @0x14290e000\n" + header
    + "0x0000000000000 |\t0x0000000000000000\t0x0000000000000000\t0x0000000142295403\t0x00000001422bf403\t0x00000001422d7003\n"

  /// vfio_type1v2_iommu, 2 MiB hugetlb: a PDE superpage, no PTE column.
  static let superpage2M = "Device 0000:00:03.0 @0x142aa0000\n" + header
    + "0x0000000000000 |\t0x0000000000000000\t0x0000000000000000\t0x0000000142295403\t0x000000015b400083\n"

  /// vfio_type1v2_iommu, 1 GiB hugetlb: a PDPE superpage, no PDE or PTE column.
  static let superpage1G = "Device 0000:00:03.0 @0x142295000\n" + header
    + "0x0000000000000 |\t0x0000000000000000\t0x0000000000000000\t0x0000000100000083\n"

  /// iommufd_compat_type1, 2 MiB hugetlb: mapped with 4 KiB PTEs (its first two of 512).
  static let compat2M = "Device 0000:00:03.0 @0x14290e000\n" + header
    + "0x0000000000000 |\t0x0000000000000000\t0x0000000000000000\t0x00000001422bf403\t0x00000001422df403\t0x000000015b400003\n"
    + "0x0000000000001 |\t0x0000000000000000\t0x0000000000000000\t0x00000001422bf403\t0x00000001422df403\t0x000000015b401003\n"

  /// After the unmap: the device and header lines only.
  static let empty = "Device 0000:00:03.0 @0x14290e000\n" + header

  @Test func pageMappedByPTE() {
    #expect(IntelIOMMUDebugfs.parse(Self.page4K, iova: 0, pageSize: 4096)
      == IOMMUMapping(pgd: 0, p4d: 0, pud: 0x1_4229_5403, pmd: 0x1_422b_f403, pte: 0x1_422d_7003))
  }

  @Test func superpage2MHasNoPTE() {
    #expect(IntelIOMMUDebugfs.parse(Self.superpage2M, iova: 0, pageSize: 4096)
      == IOMMUMapping(pgd: 0, p4d: 0, pud: 0x1_4229_5403, pmd: 0x1_5b40_0083, pte: 0))
  }

  @Test func superpage1GHasNoPDEOrPTE() {
    #expect(IntelIOMMUDebugfs.parse(Self.superpage1G, iova: 0, pageSize: 4096)
      == IOMMUMapping(pgd: 0, p4d: 0, pud: 0x1_0000_0083, pmd: 0, pte: 0))
  }

  @Test func lineChosenByIOVAPageFrame() {
    // IOVA 0x1000 and any address inside that page is PFN 1; 0x2000 is not in the dump.
    let second = IOMMUMapping(pgd: 0, p4d: 0, pud: 0x1_422b_f403, pmd: 0x1_422d_f403, pte: 0x1_5b40_1003)
    #expect(IntelIOMMUDebugfs.parse(Self.compat2M, iova: 0x1000, pageSize: 4096) == second)
    #expect(IntelIOMMUDebugfs.parse(Self.compat2M, iova: 0x1fff, pageSize: 4096) == second)
    #expect(IntelIOMMUDebugfs.parse(Self.compat2M, iova: 0x2000, pageSize: 4096) == nil)
  }

  @Test func headerOnlyDumpHasNoMapping() {
    #expect(IntelIOMMUDebugfs.parse(Self.empty, iova: 0, pageSize: 4096) == nil)
    #expect(IntelIOMMUDebugfs.parse("", iova: 0, pageSize: 4096) == nil)
    #expect(IntelIOMMUDebugfs.parse("DMA Remapping is not enabled on dmar0\n", iova: 0, pageSize: 4096) == nil)
  }

  @Test func fieldsReadAsScanfReadsThem() {
    #expect(IntelIOMMUDebugfs.parseHex("0x00000001422d7003") == 0x1_422d_7003)
    #expect(IntelIOMMUDebugfs.parseHex("0x12zz") == 0x12)
    #expect(IntelIOMMUDebugfs.parseHex("0x") == nil)
    #expect(IntelIOMMUDebugfs.parseHex("0X12") == nil)
    #expect(IntelIOMMUDebugfs.parseHex("12") == nil)
    #expect(IntelIOMMUDebugfs.parseHex("IOVA_PFN") == nil)
    // A field that does not read stays 0, as C's memset leaves it.
    let odd = "0x0000000000000 |\tjunk\t0x0000000000000000\t0x5\n"
    #expect(IntelIOMMUDebugfs.parse(odd, iova: 0, pageSize: 4096) == IOMMUMapping(pgd: 0, p4d: 0, pud: 5))
  }

  @Test func printedAsTheCTestPrints() {
    let m = IOMMUMapping(pud: 0x1_0000_0083)
    #expect(m.description == """
      PGD: 0x0000000000000000
      P4D: 0x0000000000000000
      PUD: 0x0000000100000083
      PMD: 0x0000000000000000
      PTE: 0x0000000000000000
      """)
  }

  // MARK: the file look-up (iommu_mapping_get)

  @Test func lookUpInADebugfsTree() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("intel-iommu-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    let device = try PCIAddress(parsing: "0000:00:03.0")
    let other = try PCIAddress(parsing: "0000:01:00.0")

    // No directory: the C test does not look (-EOPNOTSUPP).
    #expect(!IntelIOMMUDebugfs.isAvailable(root: root))
    #expect(try IntelIOMMUDebugfs.mapping(device: device, iova: 0, root: root) == .unsupported)

    try FileManager.default.createDirectory(atPath: "\(root)/\(device)", withIntermediateDirectories: true)
    try Self.page4K.write(toFile: IntelIOMMUDebugfs.domainTranslationStructPath(device, root: root), atomically: true, encoding: .utf8)
    #expect(IntelIOMMUDebugfs.domainTranslationStructPath(device, root: root) == "\(root)/0000:00:03.0/domain_translation_struct")
    #expect(try IntelIOMMUDebugfs.mapping(device: device, iova: 0, pageSize: 4096, root: root).mapping?.pte == 0x1_422d_7003)
    #expect(try IntelIOMMUDebugfs.mapping(device: device, iova: 0x1000, pageSize: 4096, root: root) == .notFound)

    // A dump of many 4 KiB PTEs (lines across the 64 KiB reads), the last line without its newline.
    let lines = (0..<3000).map { pfn in
      "0x\(hex(pfn, width: 13)) |\t0x0000000000000000\t0x0000000000000000\t0x00000001422bf403\t0x00000001422df403\t0x\(hex(0x1_5b40_0003 + pfn << 12, width: 16))"
    }
    try (Self.empty + lines.joined(separator: "\n")).write(toFile: IntelIOMMUDebugfs.domainTranslationStructPath(device, root: root), atomically: true, encoding: .utf8)
    #expect(try IntelIOMMUDebugfs.mapping(device: device, iova: 600 << 12, pageSize: 4096, root: root).mapping?.pte == 0x1_5b40_0003 + 600 << 12)
    #expect(try IntelIOMMUDebugfs.mapping(device: device, iova: 2999 << 12, pageSize: 4096, root: root).mapping?.pte == 0x1_5b40_0003 + 2999 << 12)
    #expect(try IntelIOMMUDebugfs.mapping(device: device, iova: 3000 << 12, pageSize: 4096, root: root) == .notFound)

    // The directory exists but not the device's dump: an error naming the file (C's fopen assert).
    let path = IntelIOMMUDebugfs.domainTranslationStructPath(other, root: root)
    #expect(throws: VFIOError.syscall(operation: "read(\(path))", device: "0000:01:00.0", errno: .noSuchFileOrDirectory)) {
      try IntelIOMMUDebugfs.mapping(device: other, iova: 0, root: root)
    }
  }
}

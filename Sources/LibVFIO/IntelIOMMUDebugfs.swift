// SPDX-License-Identifier: GPL-2.0-only
// The Intel IOMMU's page-table dump in debugfs (CONFIG_INTEL_IOMMU_DEBUGFS), as
// vfio_dma_mapping_test.c reads it: `intel_iommu_mapping_get()` and `iommu_mapping_get()`.
//
// /sys/kernel/debug/iommu/intel/<bdf>/domain_translation_struct is written by
// drivers/iommu/intel/debugfs.c, domain_translation_struct_show():
//
//     Device 0000:00:03.0 @0x10a5e000
//     IOVA_PFN         	PML5E             	PML4E             	PDPE              	PDE               	PTE
//     0x0000000100000 |	0x0000000000000000	0x0000000000000000	0x000000010a5f0003	0x000000010a600003	0x0000000112345003
//
// one line per present leaf: the IOVA's page frame number, then the entry at each level from
// the top (path[5] .. path[1]); the PDE and PTE columns are left out below a superpage.
import SystemPackage

/// The page-table entries that translate one IOVA (C's `struct iommu_mapping`); an entry the
/// dump leaves out (below a superpage) is 0.
public struct IOMMUMapping: Equatable, Sendable, CustomStringConvertible {
  public var pgd: UInt64 = 0
  public var p4d: UInt64 = 0
  public var pud: UInt64 = 0
  public var pmd: UInt64 = 0
  public var pte: UInt64 = 0

  public init(pgd: UInt64 = 0, p4d: UInt64 = 0, pud: UInt64 = 0, pmd: UInt64 = 0, pte: UInt64 = 0) {
    self.pgd = pgd
    self.p4d = p4d
    self.pud = pud
    self.pmd = pmd
    self.pte = pte
  }

  /// The C test's printout, one line per level.
  public var description: String {
    [("PGD", pgd), ("P4D", p4d), ("PUD", pud), ("PMD", pmd), ("PTE", pte)]
      .map { "\($0.0): 0x\(hex($0.1, width: 16))" }.joined(separator: "\n")
  }
}

/// What a look-up of one IOVA found (C: 0, -ENOENT, -EOPNOTSUPP).
public enum IOMMUMappingLookup: Equatable, Sendable {
  /// The IOVA is mapped; its page-table entries.
  case found(IOMMUMapping)
  /// The dump has no line for the IOVA ("IOVA not found").
  case notFound
  /// No Intel IOMMU debugfs (`/sys/kernel/debug/iommu/intel` does not exist).
  case unsupported

  /// The entries when found.
  public var mapping: IOMMUMapping? {
    if case .found(let m) = self { return m }
    return nil
  }
}

public enum IntelIOMMUDebugfs {
  /// `/sys/kernel/debug/iommu/intel`: whether it exists decides whether the test looks at all.
  public static let defaultRoot = "/sys/kernel/debug/iommu/intel"

  /// Whether `root` exists (C: `access("/sys/kernel/debug/iommu/intel", F_OK) == 0`).
  public static func isAvailable(root: String = defaultRoot) -> Bool { FileSystem.exists(root) }

  /// `<root>/<bdf>/domain_translation_struct`
  public static func domainTranslationStructPath(_ device: PCIAddress, root: String = defaultRoot) -> String {
    "\(root)/\(device)/domain_translation_struct"
  }

  /// `iommu_mapping_get()`: `.unsupported` when `root` does not exist; otherwise the entries
  /// for `iova` from the device's dump, or `.notFound`. Reads the dump only up to the matching
  /// line, as C's fgets loop does (a 1 GiB region mapped with 4 KiB pages is 262144 lines). A
  /// dump that cannot be read (no such device under `root`) is an error, as C's `fopen`
  /// assertion is.
  public static func mapping(device: PCIAddress, iova: UInt64, pageSize: Int = MappedMemory.pageSize,
                             root: String = defaultRoot) throws(VFIOError) -> IOMMUMappingLookup {
    guard isAvailable(root: root) else { return .unsupported }
    let path = domainTranslationStructPath(device, root: root)
    let pfn = iova / UInt64(pageSize)
    var found: IOMMUMapping?
    try FileSystem.forEachLine(path) { line in
      found = parse(line: line, pfn: pfn)
      return found == nil
    }.get("read(\(path))", device: device.description)
    return found.map { .found($0) } ?? .notFound
  }

  /// The parse of `intel_iommu_mapping_get()`: the first line whose first field is
  /// `iova / pageSize` gives the entries, in order PGD, P4D, PUD, PMD, PTE; fields are split at
  /// spaces, tabs and `|`, each read as `0x<hex>`; a missing or unreadable field stays 0.
  /// Lines whose first field is not `0x<hex>` (the device line, the header) never match.
  public static func parse(_ text: String, iova: UInt64, pageSize: Int) -> IOMMUMapping? {
    let pfn = iova / UInt64(pageSize)
    for line in text.split(separator: "\n") {
      if let m = parse(line: line, pfn: pfn) { return m }
    }
    return nil
  }

  /// One line of the dump: its entries if its first field is `pfn`.
  static func parse(line: Substring, pfn: UInt64) -> IOMMUMapping? {
    let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "|" })
    guard let first = fields.first, parseHex(first) == pfn else { return nil }
    let values = fields.dropFirst().prefix(5).map { parseHex($0) ?? 0 }
    func at(_ i: Int) -> UInt64 { i < values.count ? values[i] : 0 }
    return IOMMUMapping(pgd: at(0), p4d: at(1), pud: at(2), pmd: at(3), pte: at(4))
  }

  /// `sscanf(token, "0x%lx", &value)`: `0x` then at least one hex digit; trailing characters
  /// after the digits are ignored, as scanf does.
  static func parseHex(_ token: Substring) -> UInt64? {
    guard token.hasPrefix("0x") else { return nil }
    let digits = token.dropFirst(2).prefix(while: { $0.isASCII && $0.isHexDigit })
    guard !digits.isEmpty else { return nil }
    return UInt64(digits, radix: 16) ?? UInt64.max  // strtoul saturates on overflow
  }
}

// SPDX-License-Identifier: GPL-2.0-only
// LiveUpdateCapabilities.vfioUnavailability on fixture kallsyms files: the VFIO Live Update
// series is there when a vfio_pci_liveupdate_* symbol is, and the reasons otherwise.
import Foundation
import LibLiveUpdate
import Testing

@Suite("Live Update capabilities")
struct CapabilitiesTests {
  static func kallsyms(_ lines: [String]) throws -> String {
    let path = FileManager.default.temporaryDirectory.path + "/kallsyms-\(UUID().uuidString)"
    try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  @Test func seriesPresentWhenItsSymbolsAre() throws {
    let path = try Self.kallsyms(["ffffffff81000000 T vfio_pci_core_init_dev", "ffffffffa0000000 t vfio_pci_liveupdate_freeze\t[vfio_pci]"])
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect(LiveUpdateCapabilities.vfioUnavailability(kallsyms: path) == nil)
  }

  @Test func seriesMissingSaysWhy() throws {
    let path = try Self.kallsyms(["ffffffff81000000 T vfio_pci_core_init_dev", "ffffffff81000010 T liveupdate_register_file_handler"])
    defer { try? FileManager.default.removeItem(atPath: path) }
    let reason = try #require(LiveUpdateCapabilities.vfioUnavailability(kallsyms: path))
    #expect(reason.hasPrefix("kernel cannot preserve VFIO device files: no vfio_pci_liveupdate_* in \(path)"))
    #expect(LiveUpdateCapabilities.vfioUnavailability(kallsyms: "/nonexistent/kallsyms")
      == "cannot read /nonexistent/kallsyms to probe for VFIO Live Update support")
  }
}

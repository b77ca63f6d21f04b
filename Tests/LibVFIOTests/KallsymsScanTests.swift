// SPDX-License-Identifier: GPL-2.0-only
// FileSystem.contains, the chunked memmem scan /proc/kallsyms is probed with (KernelDetectors;
// LiveUpdateCapabilities.vfioUnavailability: LibLiveUpdateTests/CapabilitiesTests.swift), on
// fixture files: a needle split across two 1 MiB reads is still found, an absent one is not, and
// a missing file is an errno.
import Foundation
@testable import LibVFIO
import SystemPackage
import Testing

@Suite("kallsyms scan")
struct KallsymsScanTests {
  /// A kallsyms-shaped file of `lines` filler symbols with `extra` lines after them.
  static func fixture(lines: Int, extra: [String] = []) throws -> String {
    let dir = FileManager.default.temporaryDirectory.path + "/kallsyms-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    var text = ""
    for i in 0..<lines { text += String(format: "ffffffff8%07x t filler_symbol_%d\n", i, i) }
    for e in extra { text += e + "\n" }
    try text.write(toFile: dir + "/kallsyms", atomically: true, encoding: .utf8)
    return dir
  }

  @Test func findsNeedlesAcrossChunkBoundaries() throws {
    // The needle starts at every offset from 1 MiB - 40 to 1 MiB + 60: the first read ends at
    // 1 MiB plus the overlap (27 bytes here), so some of these straddle it.
    let dir = FileManager.default.temporaryDirectory.path + "/kallsyms-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let needles = [" __might_resched\n", " vfio_pci_liveupdate_", " __list_add_valid_or_report\n"]
    for start in ((1 << 20) - 40)...((1 << 20) + 60) {
      // Filler lines ("x...x\n") up to `start`, then the needle's line, then a vfio_pci line.
      var bytes = [UInt8](repeating: UInt8(ascii: "x"), count: start)
      for k in stride(from: 63, to: start, by: 64) { bytes[k] = UInt8(ascii: "\n") }
      bytes += Array(" __might_resched\nffffffffa0000000 t vfio_pci_liveupdate_freeze\t[vfio_pci]\n".utf8)
      try Data(bytes).write(to: URL(fileURLWithPath: dir + "/kallsyms"))
      let found = try FileSystem.contains(dir + "/kallsyms", needles).get()
      #expect(found == [true, true, false], "needle at offset \(start)")
    }
  }

  @Test func kernelDetectorsReadSymbolsFromKallsyms() throws {
    let dir = try Self.fixture(lines: 100, extra: ["ffffffff81000000 T __list_add_valid_or_report"])
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let d = KernelDetectors(proc: dir)
    #expect(d.listDebug)
    #expect(!d.sleepingInAtomic)
    #expect(!d.lockdep)
  }

  @Test func kernelDetectorsKeepTheSymbolFactsForTheBoot() throws {
    let dir = try Self.fixture(lines: 100, extra: ["ffffffff81000000 T __might_resched"])
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try FileManager.default.createDirectory(atPath: dir + "/sys/kernel/random", withIntermediateDirectories: true)
    try "0f5e0c2a-1111-4222-8333-444455556666\n".write(toFile: dir + "/sys/kernel/random/boot_id", atomically: true, encoding: .utf8)
    let cache = dir + "/run"
    let first = KernelDetectors.current(proc: dir, cache: cache)
    #expect(first == KernelDetectors(proc: dir))
    #expect(first.sleepingInAtomic && !first.listDebug)
    let file = cache + "/kallsyms.0f5e0c2a-1111-4222-8333-444455556666"
    #expect(try String(contentsOfFile: file, encoding: .utf8) == "__might_resched=1 __list_add_valid_or_report=0\n")
    // The same boot: the cache answers, not kallsyms (changed here to tell the two apart).
    try "ffffffff81000000 T __list_add_valid_or_report\n".write(toFile: dir + "/kallsyms", atomically: true, encoding: .utf8)
    #expect(KernelDetectors.current(proc: dir, cache: cache) == first)
    // A torn cache file is read again from kallsyms, and rewritten.
    try "__might_resched=1".write(toFile: file, atomically: true, encoding: .utf8)
    let rescanned = KernelDetectors.current(proc: dir, cache: cache)
    #expect(!rescanned.sleepingInAtomic && rescanned.listDebug)
    #expect(try String(contentsOfFile: file, encoding: .utf8) == "__might_resched=0 __list_add_valid_or_report=1\n")
    // Another boot: kallsyms again.
    try "9a9a9a9a-1111-4222-8333-444455556666\n".write(toFile: dir + "/sys/kernel/random/boot_id", atomically: true, encoding: .utf8)
    try "ffffffff81000000 T __might_resched\n".write(toFile: dir + "/kallsyms", atomically: true, encoding: .utf8)
    #expect(KernelDetectors.current(proc: dir, cache: cache).sleepingInAtomic)
    #expect(try FileManager.default.contentsOfDirectory(atPath: cache).sorted() == [
      "kallsyms.0f5e0c2a-1111-4222-8333-444455556666", "kallsyms.9a9a9a9a-1111-4222-8333-444455556666"])
  }

  @Test func kernelDetectorsWithoutABootIDScanEveryTime() throws {
    let dir = try Self.fixture(lines: 10, extra: ["ffffffff81000000 T __list_add_valid_or_report"])
    defer { try? FileManager.default.removeItem(atPath: dir) }
    #expect(KernelDetectors.current(proc: dir, cache: dir + "/run").listDebug)
    #expect(!FileManager.default.fileExists(atPath: dir + "/run"))
  }

  @Test func missingFileIsAnErrno() {
    let r = FileSystem.contains("/nonexistent/kallsyms", [" x"])
    #expect(throws: Errno.noSuchFileOrDirectory) { try r.get() }
  }
}

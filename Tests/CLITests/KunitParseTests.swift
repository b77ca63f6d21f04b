// SPDX-License-Identifier: GPL-2.0-only
import Foundation
import Testing
import VFIOSelftestsCLI

/// The kernel's own KTAP parser, fetched by scripts/fetch-kunit.sh into .build-vm/kunit.
enum KunitTool {
  static var repo: String {
    // .build/<triple>/debug/x.xctest → repo root: the first ancestor holding Package.swift.
    var url = URL(fileURLWithPath: BuiltCLI.directory)
    while url.path != "/" {
      if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
      url.deleteLastPathComponent()
    }
    return FileManager.default.currentDirectoryPath
  }
  static var kunitPy: String { ProcessInfo.processInfo.environment["KUNIT_PY"] ?? repo + "/.build-vm/kunit/tools/testing/kunit/kunit.py" }
  static var missing: String? {
    FileManager.default.fileExists(atPath: kunitPy) ? nil : "no kunit.py at \(kunitPy) (run scripts/fetch-kunit.sh)"
  }

  /// `kunit.py parse FILE --json`: (passed, failed, skipped) from its summary line.
  static func counts(of ktap: String) throws -> (passed: Int, failed: Int, skipped: Int, output: String) {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("ktap-\(UUID().uuidString).ktap").path
    try ktap.write(toFile: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: file) }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", kunitPy, "parse", file]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    // "Testing complete. Ran 4 tests: passed: 1, failed: 1, skipped: 2"
    guard let summary = text.split(separator: "\n").last(where: { $0.contains("Testing complete.") }) else { return (-1, -1, -1, text) }
    func n(_ key: String) -> Int {
      guard let r = summary.range(of: "\(key): ") else { return 0 }
      return Int(summary[r.upperBound...].prefix(while: \.isNumber)) ?? -1
    }
    return (n("passed"), n("failed"), n("skipped"), text)
  }
}

/// Skips, saying why, when the kernel's kunit.py is not at hand.
struct RequiresKunit: TestTrait, SuiteTrait {
  var isRecursive: Bool { true }
  func prepare(for test: Test) async throws {
    guard !test.isSuite else { return }
    if let reason = KunitTool.missing { try Test.cancel(Comment(rawValue: reason)) }
  }
}

@Suite("KTAP read back by the kernel's kunit.py parse", RequiresKunit())
struct KunitParseTests {
  @Test func countsMatchTheSwiftTestingResults() throws {
    let run = TestRunResults(records: try EventRecord.parse(stream: Sample.stream))
    let c = try KunitTool.counts(of: KTAP.document(KTAP.tests(from: run)))
    #expect((c.passed, c.failed, c.skipped) == (run.passed, run.failed, run.skipped), "\(c.output)")
    #expect(!c.output.contains("[ERROR]"), "\(c.output)")
  }

  @Test func perDeviceDocumentParses() throws {
    let run = TestRunResults(records: try EventRecord.parse(stream: Sample.stream))
    let c = try KunitTool.counts(of: KTAP.document(KTAP.combined([("0000:00:03.0", run, []), ("0000:00:04.0", run, [])])))
    #expect((c.passed, c.failed, c.skipped) == (2 * run.passed, 2 * run.failed, 2 * run.skipped), "\(c.output)")
    #expect(!c.output.contains("[ERROR]"), "\(c.output)")
  }

  /// The luo_* programs are one test each, named like the program: one result line, no subtest
  /// (kunit.py would read a subtest named like its parent as the parent's own result).
  @Test func singleTestProgramsAreOneLine() throws {
    let suite = "M.Hardware/Luo", a = "M.Hardware/Luo/luo_kexec_simple()/F.swift:3:4", b = "M.Hardware/Luo/luo_multi_session()/F.swift:4:4"
    let lines = [
      Sample.test("M.Hardware", suite: true), Sample.test(suite, suite: true, display: "luo_kexec"), Sample.test(a), Sample.test(b),
      Sample.event("runStarted", nil), Sample.event("testStarted", a), Sample.event("testEnded", a),
      Sample.event("testSkipped", b, extra: ",\"_comments\":[\"VFIO_SELFTESTS_STAGE not set\"]"), Sample.event("runEnded", nil),
    ]
    let run = TestRunResults(records: try EventRecord.parse(stream: lines.joined(separator: "\n") + "\n"))
    let doc = KTAP.document(KTAP.tests(from: run))
    #expect(doc == "KTAP version 1\n1..2\nok 1 luo_kexec_simple\nok 2 luo_multi_session # SKIP VFIO_SELFTESTS_STAGE not set\n")
    let c = try KunitTool.counts(of: doc)
    #expect((c.passed, c.failed, c.skipped) == (1, 0, 1), "\(c.output)")
    #expect(!c.output.contains("[ERROR]"), "\(c.output)")
  }
}

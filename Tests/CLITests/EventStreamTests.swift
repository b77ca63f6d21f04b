// SPDX-License-Identifier: GPL-2.0-only
import Testing
@testable import VFIOSelftestsCLI

/// Records shaped as a real `--event-stream-version 0` run of this package writes them
/// (Swift 6.3.1), trimmed to the fields the parser reads.
enum Sample {
  static func test(_ id: String, suite: Bool = false, display: String? = nil, line: Int = 1) -> String {
    let parts = id.split(separator: "/")
    let name = suite ? String(parts.last!.split(separator: ".").last!) : String(parts[parts.count - 2])
    let disp = display.map { ",\"displayName\":\"\($0)\"" } ?? ""
    return "{\"kind\":\"test\",\"payload\":{\"id\":\"\(id)\",\"kind\":\"\(suite ? "suite" : "function")\",\"name\":\"\(name)\"\(disp),\"sourceLocation\":{\"fileID\":\"M/F.swift\",\"line\":\(line),\"column\":2}},\"version\":0}"
  }
  static func event(_ kind: String, _ id: String?, extra: String = "") -> String {
    let tid = id.map { ",\"testID\":\"\($0)\"" } ?? ""
    return "{\"kind\":\"event\",\"payload\":{\"instant\":{\"absolute\":1.0,\"since1970\":2.0},\"kind\":\"\(kind)\",\"messages\":[]\(tid)\(extra)},\"version\":0}"
  }
  static let suite = "M.Hardware/Dev"
  static let a = "M.Hardware/Dev/a()/F.swift:3:4"
  static let b = "M.Hardware/Dev/b()/F.swift:4:4"
  static let c = "M.Hardware/Dev/c()/F.swift:5:4"
  static let d = "M.Hardware/Dev/d()/F.swift:6:4"

  /// a passes, b fails (two issues, one known), c skips, d is cancelled.
  static var lines: [String] {
    [
      test("M.Hardware", suite: true),
      test(suite, suite: true, display: "vfio_pci_device_test.iommufd"),
      test(a), test(b, display: "b # with hash"), test(c), test(d),
      event("runStarted", nil),
      event("testStarted", "M.Hardware"), event("testStarted", suite),
      event("testStarted", a), event("testEnded", a),
      event("testStarted", b),
      event("issueRecorded", b, extra: ",\"issue\":{\"isKnown\":false,\"_sourceLocation\":{\"fileID\":\"M/F.swift\",\"line\":9}},\"messages\":[{\"symbol\":\"fail\",\"text\":\"Expectation failed: (errno → 16) == 22\"}]"),
      event("issueRecorded", b, extra: ",\"issue\":{\"isKnown\":true},\"messages\":[{\"symbol\":\"fail\",\"text\":\"known\"}]"),
      event("testEnded", b),
      event("testSkipped", c, extra: ",\"_comments\":[\"iommufd: kernel has no iommufd (no /dev/iommu)\"]"),
      event("testStarted", d), event("testCancelled", d, extra: ",\"_comments\":[\"Device does not support reset\"]"), event("testEnded", d),
      event("testEnded", suite), event("testEnded", "M.Hardware"),
      event("runEnded", nil),
    ]
  }
  static var stream: String { lines.joined(separator: "\n") + "\n" }
}

@Suite("Swift Testing event stream → results")
struct EventStreamTests {
  @Test func parsesDeclarationsAndEvents() throws {
    let records = try EventRecord.parse(stream: Sample.stream)
    #expect(records.count == Sample.lines.count)
    guard case .test(let decl) = records[1] else { Issue.record("not a declaration: \(records[1])"); return }
    #expect(decl == .init(id: Sample.suite, name: "Dev", displayName: "vfio_pci_device_test.iommufd", isSuite: true, file: "M/F.swift", line: 1))
    let issues = records.compactMap { r -> EventRecord.Event? in if case .event(let e) = r, e.kind == "issueRecorded" { e } else { nil } }
    #expect(issues.map(\.isFailure) == [true, false])
    #expect(issues[0].text == "M/F.swift:9: Expectation failed: (errno → 16) == 22")
  }

  @Test func outcomesPerTestAndSuite() throws {
    let run = TestRunResults(records: try EventRecord.parse(stream: Sample.stream))
    #expect(run.runEnded)
    #expect((run.passed, run.failed, run.skipped) == (1, 1, 2))
    #expect(run.roots.map(\.name) == ["Hardware"])
    let suite = run.roots[0].children[0]
    #expect(suite.name == "vfio_pci_device_test.iommufd")
    #expect(suite.children.map(\.name) == ["a", "b # with hash", "c", "d"])
    #expect(suite.children.map(\.outcome) == [.passed, .failed(["M/F.swift:9: Expectation failed: (errno → 16) == 22"]),
                                             .skipped("iommufd: kernel has no iommufd (no /dev/iommu)"), .skipped("Device does not support reset")])
    #expect(suite.outcome == .failed([]))
    #expect(run.kselftestExitCode(processStatus: 1) == KselftestExit.fail)
  }

  @Test func aKilledRunFailsWhatDidNotFinish() throws {
    // The stream as it stands when the test binary is SIGKILLed inside b, last line cut short.
    let cut = Sample.lines.prefix(12).joined(separator: "\n") + "\n{\"kind\":\"event\",\"payl"
    let run = TestRunResults(records: try EventRecord.parse(stream: cut))
    #expect(!run.runEnded)
    let tests = run.roots[0].children[0].children
    #expect(tests.map(\.outcome) == [.passed,
                                     .failed(["test binary ended before this test finished (started, never ended)"]),
                                     .failed(["test binary ended before this test finished (never started)"]),
                                     .failed(["test binary ended before this test finished (never started)"])])
    #expect(run.kselftestExitCode(processStatus: nil) == KselftestExit.fail)
  }

  @Test func aMalformedLineInTheMiddleIsAnError() {
    #expect(throws: EventStreamError.self) { try EventRecord.parse(stream: "{\"kind\":\"test\"}\n" + Sample.stream) }
    #expect(throws: (any Error).self) { try EventRecord.parse(stream: "not json\n" + Sample.stream) }
  }

  @Test func exitCodesFollowKselftest() throws {
    let all = Sample.lines
    let passOnly = all.filter { !$0.contains("issueRecorded") }
    #expect(TestRunResults(records: try EventRecord.parse(stream: passOnly.joined(separator: "\n"))).kselftestExitCode(processStatus: 0) == KselftestExit.pass)
    #expect(TestRunResults(records: try EventRecord.parse(stream: passOnly.joined(separator: "\n"))).kselftestExitCode(processStatus: 1) == KselftestExit.fail)
    let skipOnly = [Sample.test("M.S", suite: true), Sample.test("M.S/x()/F.swift:1:1"),
                    Sample.event("testSkipped", "M.S/x()/F.swift:1:1", extra: ",\"_comments\":[\"not root\"]"), Sample.event("runEnded", nil)]
    let skipRun = TestRunResults(records: try EventRecord.parse(stream: skipOnly.joined(separator: "\n")))
    #expect(skipRun.kselftestExitCode(processStatus: 0) == KselftestExit.skip)
    #expect(skipRun.roots[0].outcome == .skipped("all tests skipped"))
    #expect(TestRunResults(records: []).kselftestExitCode(processStatus: 0) == KselftestExit.fail)  // no runEnded
  }

  @Test func aSkippedSuiteSkipsItsTests() throws {
    let lines = [Sample.test("M.S", suite: true), Sample.test("M.S/x()/F.swift:1:1"), Sample.test("M.S/y()/F.swift:2:1"),
                 Sample.event("testSkipped", "M.S", extra: ",\"_comments\":[\"disabled\"]"), Sample.event("runEnded", nil)]
    let run = TestRunResults(records: try EventRecord.parse(stream: lines.joined(separator: "\n")))
    #expect(run.roots[0].children.map(\.outcome) == [.skipped("disabled"), .skipped("disabled")])
    #expect(run.roots[0].outcome == .skipped("disabled"))
  }
}

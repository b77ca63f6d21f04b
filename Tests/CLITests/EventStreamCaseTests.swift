// SPDX-License-Identifier: GPL-2.0-only
import Foundation
import Testing
@testable import VFIOSelftestsCLI

/// The cases of parameterized tests, from event streams recorded from real runs
/// (Tests/CLITests/Fixtures, described in its README.md).
@Suite("Swift Testing event stream → one result per test case")
struct EventStreamCaseTests {
  static func fixture(_ name: String) throws -> TestRunResults {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
    return TestRunResults(records: try EventRecord.parse(stream: try String(contentsOf: url, encoding: .utf8)))
  }

  static let modes = ["vfio_type1_iommu", "vfio_type1v2_iommu", "iommufd_compat_type1", "iommufd_compat_type1v2", "iommufd"]
  static let reason = "harness_selftest: this case cancels itself, the others pass"

  @Test func aCancelledCaseIsASkipWithItsReasonTheOthersPass() throws {
    let run = try Self.fixture("harness-selftest-cancel-one-case.jsonl")
    #expect(run.runEnded)
    #expect((run.passed, run.failed, run.skipped) == (4, 0, 1))
    let test = run.roots[0].children[0].children[0]
    #expect(test.name == "cancel_one_case")
    #expect(test.isParameterized)
    #expect(test.children.map(\.argument) == Self.modes)
    #expect(test.children.map(\.outcome) == [.passed, .passed, .skipped(Self.reason), .passed, .passed])
    #expect(test.outcome == .passed)
    #expect(run.kselftestExitCode(processStatus: 0) == KselftestExit.pass)
  }

  @Test func eachCaseIsOneKTAPLineNamedByItsArgument() throws {
    let run = try Self.fixture("harness-selftest-cancel-one-case.jsonl")
    let lines = Self.modes.enumerated().map { i, m in
      "    ok \(i + 1) harness_selftest.\(m).cancel_one_case" + (m == "iommufd_compat_type1" ? " # SKIP \(Self.reason)" : "")
    }
    #expect(KTAP.document(KTAP.tests(from: run)) == (["KTAP version 1", "1..1", "    KTAP version 1", "    # Subtest: harness_selftest", "    1..5"]
      + lines + ["ok 1 harness_selftest", ""]).joined(separator: "\n"))
  }

  @Test func eachCaseIsOneJUnitTestcase() throws {
    let xml = JUnit.document([("0000:00:03.0", try Self.fixture("harness-selftest-cancel-one-case.jsonl"), [])])
    #expect(xml.contains("tests=\"5\" failures=\"0\" skipped=\"1\""))
    for m in Self.modes { #expect(xml.contains("classname=\"harness_selftest\" name=\"harness_selftest.\(m).cancel_one_case\" time=")) }
    #expect(xml.range(of: "name=\"harness_selftest.iommufd_compat_type1.cancel_one_case\" time=\"[0-9.]+\">\n      <skipped message=\"\(Self.reason)\"/>",
                      options: .regularExpression) != nil)
  }

  @Test func passCancelAndFailurePerCase() throws {
    let run = try Self.fixture("parameterized-outcomes.jsonl")
    let suite = try #require(run.roots.first { $0.name == "harness.suite" })
    let param = try #require(suite.children.first { $0.name == "param" })
    #expect(param.children.map(\.name) == ["a_mode", "b_mode", "c_mode"])
    #expect(param.children[0].outcome == .passed)
    #expect(param.children[1].outcome == .skipped("b is cancelled"))
    guard case .failed(let messages) = param.children[2].outcome else { Issue.record("c_mode: \(param.children[2].outcome)"); return }
    #expect(messages.count == 1 && messages[0].hasPrefix("PTests/T.swift:6: Expectation failed: Bool(false)"), "\(messages)")
    #expect(param.outcome == .failed([]))
    // Every case cancelled: each a skip, the test too.
    let skipAll = try #require(suite.children.first { $0.name == "skipAll" })
    #expect(skipAll.children.map(\.outcome) == [.skipped("all cancelled"), .skipped("all cancelled")])
    #expect(skipAll.outcome == .skipped("all tests skipped"))
    // A plain test beside them is still one result.
    #expect(suite.children.first { $0.name == "plain" }?.outcome == .passed)
    // The failed case fails the run.
    #expect(run.kselftestExitCode(processStatus: 1) == KselftestExit.fail)
  }

  @Test func namesFromArguments() throws {
    let run = try Self.fixture("parameterized-outcomes.jsonl")
    let names = run.programs.flatMap { p in p.tests.map { "\($0.name.name) \(KTAP.test(named: "", $0.node.outcome).result)" } }
    #expect(names.contains("harness.suite.a_mode.param ok"))
    #expect(names.contains("harness.suite.b_mode.param skip(\"b is cancelled\")"))
    #expect(names.contains("harness.suite.c_mode.param notOk"))
    #expect(names.contains("harness.suite.1.skipAll skip(\"all cancelled\")"))
    #expect(names.contains("harness.suite.plain ok"))
  }

  /// Swift Testing lists no case of a test it skips while planning: that test is one result,
  /// a skip with the trait's reason, as before cases were read.
  @Test func aTestSkippedWhilePlanningIsOneSkip() throws {
    let run = try Self.fixture("parameterized-outcomes.jsonl")
    let suite = try #require(run.roots.first { $0.name == "harness.traited" })
    #expect(suite.children.map(\.name).sorted() == ["disabled", "traited"])
    #expect(suite.children.allSatisfy { !$0.isParameterized && $0.outcome == .skipped("trait cancels") })
  }

  /// The test binary killed inside a case: the cases that ran keep their results; the one
  /// running and those not started fail, saying so.
  @Test func aKilledRunFailsTheCasesThatDidNotFinish() throws {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/harness-selftest-cancel-one-case.jsonl")
    let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
    // Cut after the third case started (its cancel not yet recorded), the last line half written.
    let third = try #require(lines.indices.filter { lines[$0].contains("\"testCaseStarted\"") }.dropFirst(2).first)
    let cut = lines[...third].joined(separator: "\n") + "\n" + lines[third + 1].prefix(20)
    let run = TestRunResults(records: try EventRecord.parse(stream: cut))
    #expect(!run.runEnded)
    let cases = run.roots[0].children[0].children[0].children
    #expect(cases.map(\.outcome) == [.passed, .passed,
                                     .failed(["test binary ended before this test finished (started, never ended)"]),
                                     .failed(["test binary ended before this test finished (never started)"]),
                                     .failed(["test binary ended before this test finished (never started)"])])
    #expect(run.kselftestExitCode(processStatus: nil) == KselftestExit.fail)
  }

  /// `vfio-selftests kselftest`: each case is an entry under its C name, the filter its test's ID once.
  @Test func kselftestSelectionByCase() throws {
    let run = try Self.fixture("harness-selftest-cancel-one-case.jsonl")
    let program = KselftestProgram(name: "harness_selftest", collection: "vfio", devices: .one, staged: false, listed: false, origin: .port)
    let all = KselftestSelection(declarations: run, program: program, arguments: KselftestArguments())
    #expect(all.entries.map(\.cName) == Self.modes.map { "harness_selftest.\($0).cancel_one_case" })
    #expect(Set(all.entries.map(\.testID)).count == 1)
    #expect(all.filter == "^" + NSRegularExpression.escapedPattern(for: all.entries[0].testID) + "$")
    let one = KselftestSelection(declarations: run, program: program,
                                 arguments: try KselftestArguments(parsing: ["-v", "iommufd"], program: program))
    #expect(one.entries.map(\.argument) == ["iommufd"])
    let report = KselftestReport.document(program: program, selection: all, run: run, diagnostics: [])
    #expect(report.code == KselftestExit.pass)
    #expect(report.text.contains("ok 3 harness_selftest.iommufd_compat_type1.cancel_one_case # SKIP \(Self.reason)\n"))
    #expect(report.text.contains("# Totals: pass:4 fail:0 xfail:0 xpass:0 skip:1 error:0\n"))
  }

  /// `--list-tests` lists no case: a test tagged `.iommuModes` gets one per mode of the run, so
  /// `kselftest -l` and `-r` see the names a run reports; other parameterized tests stay one.
  @Test func unlistedCasesOfATestOverTheModes() throws {
    let id = "M.Hardware/S/t(_:)/F.swift:3:4", plain = "M.Hardware/S/u(_:)/F.swift:9:4"
    let decl = { (id: String, tags: String) in
      "{\"kind\":\"test\",\"payload\":{\"id\":\"\(id)\",\"isParameterized\":true,\"kind\":\"function\",\"name\":\"\(id.split(separator: "/")[2])\",\"sourceLocation\":{\"fileID\":\"M/F.swift\",\"line\":3,\"column\":4}}\(tags)}"
    }
    let lines = [
      "{\"kind\":\"test\",\"payload\":{\"_tags\":[\".hardware\"],\"id\":\"M.Hardware\",\"kind\":\"suite\",\"name\":\"Hardware\",\"sourceLocation\":{\"fileID\":\"M/F.swift\",\"line\":1,\"column\":2}}}",
      "{\"kind\":\"test\",\"payload\":{\"_tags\":[\".iommuModes\"],\"displayName\":\"vfio_pci_device_test\",\"id\":\"M.Hardware/S\",\"kind\":\"suite\",\"name\":\"S\",\"sourceLocation\":{\"fileID\":\"M/F.swift\",\"line\":2,\"column\":2}}}",
      decl(id, ""), decl(plain, "").replacingOccurrences(of: "M.Hardware/S/u", with: "M.Hardware/u"),
    ]
    let records = try EventRecord.parse(stream: lines.joined(separator: "\n"))
    guard case .test(let d) = records[1] else { Issue.record("\(records[1])"); return }
    #expect(d.tags == [".iommuModes"])
    let listed = TestRunResults(records: records, unlistedCases: TestRunResults.iommuModeCases([.vfioType1, .iommufd]))
    let names = listed.programs.flatMap { $0.tests.map(\.name.name) }
    #expect(names == ["vfio_pci_device_test.vfio_type1_iommu.t", "vfio_pci_device_test.t", "Hardware.u"])
    // Without the expansion (an older caller), the test is one name, as before.
    #expect(TestRunResults(records: records).programs.flatMap { $0.tests.map(\.name.name) } == ["vfio_pci_device_test.t", "Hardware.u"])
    // kselftest -v vfio_type1_iommu: that mode's case, and the modes to run.
    let program = KselftestProgram.named("vfio_pci_device_test")!
    let sel = KselftestSelection(declarations: listed, program: program,
                                 arguments: try KselftestArguments(parsing: ["-v", "vfio_type1_iommu"], program: program))
    #expect(sel.entries.map(\.cName) == ["vfio_pci_device_test.vfio_type1_iommu.t"])
    #expect(sel.iommuModes == [.vfioType1])
    #expect(sel.filter == "^" + NSRegularExpression.escapedPattern(for: id) + "$")
  }

  /// vfio_pci_sriov_uapi_test's cases are C's variants, `<mode>_<token>`: unlisted, a test tagged
  /// `.sriovVariants` gets the modes x tokens in C's order; `kselftest -v` of a variant runs its
  /// mode alone (`iommufd_null_uuid` is iommufd, not iommufd_compat_*).
  @Test func unlistedCasesOfTheSRIOVVariants() throws {
    let id = "M.Hardware/S/init_token_match(_:)/F.swift:3:4"
    let lines = [
      "{\"kind\":\"test\",\"payload\":{\"_tags\":[\".hardware\"],\"id\":\"M.Hardware\",\"kind\":\"suite\",\"name\":\"Hardware\",\"sourceLocation\":{\"fileID\":\"M/F.swift\",\"line\":1,\"column\":2}}}",
      "{\"kind\":\"test\",\"payload\":{\"_tags\":[\".sriovVariants\"],\"displayName\":\"vfio_pci_sriov_uapi_test\",\"id\":\"M.Hardware/S\",\"kind\":\"suite\",\"name\":\"S\",\"sourceLocation\":{\"fileID\":\"M/F.swift\",\"line\":2,\"column\":2}}}",
      "{\"kind\":\"test\",\"payload\":{\"id\":\"\(id)\",\"isParameterized\":true,\"kind\":\"function\",\"name\":\"init_token_match(_:)\",\"sourceLocation\":{\"fileID\":\"M/F.swift\",\"line\":3,\"column\":4}}}",
    ]
    let listed = TestRunResults(records: try EventRecord.parse(stream: lines.joined(separator: "\n")),
                                unlistedCases: TestRunResults.iommuModeCases([.iommufdCompatType1, .iommufd]))
    let names = listed.programs.flatMap { $0.tests.map(\.name.name) }
    #expect(names == ["iommufd_compat_type1_same_uuid", "iommufd_compat_type1_diff_uuid", "iommufd_compat_type1_null_uuid",
                      "iommufd_same_uuid", "iommufd_diff_uuid", "iommufd_null_uuid"].map { "vfio_pci_sriov_uapi_test.\($0).init_token_match" })
    let program = KselftestProgram.named("vfio_pci_sriov_uapi_test")!
    let sel = KselftestSelection(declarations: listed, program: program,
                                 arguments: try KselftestArguments(parsing: ["-v", "iommufd_null_uuid"], program: program))
    #expect(sel.entries.map(\.cName) == ["vfio_pci_sriov_uapi_test.iommufd_null_uuid.init_token_match"])
    #expect(sel.iommuModes == [.iommufd])
    // vfio_migration_test's pci tests: the Xe VFs' modes of those under test, nothing else.
    #expect(TestRunResults.iommuModeCases([.vfioType1, .vfioType1v2, .iommufdCompatType1, .iommufdCompatType1v2, .iommufd])([".pciMigrationModes"])?.map(\.displayName) == ["vfio_type1v2_iommu", "iommufd"])
    #expect(TestRunResults.iommuModeCases([.vfioType1, .iommufd])([".pciMigrationModes"])?.map(\.displayName) == ["iommufd"])
    #expect(TestRunResults.iommuMode(ofCase: "vfio_type1v2_iommu_diff_uuid") == .vfioType1v2)
    #expect(TestRunResults.iommuMode(ofCase: "iommufd_bogus_uuid") == nil)
  }

  /// The harness's order: a suite's cases of one mode together (one suite per mode ran them so).
  @Test func casesOfOneModeTogether() throws {
    let run = try Self.fixture("parameterized-outcomes.jsonl")
    let suite = try #require(run.programs.first { $0.name == "harness" })
    let names = suite.tests.map(\.name.name).filter { $0.hasPrefix("harness.suite.") && $0.hasSuffix(".param") }
    #expect(names == ["harness.suite.a_mode.param", "harness.suite.b_mode.param", "harness.suite.c_mode.param"])
    let grouped = KselftestSelection.groupedByArgument([("a", "x"), ("b", "y"), ("c", nil), ("d", "x")] as [(String, String?)]) { $0.1 }
    #expect(grouped.map(\.0) == ["a", "d", "b", "c"])
  }
}

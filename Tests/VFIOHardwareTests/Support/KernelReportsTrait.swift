// SPDX-License-Identifier: GPL-2.0-only
// The kernel's reports are test results: every hardware test reads what the kernel logged while
// it ran and fails on a lockdep report, WARNING, BUG, sleeping-in-atomic report, hung task, soft
// lockup, RCU stall or oops, quoting the report's first lines. The hardware suites are
// serialized, so a report lands on the test that was running when the kernel printed it.
import LibVFIO
import Testing

/// A kernel report logged while a test ran.
struct KernelReportsLogged: Error, CustomStringConvertible {
  var reports: [KernelReport]
  var description: String {
    "the kernel reported \(reports.count) problem(s) during this test; first: "
      + reports.prefix(3).map(\.description).joined(separator: " || ")
  }
}

struct ChecksKernelLog: TestTrait, SuiteTrait, TestScoping {
  /// Counts the self-test's report too (only `kernel_log.catches_a_report` sets it).
  var includingSelfTest = false
  var isRecursive: Bool { true }

  /// Printed once per test process, with the first hardware test.
  private static let announced: Void = {
    print(KernelDetectors.current().description)
  }()

  func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
    guard !test.isSuite else { return try await function() }
    let watch = KernelLogWatch()
    if watch.unavailability == nil { Self.announced }
    var failure: (any Error)?
    do { try await function() } catch { failure = error }
    let reports = KernelReport.reports(in: watch.newMessages(), includingSelfTest: includingSelfTest)
    if let failure {
      for r in reports { Issue.record(KernelReportsLogged(reports: [r])) }
      throw failure
    }
    if !reports.isEmpty { throw KernelReportsLogged(reports: reports) }
  }
}

extension Trait where Self == ChecksKernelLog {
  /// Fails a test on any kernel detector report logged while it ran.
  static var checksKernelLog: Self { ChecksKernelLog() }
}

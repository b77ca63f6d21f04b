// SPDX-License-Identifier: GPL-2.0-only

/// A KTAP version 1 document (Documentation/dev-tools/ktap.rst): a plan, one result line per
/// test, `# SKIP <reason>` for skips, subtests indented by four spaces under a `# Subtest:`
/// header, diagnostics as `# ` lines before the result. Read by `kunit.py parse`.
public struct KTAPTest: Equatable, Sendable {
  public enum Result: Equatable, Sendable {
    case ok
    case notOk
    case skip(String)
  }

  public var name: String
  public var result: Result
  public var diagnostics: [String]
  public var subtests: [KTAPTest]

  public init(name: String, result: Result, diagnostics: [String] = [], subtests: [KTAPTest] = []) {
    self.name = name
    self.result = result
    self.diagnostics = diagnostics
    self.subtests = subtests
  }
}

public enum KTAP {
  /// The whole document for `tests` at the top level.
  public static func document(_ tests: [KTAPTest]) -> String {
    var out = "KTAP version 1\n1..\(tests.count)\n"
    for (i, t) in tests.enumerated() { render(t, number: i + 1, indent: "", into: &out) }
    return out
  }

  static func render(_ t: KTAPTest, number: Int, indent: String, into out: inout String) {
    if !t.subtests.isEmpty {
      let inner = indent + "    "
      out += "\(inner)KTAP version 1\n\(inner)# Subtest: \(clean(t.name))\n\(inner)1..\(t.subtests.count)\n"
      for (i, s) in t.subtests.enumerated() { render(s, number: i + 1, indent: inner, into: &out) }
    }
    for d in t.diagnostics {
      for line in d.split(separator: "\n", omittingEmptySubsequences: true) { out += "\(indent)# \(line)\n" }
    }
    switch t.result {
    case .ok: out += "\(indent)ok \(number) \(clean(t.name))\n"
    case .notOk: out += "\(indent)not ok \(number) \(clean(t.name))\n"
    case .skip(let reason): out += "\(indent)ok \(number) \(clean(t.name)) # SKIP \(clean(reason))\n"
    }
  }

  /// A name or reason on one line, without `#` (which starts a directive in KTAP).
  static func clean(_ s: String) -> String {
    var out = ""
    for c in s {
      switch c {
      case "#": out += "_"
      case "\n", "\r", "\t": out += " "
      default: out.append(c)
      }
    }
    return out.trimmingSpaces()
  }

  /// The KTAP tree of one run, nested as kselftest nests it: one test per C program, its tests
  /// under their C names (`fixture.variant.test`; see `CName`).
  /// A program whose one test is the program itself (the luo_* kexec programs, which print no
  /// result lines of their own) is one result line, as kselftest's runner reports it: kunit.py
  /// reads a subtest named like its parent as the parent's own result.
  public static func tests(from run: TestRunResults) -> [KTAPTest] {
    run.programs.map { p in
      if p.tests.count == 1, p.tests[0].name.name == p.name { return test(named: p.name, p.tests[0].node.outcome) }
      let subtests = p.tests.map { test(named: $0.name.name, $0.node.outcome) }
      let result: KTAPTest.Result = p.tests.contains { $0.node.outcome.isFailure } ? .notOk
        : p.tests.allSatisfy { $0.node.outcome.isSkip } ? .skip("all tests skipped") : .ok
      return KTAPTest(name: p.name, result: result, subtests: subtests)
    }
  }

  static func test(named name: String, _ outcome: TestRunResults.Outcome) -> KTAPTest {
    switch outcome {
    case .passed: KTAPTest(name: name, result: .ok)
    case .skipped(let reason): KTAPTest(name: name, result: .skip(reason))
    case .failed(let messages): KTAPTest(name: name, result: .notOk, diagnostics: messages)
    }
  }

  /// Several runs (one per device) as one document: each run a top-level test named `name`.
  public static func combined(_ runs: [(name: String, run: TestRunResults, diagnostics: [String])]) -> [KTAPTest] {
    runs.map { r in
      let subtests = tests(from: r.run)
      let failed = r.run.failed > 0 || r.run.suiteFailures > 0 || !r.diagnostics.isEmpty
      let result: KTAPTest.Result = failed ? .notOk : (r.run.passed == 0 ? .skip("all tests skipped") : .ok)
      return KTAPTest(name: r.name, result: result, diagnostics: r.diagnostics, subtests: subtests)
    }
  }
}

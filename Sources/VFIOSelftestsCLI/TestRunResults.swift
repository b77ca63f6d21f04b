// SPDX-License-Identifier: GPL-2.0-only
import LibVFIO

/// The outcome of every test of one run of the Swift Testing binary, built from its event
/// stream: a tree of suites and tests (functions), each test passed, failed or skipped; a
/// parameterized test is one result per case.
public struct TestRunResults: Sendable {
  public enum Outcome: Equatable, Sendable {
    case passed
    case failed([String])
    case skipped(String)

    public var isFailure: Bool { if case .failed = self { true } else { false } }
    public var isSkip: Bool { if case .skipped = self { true } else { false } }
  }

  public struct Node: Sendable {
    /// Unique in the run: the Swift Testing ID of the suite or test, and for a case of a
    /// parameterized test that ID, `#` and the case's ID.
    public var id: String
    /// The display name, else the Swift name without its argument list (`()`, `(_:)`); for a
    /// case, its argument.
    public var name: String
    public var isSuite: Bool
    public var outcome: Outcome
    /// A suite's tests; a parameterized test's cases.
    public var children: [Node]
    /// Seconds from `testStarted` to `testEnded` (nil: not both seen).
    public var seconds: Double? = nil
    /// A parameterized test whose cases are known: its children are the cases, one result each.
    public var isParameterized = false
    /// For a case: the Swift Testing ID of its test function (what `--filter` matches); else `id`.
    public var testID: String? = nil
    /// For a case: the argument's display name (the case's `displayName`, e.g. `iommufd`).
    public var argument: String? = nil

    /// Leaf tests (functions, or the cases of a parameterized one) under this node, or the node
    /// itself when it is a test.
    public var leaves: [Node] { isSuite || isParameterized ? children.flatMap(\.leaves) : [self] }
  }

  /// Top-level suites and tests, in the order they ran.
  public var roots: [Node]
  /// Whether the stream has `runEnded` (false: the test binary died mid-run).
  public var runEnded: Bool

  public var passed: Int { roots.flatMap(\.leaves).filter { $0.outcome == .passed }.count }
  public var failed: Int { roots.flatMap(\.leaves).filter(\.outcome.isFailure).count }
  public var skipped: Int { roots.flatMap(\.leaves).filter(\.outcome.isSkip).count }
  /// Failures recorded on suites themselves (suite setup threw, a suite trait failed).
  public var suiteFailures: Int {
    func count(_ n: Node) -> Int {
      guard n.isSuite else { return 0 }
      let own = n.outcome.isFailure && !n.children.contains { $0.outcome.isFailure } ? 1 : 0
      return own + n.children.map(count).reduce(0, +)
    }
    return roots.map(count).reduce(0, +)
  }

  /// What the stream says about one test, or about one case of a parameterized test.
  struct Record {
    var firstSeen = Int.max
    var started = false, ended = false
    var skip: String?
    var issues: [String] = []
    var startedAt: Double?, endedAt: Double?

    mutating func add(_ e: EventRecord.Event, at i: Int, started startKind: String, ended endKind: String) {
      firstSeen = min(firstSeen, i)
      switch e.kind {
      case startKind: started = true; startedAt = e.instant
      case endKind: ended = true; endedAt = e.instant
      case "testSkipped", "testCancelled", "testCaseSkipped", "testCaseCancelled": skip = e.text ?? "skipped"
      case "issueRecorded" where e.isFailure: issues.append(e.text ?? "issue recorded")
      default: break
      }
    }

    var seconds: Double? { if let a = startedAt, let b = endedAt { max(0, b - a) } else { nil } }
  }

  /// `notRunReason`: why a test that has no result at all is reported failed (the binary died).
  ///
  /// A parameterized test is one node per case (one result each, named by its argument): an
  /// event carrying `_testCase` is that case's; a skip or an issue of the test itself (a trait
  /// cancelled it, a suite was skipped) applies to each of its cases that has no outcome of its
  /// own. Its cases are those the declaration lists (`_testCases`) and any the events name. A
  /// parameterized test with no known case (Swift Testing lists no cases for a test it skips
  /// while planning, nor under `--list-tests`) gets those `unlistedCases` gives for its tags and
  /// its suites' (see `iommuModeCases`), else is reported as one test, as before.
  public init(records: [EventRecord], notRunReason: String = "test binary ended before this test finished",
              unlistedCases: (_ tags: Set<String>) -> [EventRecord.TestCase]? = { _ in nil }) {
    var decls: [String: EventRecord.TestDeclaration] = [:]
    var declOrder: [String] = []
    var tests: [String: Record] = [:]
    // Per test ID: its cases in order of first appearance, and what happened to each.
    var caseOrder: [String: [EventRecord.TestCase]] = [:]
    var cases: [String: [String: Record]] = [:]
    var runEnded = false
    for (i, r) in records.enumerated() {
      switch r {
      case .test(let d):
        if decls[d.id] == nil { declOrder.append(d.id) }
        decls[d.id] = d
      case .event(let e):
        if e.kind == "runEnded" { runEnded = true }
        guard let id = e.testID else { continue }
        tests[id, default: Record()].firstSeen = min(tests[id]?.firstSeen ?? Int.max, i)
        if let c = e.testCase {
          if cases[id]?[c.id] == nil { caseOrder[id, default: []].append(c) }
          cases[id, default: [:]][c.id, default: Record()].add(e, at: i, started: "testCaseStarted", ended: "testCaseEnded")
        } else {
          tests[id, default: Record()].add(e, at: i, started: "testStarted", ended: "testEnded")
        }
      }
    }
    self.runEnded = runEnded
    // The parent of a test is the longest suite ID that prefixes its ID up to a "/".
    let suiteIDs = declOrder.filter { decls[$0]!.isSuite }
    func parent(of id: String) -> String? {
      suiteIDs.filter { $0 != id && id.hasPrefix($0 + "/") }.max { $0.count < $1.count }
    }
    var childrenOf: [String?: [String]] = [:]
    for id in declOrder { childrenOf[parent(of: id), default: []].append(id) }
    let order = Dictionary(uniqueKeysWithValues: declOrder.enumerated().map { ($1, $0) })
    func sorted(_ ids: [String]) -> [String] {
      ids.sorted { (tests[$0]?.firstSeen ?? Int.max, order[$0]!) < (tests[$1]?.firstSeen ?? Int.max, order[$1]!) }
    }
    func leafOutcome(_ r: Record, inheritedSkip: String?, inheritedIssues: [String] = []) -> Outcome {
      let issues = inheritedIssues + r.issues
      if !issues.isEmpty { return .failed(issues) }
      if let skip = r.skip ?? inheritedSkip { return .skipped(skip) }
      if r.ended { return .passed }
      return .failed([r.started ? "\(notRunReason) (started, never ended)" : "\(notRunReason) (never started)"])
    }
    func aggregate(_ children: [Node], skip: String?) -> Outcome {
      if children.contains(where: \.outcome.isFailure) { return .failed([]) }
      if let skip, children.allSatisfy(\.outcome.isSkip) { return .skipped(skip) }
      if !children.isEmpty, children.allSatisfy(\.outcome.isSkip) { return .skipped("all tests skipped") }
      return .passed
    }
    func build(_ id: String, inheritedSkip: String?, inheritedTags: Set<String> = []) -> Node {
      let d = decls[id]!
      let tags = inheritedTags.union(d.tags)
      var name = d.displayName ?? d.name
      // `f()` and `f(_:)` are `f`.
      if d.displayName == nil, name.hasSuffix(")"), let paren = name.firstIndex(of: "(") { name = String(name[..<paren]) }
      let own = tests[id] ?? Record()
      let skip = own.skip ?? inheritedSkip
      if d.isSuite {
        let children = sorted(childrenOf[id] ?? []).map { build($0, inheritedSkip: skip, inheritedTags: tags) }
        let outcome: Outcome = own.issues.isEmpty ? aggregate(children, skip: skip) : .failed(own.issues)
        return Node(id: id, name: name, isSuite: true, outcome: outcome, children: children, seconds: own.seconds)
      }
      // The cases: those declared, then any only the events name; in the order they ran.
      var known = d.testCases ?? []
      for c in caseOrder[id] ?? [] where !known.contains(where: { $0.id == c.id }) { known.append(c) }
      if known.isEmpty, d.isParameterized, let unlisted = unlistedCases(tags) { known = unlisted }
      guard !known.isEmpty else {
        return Node(id: id, name: name, isSuite: false, outcome: leafOutcome(own, inheritedSkip: inheritedSkip), children: [], seconds: own.seconds)
      }
      let declared = Dictionary(known.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
      known.sort { (cases[id]?[$0.id]?.firstSeen ?? Int.max, declared[$0.id]!) < (cases[id]?[$1.id]?.firstSeen ?? Int.max, declared[$1.id]!) }
      let children = known.map { c -> Node in
        let r = cases[id]?[c.id] ?? Record()
        return Node(id: "\(id)#\(c.id)", name: c.displayName, isSuite: false,
                    outcome: leafOutcome(r, inheritedSkip: r.ended ? nil : skip, inheritedIssues: own.issues),
                    children: [], seconds: r.seconds, testID: id, argument: c.displayName)
      }
      return Node(id: id, name: name, isSuite: false, outcome: aggregate(children, skip: skip), children: children,
                  seconds: own.seconds, isParameterized: true)
    }
    roots = sorted(childrenOf[nil] ?? []).map { build($0, inheritedSkip: nil) }
      .filter { !$0.isSuite || !$0.leaves.isEmpty }
  }

  /// The tag of the tests parameterized over the iommu modes (Swift Testing's `_tags` spelling).
  public static let iommuModesTag = ".iommuModes"

  /// `unlistedCases` for a run testing `modes`: a test tagged `.iommuModes` whose cases Swift
  /// Testing did not list has one case per mode (what the run would have named them).
  /// Likewise a test tagged `.sriovVariants` (vfio_pci_sriov_uapi_test) has one case per C
  /// variant of those modes: `<mode>_{same,diff,null}_uuid`.
  public static func iommuModeCases(_ modes: [IOMMUMode]) -> (Set<String>) -> [EventRecord.TestCase]? {
    { tags in
      let names: [String]
      if tags.contains(iommuModesTag) {
        names = modes.map(\.rawValue)
      } else if tags.contains(pciMigrationModesTag) {
        names = modes.filter(pciMigrationModes.contains).map(\.rawValue)
      } else if tags.contains(sriovVariantsTag) {
        names = modes.flatMap { m in sriovTokens.map { "\(m.rawValue)_\($0)" } }
      } else {
        return nil
      }
      return names.map { EventRecord.TestCase(id: $0, displayName: $0) }
    }
  }

  /// The tag of vfio_migration_test's `pci` tests, over `IOMMUMode.pciMigrationModes`.
  public static let pciMigrationModesTag = ".pciMigrationModes"
  static let pciMigrationModes = IOMMUMode.pciMigrationModes

  /// The tag of the tests parameterized over the SR-IOV variants (modes x VF tokens).
  public static let sriovVariantsTag = ".sriovVariants"
  static let sriovTokens = IOMMUMode.sriovUAPIVariantTokens

  /// The iommu mode of a case's argument: a mode, or an SR-IOV variant `<mode>_<token>`.
  public static func iommuMode(ofCase argument: String) -> IOMMUMode? {
    if let mode = IOMMUMode(rawValue: argument) { return mode }
    for token in sriovTokens where argument.hasSuffix("_\(token)") {
      return IOMMUMode(rawValue: String(argument.dropLast(token.count + 1)))
    }
    return nil
  }

  /// The kselftest exit code for this run: 0 pass, 1 fail, 4 skip (nothing passed or failed).
  /// `processStatus` is the test binary's exit status (nil: killed by a signal).
  public func kselftestExitCode(processStatus: Int32?) -> Int32 {
    if failed > 0 || suiteFailures > 0 || processStatus != 0 || !runEnded { return KselftestExit.fail }
    return passed == 0 ? KselftestExit.skip : KselftestExit.pass
  }
}

/// kselftest's exit codes (tools/testing/selftests/kselftest.h).
public enum KselftestExit {
  public static let pass: Int32 = 0
  public static let fail: Int32 = 1
  public static let skip: Int32 = 4
}

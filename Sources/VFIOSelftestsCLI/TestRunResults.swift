// SPDX-License-Identifier: GPL-2.0-only
/// The outcome of every test of one run of the Swift Testing binary, built from its event
/// stream: a tree of suites and tests (functions), each test passed, failed or skipped.
public struct TestRunResults: Sendable {
  public enum Outcome: Equatable, Sendable {
    case passed
    case failed([String])
    case skipped(String)

    public var isFailure: Bool { if case .failed = self { true } else { false } }
    public var isSkip: Bool { if case .skipped = self { true } else { false } }
  }

  public struct Node: Sendable {
    public var id: String
    /// The display name, else the Swift name without its `()`.
    public var name: String
    public var isSuite: Bool
    public var outcome: Outcome
    public var children: [Node]
    /// Seconds from `testStarted` to `testEnded` (nil: not both seen).
    public var seconds: Double? = nil

    /// Leaf tests (functions) under this node, or the node itself when it is a test.
    public var leaves: [Node] { isSuite ? children.flatMap(\.leaves) : [self] }
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

  /// `notRunReason`: why a test that has no result at all is reported failed (the binary died).
  public init(records: [EventRecord], notRunReason: String = "test binary ended before this test finished") {
    var decls: [String: EventRecord.TestDeclaration] = [:]
    var declOrder: [String] = []
    var firstSeen: [String: Int] = [:]
    var started = Set<String>(), ended = Set<String>()
    var skips: [String: String] = [:]
    var issues: [String: [String]] = [:]
    var startedAt: [String: Double] = [:], endedAt: [String: Double] = [:]
    var runEnded = false
    for (i, r) in records.enumerated() {
      switch r {
      case .test(let d):
        if decls[d.id] == nil { declOrder.append(d.id) }
        decls[d.id] = d
      case .event(let e):
        if e.kind == "runEnded" { runEnded = true }
        guard let id = e.testID else { continue }
        if firstSeen[id] == nil { firstSeen[id] = i }
        switch e.kind {
        case "testStarted": started.insert(id); startedAt[id] = e.instant
        case "testEnded": ended.insert(id); endedAt[id] = e.instant
        case "testSkipped", "testCancelled": skips[id] = e.text ?? "skipped"
        case "issueRecorded" where e.isFailure: issues[id, default: []].append(e.text ?? "issue recorded")
        default: break
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
      ids.sorted { (firstSeen[$0] ?? Int.max, order[$0]!) < (firstSeen[$1] ?? Int.max, order[$1]!) }
    }
    func build(_ id: String, inheritedSkip: String?) -> Node {
      let d = decls[id]!
      var name = d.displayName ?? d.name
      if d.displayName == nil, name.hasSuffix("()") { name.removeLast(2) }
      let skip = skips[id] ?? inheritedSkip
      let children = sorted(childrenOf[id] ?? []).map { build($0, inheritedSkip: skip) }
      let outcome: Outcome
      if let own = issues[id], !own.isEmpty {
        outcome = .failed(own)
      } else if d.isSuite {
        if children.contains(where: \.outcome.isFailure) {
          outcome = .failed([])
        } else if let skip, children.allSatisfy(\.outcome.isSkip) {
          outcome = .skipped(skip)
        } else if !children.isEmpty, children.allSatisfy(\.outcome.isSkip) {
          outcome = .skipped("all tests skipped")
        } else {
          outcome = .passed
        }
      } else if let skip {
        outcome = .skipped(skip)
      } else if ended.contains(id) {
        outcome = .passed
      } else {
        outcome = .failed([started.contains(id) ? "\(notRunReason) (started, never ended)" : "\(notRunReason) (never started)"])
      }
      var seconds: Double?
      if let a = startedAt[id], let b = endedAt[id] { seconds = max(0, b - a) }
      return Node(id: id, name: name, isSuite: d.isSuite, outcome: outcome, children: children, seconds: seconds)
    }
    roots = sorted(childrenOf[nil] ?? []).map { build($0, inheritedSkip: nil) }
      .filter { !$0.isSuite || !$0.leaves.isEmpty }
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

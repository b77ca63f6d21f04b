// SPDX-License-Identifier: GPL-2.0-only

/// One record of the Swift Testing JSON event stream (`--event-stream-output-path F
/// --event-stream-version 0`): either a test declaration (`"kind":"test"`) or an event
/// (`"kind":"event"`). Only the fields the KTAP report needs are kept; unknown records and
/// fields are ignored, so later stream versions still read.
public enum EventRecord: Equatable, Sendable {
  /// One case of a parameterized test (`_testCase`, `_testCases[]`): its ID (the arguments'
  /// IDs) and its display name (the argument's description, e.g. `iommufd`; several arguments
  /// joined by `, `).
  public struct TestCase: Equatable, Hashable, Sendable {
    public var id: String
    public var displayName: String

    public init(id: String, displayName: String) {
      self.id = id
      self.displayName = displayName
    }

    static func parse(_ object: JSON?) -> TestCase? {
      guard let id = object?["id"]?.string else { return nil }
      return TestCase(id: id, displayName: object?["displayName"]?.string ?? id)
    }
  }

  public struct TestDeclaration: Equatable, Sendable {
    public var id: String
    public var name: String
    public var displayName: String?
    public var isSuite: Bool
    public var file: String
    public var line: Int
    /// A parameterized test function's cases, as the run planned them (`_testCases`); nil when
    /// the declaration has no such field (not parameterized, or an older stream).
    public var testCases: [TestCase]? = nil
    public var isParameterized = false
    /// The tags the declaration itself carries (`_tags`, e.g. `.iommuModes`), not its suites'.
    public var tags: [String] = []
  }

  public struct Event: Equatable, Sendable {
    /// `runStarted`, `testStarted`, `testSkipped`, `testCancelled`, `issueRecorded`, `testEnded`, `runEnded`...
    public var kind: String
    public var testID: String?
    /// Skip/cancel comments, or the issue's message.
    public var text: String?
    /// For `issueRecorded`: whether the issue makes the test fail (not known, not a warning).
    public var isFailure: Bool
    /// When it happened (the event's `instant.absolute`, seconds on a monotonic clock).
    public var instant: Double? = nil
    /// The case of a parameterized test the event belongs to (`testCaseStarted`,
    /// `testCaseCancelled`, an issue recorded in a case...); nil: the test (or suite) itself.
    public var testCase: TestCase? = nil
  }

  case test(TestDeclaration)
  case event(Event)

  /// Parses one JSON line; nil for blank lines and records of other kinds.
  public static func parse(line: Substring) throws -> EventRecord? {
    let trimmed = line.trimmingSpaces()
    if trimmed.isEmpty { return nil }
    guard let object = try? JSON.parse(trimmed), let kind = object["kind"]?.string,
          let payload = object["payload"], case .object = payload
    else { throw EventStreamError.malformed(String(trimmed.prefix(120))) }
    switch kind {
    case "test":
      guard let id = payload["id"]?.string else { throw EventStreamError.malformed(String(trimmed.prefix(120))) }
      let loc = payload["sourceLocation"]
      let cases = (payload["_testCases"]?.array ?? payload["testCases"]?.array).map { $0.compactMap(TestCase.parse) }
      return .test(TestDeclaration(
        id: id, name: payload["name"]?.string ?? id, displayName: payload["displayName"]?.string,
        isSuite: payload["kind"]?.string == "suite",
        file: loc?["fileID"]?.string ?? "", line: loc?["line"]?.int ?? 0, testCases: cases,
        isParameterized: payload["isParameterized"]?.bool ?? false,
        tags: payload["_tags"]?.strings ?? payload["tags"]?.strings ?? []))
    case "event":
      guard let eventKind = payload["kind"]?.string else { throw EventStreamError.malformed(String(trimmed.prefix(120))) }
      let comments = payload["_comments"]?.strings ?? payload["comments"]?.strings ?? []
      let messages = (payload["messages"]?.array ?? []).compactMap { $0["text"]?.string }
      var isFailure = false
      var text: String? = comments.isEmpty ? nil : comments.joined(separator: "; ")
      if eventKind == "issueRecorded" {
        let issue = payload["issue"]
        let severity = issue?["_severity"]?.string ?? issue?["severity"]?.string ?? "error"
        isFailure = !(issue?["isKnown"]?.bool ?? false) && severity != "warning"
        text = messages.isEmpty ? text : messages.joined(separator: " ")
        if let loc = issue?["_sourceLocation"] ?? issue?["sourceLocation"],
           let file = loc["fileID"]?.string, let line = loc["line"]?.int {
          text = "\(file):\(line): \(text ?? "issue recorded")"
        }
      } else if text == nil, ["testSkipped", "testCancelled", "testCaseSkipped", "testCaseCancelled"].contains(eventKind) {
        text = messages.first
      }
      let instant = payload["instant"]?["absolute"]?.double
      let testCase = TestCase.parse(payload["_testCase"] ?? payload["testCase"])
      return .event(Event(kind: eventKind, testID: payload["testID"]?.string, text: text, isFailure: isFailure, instant: instant, testCase: testCase))
    default:
      return nil
    }
  }

  /// Parses a whole stream; a truncated last line (the writer was killed) is ignored.
  public static func parse(stream text: String) throws -> [EventRecord] {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
    var out: [EventRecord] = []
    for (i, line) in lines.enumerated() {
      do {
        if let r = try parse(line: line) { out.append(r) }
      } catch where i == lines.count - 1 && !text.hasSuffix("\n") {
        break
      }
    }
    return out
  }
}

public enum EventStreamError: Error, CustomStringConvertible, Equatable {
  case malformed(String)
  public var description: String {
    switch self {
    case .malformed(let line): "malformed Swift Testing event stream record: \(line)"
    }
  }
}

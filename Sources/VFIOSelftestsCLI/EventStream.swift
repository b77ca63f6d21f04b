// SPDX-License-Identifier: GPL-2.0-only
import Foundation

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

    static func parse(_ object: Any?) -> TestCase? {
      guard let o = object as? [String: Any], let id = o["id"] as? String else { return nil }
      return TestCase(id: id, displayName: o["displayName"] as? String ?? id)
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
    let trimmed = line.trimmingCharacters(in: .whitespaces)
    if trimmed.isEmpty { return nil }
    guard let object = try JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any],
          let kind = object["kind"] as? String, let payload = object["payload"] as? [String: Any]
    else { throw EventStreamError.malformed(String(trimmed.prefix(120))) }
    switch kind {
    case "test":
      guard let id = payload["id"] as? String else { throw EventStreamError.malformed(String(trimmed.prefix(120))) }
      let loc = payload["sourceLocation"] as? [String: Any]
      let cases = (payload["_testCases"] as? [Any] ?? payload["testCases"] as? [Any]).map { $0.compactMap(TestCase.parse) }
      return .test(TestDeclaration(
        id: id, name: payload["name"] as? String ?? id, displayName: payload["displayName"] as? String,
        isSuite: (payload["kind"] as? String) == "suite",
        file: loc?["fileID"] as? String ?? "", line: loc?["line"] as? Int ?? 0, testCases: cases,
        isParameterized: payload["isParameterized"] as? Bool ?? false,
        tags: payload["_tags"] as? [String] ?? payload["tags"] as? [String] ?? []))
    case "event":
      guard let eventKind = payload["kind"] as? String else { throw EventStreamError.malformed(String(trimmed.prefix(120))) }
      let comments = (payload["_comments"] as? [String]) ?? (payload["comments"] as? [String]) ?? []
      let messages = (payload["messages"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
      var isFailure = false
      var text: String? = comments.isEmpty ? nil : comments.joined(separator: "; ")
      if eventKind == "issueRecorded" {
        let issue = payload["issue"] as? [String: Any] ?? [:]
        let severity = (issue["_severity"] as? String) ?? (issue["severity"] as? String) ?? "error"
        isFailure = !((issue["isKnown"] as? Bool) ?? false) && severity != "warning"
        text = messages.isEmpty ? text : messages.joined(separator: " ")
        if let loc = issue["_sourceLocation"] as? [String: Any] ?? issue["sourceLocation"] as? [String: Any],
           let file = loc["fileID"] as? String, let line = loc["line"] as? Int {
          text = "\(file):\(line): \(text ?? "issue recorded")"
        }
      } else if text == nil, ["testSkipped", "testCancelled", "testCaseSkipped", "testCaseCancelled"].contains(eventKind) {
        text = messages.first
      }
      let instant = (payload["instant"] as? [String: Any])?["absolute"] as? Double
      let testCase = TestCase.parse(payload["_testCase"] ?? payload["testCase"])
      return .event(Event(kind: eventKind, testID: payload["testID"] as? String, text: text, isFailure: isFailure, instant: instant, testCase: testCase))
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

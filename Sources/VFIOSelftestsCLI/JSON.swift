// SPDX-License-Identifier: GPL-2.0-only

/// A JSON value (RFC 8259), as the Swift Testing event stream's lines hold them: the CLI reads
/// that stream with this small parser rather than Foundation's `JSONSerialization`, so the CLI
/// loads no Foundation at start (every kselftest program and `run` start it; docs/benchmark.md).
public enum JSON: Equatable, Sendable {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSON])
  case object([String: JSON])

  /// The member `key` of an object; nil for a missing key or a value that is not an object.
  public subscript(key: String) -> JSON? {
    if case .object(let o) = self { return o[key] }
    return nil
  }

  public var string: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  public var bool: Bool? {
    if case .bool(let b) = self { return b }
    return nil
  }

  public var double: Double? {
    if case .number(let d) = self { return d }
    return nil
  }

  /// A number with no fractional part, as an Int.
  public var int: Int? {
    if case .number(let d) = self, d.rounded() == d, abs(d) < 9.007_199_254_740_992e15 { return Int(d) }
    return nil
  }

  public var array: [JSON]? {
    if case .array(let a) = self { return a }
    return nil
  }

  /// The strings of an array (nil if it is not an array; its other elements are left out).
  public var strings: [String]? { array?.compactMap(\.string) }

  /// Parses one JSON text (surrounding white space allowed). Throws `JSON.ParseError` naming
  /// the byte offset where the text stops being JSON.
  public static func parse<S: StringProtocol>(_ text: S) throws(ParseError) -> JSON {
    var parser = Parser(bytes: Array(text.utf8))
    let value = try parser.value(depth: 0)
    parser.skipSpace()
    guard parser.at == parser.bytes.count else { throw ParseError(offset: parser.at, reason: "trailing characters") }
    return value
  }

  public struct ParseError: Error, Equatable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public var description: String { "JSON: \(reason) at byte \(offset)" }
  }

  private struct Parser {
    let bytes: [UInt8]
    var at = 0
    /// Deeper nesting than any event-stream record has is refused rather than recursed into.
    static let maxDepth = 64

    init(bytes: [UInt8]) { self.bytes = bytes }

    func fail(_ reason: String) -> ParseError { ParseError(offset: at, reason: reason) }

    mutating func skipSpace() {
      while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
    }

    mutating func expect(_ word: String) throws(ParseError) {
      for b in word.utf8 {
        guard at < bytes.count, bytes[at] == b else { throw fail("expected \(word)") }
        at += 1
      }
    }

    mutating func value(depth: Int) throws(ParseError) -> JSON {
      guard depth < Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth)") }
      skipSpace()
      guard at < bytes.count else { throw fail("unexpected end") }
      switch bytes[at] {
      case UInt8(ascii: "{"):
        at += 1
        var members: [String: JSON] = [:]
        skipSpace()
        if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object(members) }
        while true {
          skipSpace()
          guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
          let key = try string()
          skipSpace()
          try expect(":")
          members[key] = try value(depth: depth + 1)
          skipSpace()
          guard at < bytes.count else { throw fail("unexpected end in an object") }
          if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
          if bytes[at] == UInt8(ascii: "}") { at += 1; return .object(members) }
          throw fail("expected , or }")
        }
      case UInt8(ascii: "["):
        at += 1
        var elements: [JSON] = []
        skipSpace()
        if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(elements) }
        while true {
          elements.append(try value(depth: depth + 1))
          skipSpace()
          guard at < bytes.count else { throw fail("unexpected end in an array") }
          if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
          if bytes[at] == UInt8(ascii: "]") { at += 1; return .array(elements) }
          throw fail("expected , or ]")
        }
      case UInt8(ascii: "\""): return .string(try string())
      case UInt8(ascii: "t"): try expect("true"); return .bool(true)
      case UInt8(ascii: "f"): try expect("false"); return .bool(false)
      case UInt8(ascii: "n"): try expect("null"); return .null
      default: return .number(try number())
      }
    }

    mutating func number() throws(ParseError) -> Double {
      let start = at
      func digits(_ p: inout Parser) -> Int {
        let s = p.at
        while p.at < p.bytes.count, p.bytes[p.at] >= 0x30, p.bytes[p.at] <= 0x39 { p.at += 1 }
        return p.at - s
      }
      if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
      guard digits(&self) > 0 else { throw fail("expected a value") }
      if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
        at += 1
        guard digits(&self) > 0 else { throw fail("expected digits after .") }
      }
      if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
        at += 1
        if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
        guard digits(&self) > 0 else { throw fail("expected an exponent") }
      }
      guard let d = Double(String(decoding: bytes[start..<at], as: UTF8.self)) else { throw fail("bad number") }
      return d
    }

    /// A string at `at` (its opening quote), escapes decoded.
    mutating func string() throws(ParseError) -> String {
      at += 1
      var out: [UInt8] = []
      var runStart = at
      while true {
        guard at < bytes.count else { throw fail("unterminated string") }
        let b = bytes[at]
        if b == UInt8(ascii: "\"") {
          out += bytes[runStart..<at]
          at += 1
          return String(decoding: out, as: UTF8.self)
        }
        if b < 0x20 { throw fail("control character in a string") }
        if b != UInt8(ascii: "\\") { at += 1; continue }
        out += bytes[runStart..<at]
        at += 1
        guard at < bytes.count else { throw fail("unterminated escape") }
        let e = bytes[at]
        at += 1
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
          var scalar = try hex4()
          if (0xD800..<0xDC00).contains(scalar), at + 1 < bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") {
            at += 2
            let low = try hex4()
            if (0xDC00..<0xE000).contains(low) { scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00) } else { at -= 6 }
          }
          out += Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8)
        default: throw fail("bad escape")
        }
        runStart = at
      }
    }

    mutating func hex4() throws(ParseError) -> UInt32 {
      guard at + 4 <= bytes.count else { throw fail("short \\u escape") }
      var v: UInt32 = 0
      for _ in 0..<4 {
        let b = bytes[at]
        let d: UInt32
        switch b {
        case 0x30...0x39: d = UInt32(b - 0x30)
        case 0x41...0x46: d = UInt32(b - 0x41 + 10)
        case 0x61...0x66: d = UInt32(b - 0x61 + 10)
        default: throw fail("bad \\u escape")
        }
        v = v << 4 | d
        at += 1
      }
      return v
    }
  }
}

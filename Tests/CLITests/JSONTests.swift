// SPDX-License-Identifier: GPL-2.0-only
import Foundation
import Testing
@testable import VFIOSelftestsCLI

/// The CLI's JSON reader and string helpers, held against Foundation's, which the CLI no longer
/// loads (the test binary still does, so the two can be compared here).
@Suite("The CLI's JSON reader and text helpers, against Foundation's")
struct JSONTests {
  /// Foundation's reading of `text`, turned into the same enum (numbers as Double; a Bool is
  /// the NSNumber whose C type is `c`).
  static func foundation(_ text: String) throws -> JSON {
    func convert(_ v: Any) -> JSON {
      switch v {
      case is NSNull: return .null
      case let n as NSNumber where String(cString: n.objCType) == "c": return .bool(n.boolValue)
      case let n as NSNumber: return .number(n.doubleValue)
      case let s as String: return .string(s)
      case let a as [Any]: return .array(a.map(convert))
      case let o as [String: Any]: return .object(o.mapValues(convert))
      default: return .null
      }
    }
    return convert(try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]))
  }

  static let texts = [
    #"{"kind":"event","payload":{"kind":"testStarted","instant":{"absolute":1234.5678,"since1970":1.7e9},"messages":[]}}"#,
    #" [1, -2, 3.25, 1e3, -4E-2, 0, true, false, null, "", {}] "#,
    #"{"s":"quote \" backslash \\ slash \/ \b\f\n\r\t tab","u":"\u00e9\u4e2d\ud83d\ude00","nested":{"a":[[[]]]}}"#,
    #"{"dup":1,"dup":2}"#,
    #""plain""#,
  ]

  @Test(arguments: texts)
  func readsAsFoundationDoes(_ text: String) throws {
    #expect(try JSON.parse(text) == Self.foundation(text))
  }

  @Test(arguments: [#"{"a":1"#, #"{"a" 1}"#, #"[1,]"#, #"tru"#, #""\x""#, "\"a\u{01}b\"", #"1."#, #"-"#, #"{} x"#, ""])
  func refusesWhatIsNotJSON(_ text: String) {
    #expect(throws: JSON.ParseError.self) { try JSON.parse(text) }
  }

  @Test func refusesDeepNesting() {
    #expect(throws: JSON.ParseError.self) { try JSON.parse(String(repeating: "[", count: 100) + String(repeating: "]", count: 100)) }
  }

  @Test func accessors() throws {
    let v = try JSON.parse(#"{"n":3,"f":2.5,"b":true,"s":"x","a":["p",1,"q"]}"#)
    #expect(v["n"]?.int == 3)
    #expect(v["f"]?.int == nil)
    #expect(v["f"]?.double == 2.5)
    #expect(v["b"]?.bool == true)
    #expect(v["s"]?.string == "x")
    #expect(v["a"]?.strings == ["p", "q"])
    #expect(v["missing"] == nil)
    #expect(v["s"]?["x"] == nil)
  }

  @Test(arguments: ["VFIOHardwareTests.Hardware/VFIOPCIDeviceSuite/config_space_read_write(_:)/VFIOPCIDeviceTest.swift:12:3",
                    "a*b?c+d[e(f)g{h}i^j$k|l\\m.n/o", "plain", ""])
  func regexEscapedIsFoundations(_ s: String) {
    #expect(s.regexEscaped == NSRegularExpression.escapedPattern(for: s))
  }

  @Test(arguments: [0.0, 0.04, 0.05, 0.15, 1.25, 12.345, 99.96, -0.04, -3.75, 1234567.891])
  func formatFixedIsPrintfs(_ v: Double) {
    #expect(formatFixed(v, digits: 1) == String(format: "%.1f", v))
    #expect(formatFixed(v, digits: 3) == String(format: "%.3f", v))
  }

  @Test func trimmingSpacesIsFoundations() {
    for s in ["  a b \t", "\t\t", "", "x", " \u{00A0}nbsp\u{2003} ", "\nline\n "] {
      #expect(s.trimmingSpaces() == s.trimmingCharacters(in: .whitespaces))
    }
  }
}

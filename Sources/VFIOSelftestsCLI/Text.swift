// SPDX-License-Identifier: GPL-2.0-only
import LibVFIO
// The few string helpers the CLI took from Foundation (which it no longer loads: see JSON.swift).

extension StringProtocol {
  /// The text without leading and trailing spaces and tabs (Foundation's
  /// `trimmingCharacters(in: .whitespaces)`: white space that is not a line break).
  public func trimmingSpaces() -> String {
    func isSpace(_ c: Character) -> Bool { c.isWhitespace && !c.isNewline }
    guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
    return String(self[first...last])
  }

  /// The text padded with spaces to `width` characters (longer text is left as it is).
  public func padded(to width: Int) -> String {
    count >= width ? String(self) : String(self) + String(repeating: " ", count: width - count)
  }

  /// The text as a regular expression that matches it literally: each of `*?+[(){}^$|\./`
  /// escaped with a backslash, as Foundation's `NSRegularExpression.escapedPattern(for:)`.
  public var regexEscaped: String {
    var out = ""
    out.reserveCapacity(utf8.count)
    for c in self {
      if "*?+[(){}^$|\\./".contains(c) { out.append("\\") }
      out.append(c)
    }
    return out
  }
}

/// `value` with `digits` decimals, as `String(format: "%.Nf")` (C's printf: `Syscalls.formatFixed`).
public func formatFixed(_ value: Double, digits: Int) -> String {
  Syscalls.formatFixed(value, decimals: digits)
}

// SPDX-License-Identifier: GPL-2.0-only
/// JUnit XML from the same results model as the KTAP report (`TestRunResults`), so the two
/// records of a run never disagree: one `<testsuite>` per run (device), one `<testcase>` per test
/// with `classname` its C program and `name` its C name (`fixture.variant.test`; see `CName`),
/// `time` in seconds; skips (cancellations included) carry their reason, failures every message. The
/// run's own diagnostics (test binary killed, ended early) become a failed `test binary` case.
public enum JUnit {
  public static func document(_ runs: [(name: String, run: TestRunResults, diagnostics: [String])]) -> String {
    var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
    for r in runs {
      let cases = r.run.programs.flatMap { p in p.tests.map { (classname: p.name, name: $0.name.name, node: $0.node) } }
      let failures = cases.filter { $0.node.outcome.isFailure }.count + (r.diagnostics.isEmpty ? 0 : 1)
      let skipped = cases.filter { $0.node.outcome.isSkip }.count
      let total = cases.count + (r.diagnostics.isEmpty ? 0 : 1)
      let seconds = cases.compactMap(\.node.seconds).reduce(0, +)
      out += "  <testsuite name=\"\(escape(r.name))\" tests=\"\(total)\" failures=\"\(failures)\" skipped=\"\(skipped)\" errors=\"0\" time=\"\(format(seconds))\">\n"
      for (classname, name, n) in cases {
        let time = n.seconds.map { " time=\"\(format($0))\"" } ?? ""
        let head = "    <testcase classname=\"\(escape(classname))\" name=\"\(escape(name))\"\(time)"
        switch n.outcome {
        case .passed:
          out += head + "/>\n"
        case .skipped(let reason):
          out += head + ">\n      <skipped message=\"\(escape(reason))\"/>\n    </testcase>\n"
        case .failed(let messages):
          let first = messages.first ?? "failed"
          out += head + ">\n      <failure message=\"\(escape(first))\">\(escape(messages.joined(separator: "\n")))</failure>\n    </testcase>\n"
        }
      }
      if !r.diagnostics.isEmpty {
        let text = r.diagnostics.joined(separator: "; ")
        out += "    <testcase classname=\"\(escape(r.name))\" name=\"test binary\">\n      <failure message=\"\(escape(text))\">\(escape(text))</failure>\n    </testcase>\n"
      }
      out += "  </testsuite>\n"
    }
    return out + "</testsuites>\n"
  }

  static func format(_ seconds: Double) -> String {
    let ms = Int((seconds * 1000).rounded())
    let frac = String(ms % 1000)
    return "\(ms / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
  }

  /// XML text and attribute escaping; control characters other than tab and newline (not
  /// allowed in XML 1.0) become spaces.
  static func escape(_ s: String) -> String {
    var out = ""
    for u in s.unicodeScalars {
      switch u {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&apos;"
      case "\n": out += "&#10;"
      case "\t": out.unicodeScalars.append(u)
      default: if u.value < 0x20 { out += " " } else { out.unicodeScalars.append(u) }
      }
    }
    return out
  }
}

// SPDX-License-Identifier: GPL-2.0-only
import _StringProcessing

extension SelftestsEnvironment {
  /// The type of a variable's value: one parser each, which the typed accessors, `validate()`,
  /// `vfio-selftests env --check` and `vfio-selftests run` all use.
  public enum ValueType: Sendable, Equatable {
    /// One PCI address.
    case bdf
    /// PCI addresses separated by spaces or commas, at least one.
    case bdfList
    /// `1` or `2`: a stage of a two-stage (kexec) run.
    case stage
    /// `1` or `2`: how many stages a run has.
    case stageCount
    /// One of `IOMMUMode`'s names.
    case iommuMode
    /// `IOMMUMode` names separated by spaces or commas, at least one.
    case iommuModeList
    /// `1`, `0`, or `StrictCapability` names separated by commas.
    case strictCapabilities
    /// A number from 1 to 100.
    case scale
    /// A size in bytes, at least `SelftestsEnvironment.minimumLiveUpdateMemfdSize`.
    case bytes
    /// `N` seconds, or `mode=N[,mode=N...]`.
    case secondsPerMode
    /// One of `DeviceSetup.checkpoints`.
    case checkpoint
    /// At most 16 of `A-Za-z0-9-_.`.
    case sessionPrefix
    /// A file or directory (not checked here: it may name a path of another machine, the guest).
    case path
    /// An extended regular expression (`swift test --filter`, `grep -E`).
    case regex
    /// `1` or one PCI address.
    case flagOrBDF
    /// Names of `[A-Za-z0-9_.-]` separated by commas.
    case nameList
    /// Free text on one line.
    case text

    /// The value column of the README's table.
    public var syntax: String {
      switch self {
      case .bdf: "BDF"
      case .bdfList: "BDFs, space or comma separated"
      case .stage: "`1` or `2`"
      case .stageCount: "`1` or `2`"
      case .iommuMode: "a mode name"
      case .iommuModeList: "mode names, space or comma separated"
      case .strictCapabilities: "`1` or capabilities"
      case .scale: "1 to 100"
      case .bytes: "bytes"
      case .secondsPerMode: "seconds, or `mode=seconds,...`"
      case .checkpoint: "a checkpoint"
      case .sessionPrefix: "up to 16 of `A-Za-z0-9-_.`"
      case .path: "path"
      case .regex: "regex"
      case .flagOrBDF: "`1` or a BDF"
      case .nameList: "names, comma separated"
      case .text: "text"
      }
    }
  }

  /// What a value should have been (the text after "expected").
  /// Package-internal: a parser's failure, which the accessors turn into `VFIOError.environment`.
  package struct Mismatch: Error, Equatable, Sendable {
    package var expected: String
    package init(_ expected: String) { self.expected = expected }
  }

  /// The parsers, one per `ValueType`: a typed value, or what was expected.
  public enum Parse {
    static let modeNames = IOMMUMode.allCases.map(\.rawValue).joined(separator: ", ")

    package static func bdf(_ s: String) throws(Mismatch) -> PCIAddress {
      guard let a = PCIAddress(s) else { throw Mismatch("a PCI address, DDDD:BB:DD.F or BB:DD.F (hex)") }
      return a
    }

    package static func bdfList(_ s: String) throws(Mismatch) -> [PCIAddress] {
      var out: [PCIAddress] = []
      for part in s.split(whereSeparator: { $0 == " " || $0 == "," }) {
        guard let a = PCIAddress(String(part)) else { throw Mismatch("PCI addresses separated by spaces or commas ('\(part)' is not one)") }
        out.append(a)
      }
      guard !out.isEmpty else { throw Mismatch("at least one PCI address") }
      return out
    }

    package static func stage(_ s: String) throws(Mismatch) -> Int {
      guard let n = Int(s), n == 1 || n == 2 else { throw Mismatch("1 (before kexec) or 2 (after kexec)") }
      return n
    }

    package static func stageCount(_ s: String) throws(Mismatch) -> Int {
      guard let n = Int(s), n == 1 || n == 2 else { throw Mismatch("1 (one boot) or 2 (a boot, a kexec and a second stage)") }
      return n
    }

    package static func iommuMode(_ s: String) throws(Mismatch) -> IOMMUMode {
      guard let m = IOMMUMode(rawValue: s) else { throw Mismatch("one of \(modeNames)") }
      return m
    }

    package static func iommuModeList(_ s: String) throws(Mismatch) -> [IOMMUMode] {
      var out: [IOMMUMode] = []
      for part in s.split(whereSeparator: { $0 == " " || $0 == "," }) {
        guard let m = IOMMUMode(rawValue: String(part)) else {
          throw Mismatch("mode names separated by spaces or commas ('\(part)' is not one of \(modeNames))")
        }
        out.append(m)
      }
      guard !out.isEmpty else { throw Mismatch("at least one of \(modeNames)") }
      return out
    }

    package static func strictCapabilities(_ s: String) throws(Mismatch) -> Strictness {
      if s == "1" { return .all }
      if s == "0" { return .only([]) }
      var names = Set<StrictCapability>()
      for part in s.split(separator: ",") {
        guard let c = StrictCapability(rawValue: part.trimmingSpaces) else {
          throw Mismatch("1, 0, or a comma-separated list of \(StrictCapability.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        names.insert(c)
      }
      return .only(names)
    }

    package static func scale(_ s: String) throws(Mismatch) -> Double {
      guard let v = Double(s), v.isFinite, v >= 1, v <= 100 else {
        throw Mismatch("a number from 1 to 100 (C's time limits are multiplied by it)")
      }
      return v
    }

    package static func bytes(_ s: String) throws(Mismatch) -> Int {
      guard let n = Int(s), n >= SelftestsEnvironment.minimumLiveUpdateMemfdSize else {
        throw Mismatch("a size in bytes of at least \(SelftestsEnvironment.minimumLiveUpdateMemfdSize) (2 MiB)")
      }
      return n
    }

    /// Seconds for every mode (nil key), or per mode.
    package static func secondsPerMode(_ s: String) throws(Mismatch) -> [IOMMUMode?: Double] {
      if let n = Double(s), n.isFinite, n > 0 { return [nil: n] }
      var out: [IOMMUMode?: Double] = [:]
      for entry in s.split(separator: ",") {
        let kv = entry.split(separator: "=", maxSplits: 1).map(String.init)
        guard kv.count == 2, let m = IOMMUMode(rawValue: kv[0]), let n = Double(kv[1]), n.isFinite, n > 0 else {
          throw Mismatch("seconds, or mode=seconds[,mode=seconds] with a mode of \(modeNames)")
        }
        out[m] = n
      }
      return out
    }

    package static func checkpoint(_ s: String) throws(Mismatch) -> String {
      guard DeviceSetup.checkpoints.contains(s) else { throw Mismatch("one of \(DeviceSetup.checkpoints.joined(separator: ", "))") }
      return s
    }

    package static func sessionPrefix(_ s: String) throws(Mismatch) -> String {
      let allowed = s.utf8.allSatisfy { c in
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E
      }
      guard allowed, s.utf8.count <= SelftestsEnvironment.maximumLUOSessionPrefix else {
        throw Mismatch("at most \(SelftestsEnvironment.maximumLUOSessionPrefix) letters, digits, '-', '_' or '.'")
      }
      return s
    }

    /// Scripts split on lines and pass these through `env`: a control character breaks them.
    package static func path(_ s: String) throws(Mismatch) -> String {
      guard !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { throw Mismatch("a path without control characters") }
      return s
    }

    package static func regex(_ s: String) throws(Mismatch) -> String {
      guard !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { throw Mismatch("a regular expression on one line") }
      do {
        _ = try Regex(s)
      } catch {
        let why = "\(error)".split(separator: "\n").first.map(String.init) ?? ""
        throw Mismatch("a regular expression (\(why))")
      }
      return s
    }

    /// nil for `1` (the default device), else the device.
    package static func flagOrBDF(_ s: String) throws(Mismatch) -> PCIAddress? {
      if s == "1" { return nil }
      guard let a = PCIAddress(s) else { throw Mismatch("1, or a PCI address (DDDD:BB:DD.F or BB:DD.F, hex)") }
      return a
    }

    package static func nameList(_ s: String) throws(Mismatch) -> [String] {
      let parts = s.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
      let ok = parts.allSatisfy { p in
        !p.isEmpty && p.utf8.allSatisfy { c in
          (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E
        }
      }
      guard ok else { throw Mismatch("names of letters, digits, '-', '_' or '.' separated by commas") }
      return parts
    }

    package static func text(_ s: String) throws(Mismatch) -> String {
      guard !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { throw Mismatch("text without control characters") }
      return s
    }
  }

  /// `.all` for `1`, else the capabilities named.
  public enum Strictness: Equatable, Sendable {
    case all
    case only(Set<StrictCapability>)

    public func expects(_ capability: StrictCapability) -> Bool {
      switch self {
      case .all: true
      case .only(let names): names.contains(capability)
      }
    }
  }
}

extension SelftestsEnvironment.ValueType {
  /// Runs this type's parser, dropping the value.
  package func check(_ s: String) throws(SelftestsEnvironment.Mismatch) {
    typealias P = SelftestsEnvironment.Parse
    switch self {
    case .bdf: _ = try P.bdf(s)
    case .bdfList: _ = try P.bdfList(s)
    case .stage: _ = try P.stage(s)
    case .stageCount: _ = try P.stageCount(s)
    case .iommuMode: _ = try P.iommuMode(s)
    case .iommuModeList: _ = try P.iommuModeList(s)
    case .strictCapabilities: _ = try P.strictCapabilities(s)
    case .scale: _ = try P.scale(s)
    case .bytes: _ = try P.bytes(s)
    case .secondsPerMode: _ = try P.secondsPerMode(s)
    case .checkpoint: _ = try P.checkpoint(s)
    case .sessionPrefix: _ = try P.sessionPrefix(s)
    case .path: _ = try P.path(s)
    case .regex: _ = try P.regex(s)
    case .flagOrBDF: _ = try P.flagOrBDF(s)
    case .nameList: _ = try P.nameList(s)
    case .text: _ = try P.text(s)
    }
  }
}

extension Substring {
  fileprivate var trimmingSpaces: String {
    var s = self
    while s.first == " " { s.removeFirst() }
    while s.last == " " { s.removeLast() }
    return String(s)
  }
}

// SPDX-License-Identifier: GPL-2.0-only
/// The environment variables the suites and the command line read, in one place: each has one
/// parser here, the suites read their values through it, and `vfio-selftests run` checks every
/// one before it starts anything, so garbage is a one-line error naming the variable, the value
/// and what was expected, never a silent default or a half-run.
public struct SelftestsEnvironment: Sendable {
  public enum Variable: String, CaseIterable, Sendable {
    /// The device under test (C: the BDF argument, `$VFIO_SELFTESTS_BDF`).
    case bdf = "VFIO_SELFTESTS_BDF"
    /// Several devices (space or comma separated): the driver test's, init_perf's.
    case bdfs = "VFIO_SELFTESTS_BDFS"
    /// The SR-IOV PF of vfio_pci_sriov_uapi_test.
    case sriovBDF = "VFIO_SELFTESTS_SRIOV_BDF"
    /// Intel Xe VFs bound to xe-vfio-pci, the PCI migration suites' devices (`XeVFCheck`).
    case migrationBDFS = "VFIO_SELFTESTS_MIGRATION_BDFS"
    /// 1 or 2: the stage of a two-stage kexec run.
    case stage = "VFIO_SELFTESTS_STAGE"
    /// `1`, or capabilities that must not be missing.
    case strict = "VFIO_SELFTESTS_STRICT"
    /// Only this mode's suites run.
    case iommuMode = "VFIO_SELFTESTS_IOMMU_MODE"
    /// C's time limits times this.
    case timeoutScale = "VFIO_SELFTESTS_TIMEOUT_SCALE"
    /// The kexec test's preserved memfd, in bytes.
    case liveUpdateMemfdSize = "VFIO_SELFTESTS_LIVEUPDATE_MEMFD_SIZE"
    /// The migration stress's duration.
    case migrationStressSeconds = "VFIO_SELFTESTS_MIGRATION_STRESS_SECONDS"
    /// Fault injection: `setup`/`cleanup` stop themselves (SIGSTOP) at this checkpoint.
    case stopAt = "VFIO_SELFTESTS_STOP_AT"
    /// Put before the LUO kexec tests' session names (C's names otherwise), so the C luo_*
    /// programs can hold theirs across the same kexec (scripts/compare-c.sh).
    case luoSessionPrefix = "VFIO_SELFTESTS_LUO_SESSION_PREFIX"
  }

  /// A value that does not parse.
  public struct Invalid: Error, Equatable, Sendable, CustomStringConvertible {
    public var variable: Variable
    public var value: String
    public var expected: String
    public var description: String { "\(variable.rawValue)='\(value)': expected \(expected)" }
  }

  /// The capabilities `VFIO_SELFTESTS_STRICT` may name.
  public static let strictCapabilities = ["vfio-container", "iommufd", "vfio-cdev", "liveupdate", "vfio-liveupdate", "sriov"]
  /// The kexec test's memfd: 1 GiB + 1 MiB as in C, at least 2 MiB when set.
  public static let defaultLiveUpdateMemfdSize = (1 << 30) + (1 << 20)
  public static let minimumLiveUpdateMemfdSize = 2 << 20
  public static let defaultMigrationStressSeconds = 3.0

  public var values: [String: String]

  public init(values: [String: String]) { self.values = values }

  /// The process's own environment (only the variables above).
  public static var current: SelftestsEnvironment {
    var values: [String: String] = [:]
    for v in Variable.allCases { if let s = Syscalls.environmentValue(v.rawValue) { values[v.rawValue] = s } }
    return SelftestsEnvironment(values: values)
  }

  /// The value, nil when unset or empty (empty counts as unset, as for C's getenv checks).
  public func raw(_ v: Variable) -> String? {
    guard let s = values[v.rawValue], !s.isEmpty else { return nil }
    return s
  }

  /// Every variable checked; the problems found, in `Variable` order.
  public func validate() -> [Invalid] {
    let checks: [Result<Void, Invalid>] = [
      Result { () throws(Invalid) in _ = try address(.bdf) },
      Result { () throws(Invalid) in _ = try addresses(.bdfs) },
      Result { () throws(Invalid) in _ = try address(.sriovBDF) },
      Result { () throws(Invalid) in _ = try addresses(.migrationBDFS) },
      Result { () throws(Invalid) in _ = try stage() },
      Result { () throws(Invalid) in _ = try strict() },
      Result { () throws(Invalid) in _ = try iommuMode() },
      Result { () throws(Invalid) in _ = try timeoutScale() },
      Result { () throws(Invalid) in _ = try liveUpdateMemfdSize() },
      Result { () throws(Invalid) in _ = try migrationStressSeconds(.iommufd) },
      Result { () throws(Invalid) in _ = try stopAt() },
      Result { () throws(Invalid) in _ = try luoSessionPrefix() },
    ]
    let out = checks.compactMap { r -> Invalid? in if case .failure(let e) = r { e } else { nil } }
    return out
  }

  // MARK: the parsers

  /// One of `DeviceSetup.checkpoints`, nil when unset.
  public func stopAt() throws(Invalid) -> String? {
    guard let s = raw(.stopAt) else { return nil }
    guard DeviceSetup.checkpoints.contains(s) else {
      throw Invalid(variable: .stopAt, value: s, expected: "one of \(DeviceSetup.checkpoints.joined(separator: ", "))")
    }
    return s
  }

  /// The longest `VFIO_SELFTESTS_LUO_SESSION_PREFIX`: the longest C session name
  /// ("kexec_many_files_state", 22 bytes) plus it stays well inside LIVEUPDATE_SESSION_NAME_LENGTH (64).
  public static let maximumLUOSessionPrefix = 16

  /// Letters, digits, `-`, `_` and `.`, at most 16; "" when unset.
  public func luoSessionPrefix() throws(Invalid) -> String {
    guard let s = raw(.luoSessionPrefix) else { return "" }
    let allowed = s.utf8.allSatisfy { c in
      (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E
    }
    guard allowed, s.utf8.count <= Self.maximumLUOSessionPrefix else {
      throw Invalid(variable: .luoSessionPrefix, value: s, expected: "at most \(Self.maximumLUOSessionPrefix) letters, digits, '-', '_' or '.'")
    }
    return s
  }

  /// One PCI address, nil when unset.
  public func address(_ v: Variable) throws(Invalid) -> PCIAddress? {
    guard let s = raw(v) else { return nil }
    guard let a = PCIAddress(s) else { throw Invalid(variable: v, value: s, expected: "a PCI address, DDDD:BB:DD.F or BB:DD.F (hex)") }
    return a
  }

  /// Addresses separated by spaces or commas, nil when unset; at least one.
  public func addresses(_ v: Variable) throws(Invalid) -> [PCIAddress]? {
    guard let s = raw(v) else { return nil }
    var out: [PCIAddress] = []
    for part in s.split(whereSeparator: { $0 == " " || $0 == "," }) {
      guard let a = PCIAddress(String(part)) else {
        throw Invalid(variable: v, value: s, expected: "PCI addresses separated by spaces or commas ('\(part)' is not one)")
      }
      out.append(a)
    }
    guard !out.isEmpty else { throw Invalid(variable: v, value: s, expected: "at least one PCI address") }
    return out
  }

  public func stage() throws(Invalid) -> Int? {
    guard let s = raw(.stage) else { return nil }
    guard let n = Int(s), n == 1 || n == 2 else { throw Invalid(variable: .stage, value: s, expected: "1 (before kexec) or 2 (after kexec)") }
    return n
  }

  /// `.all` for `1`, else the capabilities named.
  public enum Strictness: Equatable, Sendable {
    case all
    case only(Set<String>)

    public func expects(_ capability: String) -> Bool {
      switch self {
      case .all: true
      case .only(let names): names.contains(capability)
      }
    }
  }

  public func strict() throws(Invalid) -> Strictness {
    guard let s = raw(.strict) else { return .only([]) }
    if s == "1" { return .all }
    if s == "0" { return .only([]) }
    var names = Set<String>()
    for part in s.split(separator: ",") {
      let name = part.trimmingSpaces
      guard Self.strictCapabilities.contains(name) else {
        throw Invalid(variable: .strict, value: s, expected: "1, 0, or a comma-separated list of \(Self.strictCapabilities.joined(separator: ", "))")
      }
      names.insert(name)
    }
    return .only(names)
  }

  public func iommuMode() throws(Invalid) -> IOMMUMode? {
    guard let s = raw(.iommuMode) else { return nil }
    guard let m = IOMMUMode(rawValue: s) else {
      throw Invalid(variable: .iommuMode, value: s, expected: "one of \(IOMMUMode.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return m
  }

  /// A number from 1 to 100; 1 when unset.
  public func timeoutScale() throws(Invalid) -> Double {
    guard let s = raw(.timeoutScale) else { return 1 }
    guard let v = Double(s), v.isFinite, v >= 1, v <= 100 else {
      throw Invalid(variable: .timeoutScale, value: s, expected: "a number from 1 to 100 (C's time limits are multiplied by it)")
    }
    return v
  }

  /// Bytes, at least 2 MiB (the driver's half and the memcpy region's); C's size when unset.
  public func liveUpdateMemfdSize() throws(Invalid) -> Int {
    guard let s = raw(.liveUpdateMemfdSize) else { return Self.defaultLiveUpdateMemfdSize }
    guard let n = Int(s), n >= Self.minimumLiveUpdateMemfdSize else {
      throw Invalid(variable: .liveUpdateMemfdSize, value: s, expected: "a size in bytes of at least \(Self.minimumLiveUpdateMemfdSize) (2 MiB)")
    }
    return n
  }

  /// `N` seconds for every mode, or `mode=N[,mode=N...]` for those modes (3 s for the others).
  public func migrationStressSeconds(_ mode: IOMMUMode) throws(Invalid) -> Double {
    guard let s = raw(.migrationStressSeconds) else { return Self.defaultMigrationStressSeconds }
    if let n = Double(s), n.isFinite, n > 0 { return n }
    var seconds = Self.defaultMigrationStressSeconds
    for entry in s.split(separator: ",") {
      let kv = entry.split(separator: "=", maxSplits: 1).map(String.init)
      guard kv.count == 2, let m = IOMMUMode(rawValue: kv[0]), let n = Double(kv[1]), n.isFinite, n > 0 else {
        throw Invalid(variable: .migrationStressSeconds, value: s,
                      expected: "seconds, or mode=seconds[,mode=seconds] with a mode of \(IOMMUMode.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      if m == mode { seconds = n }
    }
    return seconds
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

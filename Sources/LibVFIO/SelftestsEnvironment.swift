// SPDX-License-Identifier: GPL-2.0-only
/// The environment variables the suites, the command line, vfio-bench and the scripts read, in
/// one place: `Variable` names each with its type and meaning, `Parse` has one parser per type,
/// every reader goes through the typed accessors here, and `vfio-selftests run` checks every
/// variable (and refuses unknown `VFIO_SELFTESTS_*` names) before it starts anything, so garbage
/// is a one-line error naming the variable, the value and what was expected, never a silent
/// default or a half-run.
public struct SelftestsEnvironment: Sendable {
  /// The prefix every variable has.
  public static let prefix = "VFIO_SELFTESTS_"

  /// A value that does not parse (thrown as `VFIOError.environment`).
  public struct Invalid: Equatable, Sendable, CustomStringConvertible {
    public var variable: Variable
    public var value: String
    public var expected: String
    public init(variable: Variable, value: String, expected: String) {
      self.variable = variable
      self.value = value
      self.expected = expected
    }
    public var description: String { "\(variable.rawValue)='\(value)': expected \(expected)" }
  }

  /// A `VFIO_SELFTESTS_*` name no code reads (a typo, or a variable that no longer exists).
  public struct Unknown: Equatable, Sendable, CustomStringConvertible {
    public var name: String
    /// The registered name nearest to it, if one is near.
    public var suggestion: Variable?
    public var description: String {
      "\(name): unknown variable" + (suggestion.map { " (did you mean \($0.rawValue)?)" } ?? " (vfio-selftests env lists them)")
    }
  }

  /// The kexec test's memfd: 1 GiB + 1 MiB as in C, at least 2 MiB when set.
  public static let defaultLiveUpdateMemfdSize = (1 << 30) + (1 << 20)
  public static let minimumLiveUpdateMemfdSize = 2 << 20
  public static let defaultMigrationStressSeconds = 3.0
  public static let defaultResetMmapSeconds = 3.0

  /// The `VFIO_SELFTESTS_*` variables, registered or not.
  public var values: [String: String]

  public init(values: [String: String]) { self.values = values.filter { $0.key.hasPrefix(Self.prefix) } }

  /// The process's own environment (its `VFIO_SELFTESTS_*` variables), read once.
  public static let current = SelftestsEnvironment(values: Syscalls.environment(prefix: prefix))

  /// The value, nil when unset or empty (empty counts as unset, as for C's getenv checks).
  public func raw(_ v: Variable) -> String? {
    guard let s = values[v.rawValue], !s.isEmpty else { return nil }
    return s
  }

  /// Every registered variable that is set checked by its type's parser; the problems found, in
  /// `Variable` order.
  public func validate() -> [Invalid] {
    Variable.allCases.compactMap { v -> Invalid? in
      guard let s = raw(v) else { return nil }
      do throws(Mismatch) {
        try v.type.check(s)
        return nil
      } catch {
        return Invalid(variable: v, value: s, expected: error.expected)
      }
    }
  }

  /// The `VFIO_SELFTESTS_*` names set here that are not registered, sorted.
  public func unknown() -> [Unknown] {
    values.keys.filter { Variable(rawValue: $0) == nil }.sorted().map { Unknown(name: $0, suggestion: Self.nearest(to: $0)) }
  }

  /// Unknown names, then bad values: one line each.
  public func problems() -> [String] {
    unknown().map(\.description) + validate().map(\.description)
  }

  /// The registered name within a few edits of `name` (a typo), nearest first.
  static func nearest(to name: String) -> Variable? {
    let scored = Variable.allCases.map { ($0, editDistance(Array(name.utf8), Array($0.rawValue.utf8))) }
    guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, (name.utf8.count - prefix.utf8.count) / 3) else { return nil }
    return best.0
  }

  static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    var previous = Array(0...b.count)
    for (i, x) in a.enumerated() {
      var row = [i + 1] + Array(repeating: 0, count: b.count)
      for (j, y) in b.enumerated() {
        row[j + 1] = Swift.min(previous[j + 1] + 1, row[j] + 1, previous[j] + (x == y ? 0 : 1))
      }
      previous = row
    }
    return previous[b.count]
  }

  /// The table of `audience`'s variables in README.md's format.
  public static func markdownTable(_ audience: Variable.Audience) -> String {
    var lines = ["| variable | value | meaning |", "|---|---|---|"]
    for v in Variable.allCases where v.audience == audience {
      lines.append("| `\(v.rawValue)` | \(v.type.syntax) | \(v.meaning) |")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The value of `v` through its type's parser: nil when unset.
  func parsed<T>(_ v: Variable, _ parse: (String) throws(Mismatch) -> T) throws(VFIOError) -> T? {
    guard let s = raw(v) else { return nil }
    do throws(Mismatch) {
      return try parse(s)
    } catch {
      throw .environment(Invalid(variable: v, value: s, expected: error.expected))
    }
  }

  // MARK: the typed accessors

  /// One of `DeviceSetup.checkpoints`, nil when unset.
  public func stopAt() throws(VFIOError) -> String? { try parsed(.stopAt, Parse.checkpoint) }

  /// The longest `VFIO_SELFTESTS_LUO_SESSION_PREFIX`: the longest C session name
  /// ("kexec_many_files_state", 22 bytes) plus it stays well inside LIVEUPDATE_SESSION_NAME_LENGTH (64).
  public static let maximumLUOSessionPrefix = 16

  /// Letters, digits, `-`, `_` and `.`, at most 16; "" when unset.
  public func luoSessionPrefix() throws(VFIOError) -> String { try parsed(.luoSessionPrefix, Parse.sessionPrefix) ?? "" }

  /// `current.luoSessionPrefix()`, looked up and checked once per process: the kexec tests put
  /// it before every session name (`luo_stress_sessions` names 2000 in each stage), and the
  /// lookup and check each time cost the debug build more than the ioctl that takes the name.
  public static func currentLUOSessionPrefix() throws(VFIOError) -> String {
    switch currentLUOSessionPrefixParsed {
    case .success(let prefix): return prefix
    case .failure(let e): throw e
    }
  }

  private static let currentLUOSessionPrefixParsed: Result<String, VFIOError> = {
    do throws(VFIOError) { return .success(try current.luoSessionPrefix()) } catch { return .failure(error) }
  }()

  /// One PCI address (`VFIO_SELFTESTS_BDF`, `_SRIOV_BDF`), nil when unset.
  public func address(_ v: Variable) throws(VFIOError) -> PCIAddress? { try parsed(v, Parse.bdf) }

  /// Addresses separated by spaces or commas (`_BDFS`, `_MIGRATION_BDFS`, `_EXTRA_BDFS`), nil when unset; at least one.
  public func addresses(_ v: Variable) throws(VFIOError) -> [PCIAddress]? { try parsed(v, Parse.bdfList) }

  /// 1 or 2, nil when unset.
  public func stage() throws(VFIOError) -> Int? { try parsed(.stage, Parse.stage) }

  /// The guest run's stages: 1 or 2; 1 when unset.
  public func stages() throws(VFIOError) -> Int { try parsed(.stages, Parse.stageCount) ?? 1 }

  /// Nothing expected when unset.
  public func strict() throws(VFIOError) -> Strictness { try parsed(.strict, Parse.strictCapabilities) ?? .only([]) }

  public func iommuMode() throws(VFIOError) -> IOMMUMode? { try parsed(.iommuMode, Parse.iommuMode) }

  /// The modes of a parameterized test run by `vfio-selftests kselftest`; nil when unset.
  public func iommuModes() throws(VFIOError) -> [IOMMUMode]? { try parsed(.iommuModes, Parse.iommuModeList) }
  /// The modes a test over the iommu modes has cases for: `iommuModes()`, else `iommuMode()`,
  /// else all five, in C's order.
  public func iommuModesUnderTest() throws(VFIOError) -> [IOMMUMode] {
    var chosen = try iommuModes() ?? []
    if chosen.isEmpty, let one = try iommuMode() { chosen = [one] }
    return chosen.isEmpty ? IOMMUMode.allCases : IOMMUMode.allCases.filter(chosen.contains)
  }

  /// A number from 1 to 100; 1 when unset.
  public func timeoutScale() throws(VFIOError) -> Double { try parsed(.timeoutScale, Parse.scale) ?? 1 }

  /// Bytes, at least 2 MiB (the driver's half and the memcpy region's); C's size when unset.
  public func liveUpdateMemfdSize() throws(VFIOError) -> Int { try parsed(.liveUpdateMemfdSize, Parse.bytes) ?? Self.defaultLiveUpdateMemfdSize }

  /// `N` seconds for every mode, or `mode=N[,mode=N...]` for those modes (3 s for the others).
  public func migrationStressSeconds(_ mode: IOMMUMode) throws(VFIOError) -> Double {
    try secondsPerMode(.migrationStressSeconds, mode, default: Self.defaultMigrationStressSeconds)
  }

  /// The reset/DMA-map race of `vfio_pci_reset_mmap_test`: as `migrationStressSeconds`.
  public func resetMmapSeconds(_ mode: IOMMUMode) throws(VFIOError) -> Double {
    try secondsPerMode(.resetMmapSeconds, mode, default: Self.defaultResetMmapSeconds)
  }

  private func secondsPerMode(_ v: Variable, _ mode: IOMMUMode, default fallback: Double) throws(VFIOError) -> Double {
    guard let byMode = try parsed(v, Parse.secondsPerMode) else { return fallback }
    return byMode[nil] ?? byMode[mode] ?? fallback
  }

  /// A path variable (`_UAPI_HEADERS`, `_KERNEL_SOURCE`, `_RESULTS`, ...), nil when unset.
  public func path(_ v: Variable) throws(VFIOError) -> String? { try parsed(v, Parse.path) }

  /// A regex variable (`_FILTER`, `_SKIP`, `_STAGE2_FILTER`), nil when unset.
  public func regex(_ v: Variable) throws(VFIOError) -> String? { try parsed(v, Parse.regex) }

  /// `VFIO_SELFTESTS_CLI_ACCEPTANCE`: nil when unset, `.some(nil)` for `1` (the device under
  /// test), else the device named.
  public func cliAcceptance() throws(VFIOError) -> PCIAddress?? { try parsed(.cliAcceptance, Parse.flagOrBDF) }

  /// `VFIO_SELFTESTS_COMPARE_C`: the C programs, nil when unset.
  public func compareC() throws(VFIOError) -> [String]? { try parsed(.compareC, Parse.nameList) }

  /// `VFIO_SELFTESTS_KERNEL`: the kernel's label, nil when unset.
  public func kernelLabel() throws(VFIOError) -> String? { try parsed(.kernel, Parse.text) }
}

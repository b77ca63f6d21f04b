// SPDX-License-Identifier: GPL-2.0-only
import LibVFIO

/// One program of the kselftest install (`vfio/<name>`, `liveupdate/<name>`): the C program's
/// name and collection, how it takes its devices, and whether it is a two-stage kexec program.
/// `vfio-selftests kselftest NAME [C's arguments]` runs the port's tests of that program and
/// prints them as the C program prints them (the kselftest harness's KTAP, its exit code), so
/// `run_kselftest.sh` nests it unchanged.
public struct KselftestProgram: Equatable, Sendable {
  public enum Devices: Equatable, Sendable {
    /// No device (`liveupdate`, the luo_* programs, the mtty migration suites).
    case none
    /// One device: the last argument that is a BDF, else `VFIO_SELFTESTS_BDF` (libvfio's
    /// `vfio_selftests_get_bdf()`).
    case one
    /// Every trailing BDF argument, else `VFIO_SELFTESTS_BDF` (`vfio_selftests_get_bdfs()`).
    case many
    /// The SR-IOV PF: the BDF argument, else `VFIO_SELFTESTS_SRIOV_BDF`, else `VFIO_SELFTESTS_BDF`.
    case sriovPF
  }

  public var name: String
  /// `vfio` or `liveupdate`: the install's directory and kselftest-list.txt's collection.
  public var collection: String
  public var devices: Devices
  /// A two-stage kexec program: `-s 1|2` (default 1, as `parse_stage_args()`).
  public var staged: Bool
  /// In kselftest-list.txt (the C Makefile's TEST_GEN_PROGS); false: TEST_GEN_PROGS_EXTENDED,
  /// installed but run by hand (the kexec programs).
  public var listed: Bool
  /// Where the C program comes from: the kernel's tree, the VFIO Live Update series, or none
  /// (the port's own suites).
  public var origin: Origin

  public enum Origin: String, Sendable { case kernel, series, port }

  public static let all: [KselftestProgram] = [
    .init(name: "vfio_dma_mapping_test", collection: "vfio", devices: .one, staged: false, listed: true, origin: .kernel),
    .init(name: "vfio_dma_mapping_mmio_test", collection: "vfio", devices: .one, staged: false, listed: true, origin: .kernel),
    .init(name: "vfio_iommufd_setup_test", collection: "vfio", devices: .one, staged: false, listed: true, origin: .kernel),
    .init(name: "vfio_pci_device_test", collection: "vfio", devices: .one, staged: false, listed: true, origin: .kernel),
    .init(name: "vfio_pci_device_init_perf_test", collection: "vfio", devices: .many, staged: false, listed: true, origin: .kernel),
    .init(name: "vfio_pci_driver_test", collection: "vfio", devices: .one, staged: false, listed: true, origin: .kernel),
    .init(name: "vfio_pci_sriov_uapi_test", collection: "vfio", devices: .sriovPF, staged: false, listed: true, origin: .kernel),
    .init(name: "vfio_pci_liveupdate_uapi_test", collection: "vfio", devices: .one, staged: false, listed: true, origin: .series),
    .init(name: "vfio_pci_liveupdate_kexec_test", collection: "vfio", devices: .one, staged: true, listed: false, origin: .series),
    .init(name: "vfio_pci_reset_mmap_test", collection: "vfio", devices: .many, staged: false, listed: true, origin: .port),
    .init(name: "vfio_migration_test", collection: "vfio", devices: .none, staged: false, listed: true, origin: .port),
    .init(name: "liveupdate", collection: "liveupdate", devices: .none, staged: false, listed: true, origin: .kernel),
    .init(name: "luo_kexec_simple", collection: "liveupdate", devices: .none, staged: true, listed: false, origin: .kernel),
    .init(name: "luo_multi_session", collection: "liveupdate", devices: .none, staged: true, listed: false, origin: .kernel),
    .init(name: "luo_stress_sessions", collection: "liveupdate", devices: .none, staged: true, listed: false, origin: .kernel),
    .init(name: "luo_stress_files", collection: "liveupdate", devices: .none, staged: true, listed: false, origin: .kernel),
  ]

  public static func named(_ name: String) -> KselftestProgram? { all.first { $0.name == name } }

  /// kselftest-list.txt as the kernel's `gen_tar` writes it: `collection:program`, one a line.
  public static var listText: String {
    all.filter(\.listed).map { "\($0.collection):\($0.name)\n" }.joined()
  }
}

/// The arguments a C selftest takes, parsed as the C program parses them: the kselftest
/// harness's `-h -l -d -f -F -v -V -t -T -r` (kselftest_harness.h), `-s 1|2` for the kexec
/// programs (lu_utils.c `parse_stage_args()`), and trailing BDFs (libvfio.c
/// `get_bdfs_cmdline()`).
public struct KselftestArguments: Equatable, Sendable {
  public enum Filter: Equatable, Sendable {
    case fixture(String, include: Bool)
    case variant(String, include: Bool)
    case test(String, include: Bool)
    case run(String)
  }

  public var list = false
  public var help = false
  public var filters: [Filter] = []
  public var stage: Int?
  public var devices: [PCIAddress] = []

  public struct Invalid: Error, Equatable, CustomStringConvertible {
    public var description: String
  }

  public init() {}

  public init(parsing args: [String], program: KselftestProgram) throws(Invalid) {
    // Trailing BDFs first, as libvfio takes them off argv before the harness sees it.
    var rest = args
    if program.devices != .none {
      var bdfs: [PCIAddress] = []
      while let last = rest.last, let a = PCIAddress(last), rest.count > 0 {
        bdfs.insert(a, at: 0)
        rest.removeLast()
      }
      devices = bdfs
    }
    var i = 0
    func value(_ flag: String) throws(Invalid) -> String {
      guard i + 1 < rest.count else { throw Invalid(description: "option \(flag) requires an argument") }
      i += 1
      return rest[i]
    }
    while i < rest.count {
      let a = rest[i]
      switch a {
      case "-h": help = true
      case "-l" where !program.staged: list = true
      case "-d" where !program.staged: break
      case "-s" where program.staged:
        let v = try value(a)
        guard let n = Int(v), n == 1 || n == 2 else { throw Invalid(description: "Invalid stage argument '\(v)': expected 1 or 2") }
        stage = n
      case "-f", "-F", "-v", "-V", "-t", "-T", "-r":
        guard !program.staged else { throw Invalid(description: "Unknown argument \(a)") }
        let v = try value(a)
        let include = a == a.lowercased()
        switch a.lowercased() {
        case "-f": filters.append(.fixture(v, include: include))
        case "-v": filters.append(.variant(v, include: include))
        case "-t": filters.append(.test(v, include: include))
        default: filters.append(.run(v))
        }
      default:
        if PCIAddress(a) != nil, program.devices != .none {
          throw Invalid(description: "device \(a) must come after the options")
        }
        throw Invalid(description: program.staged ? "Unknown argument \(a)" : "invalid option \(a)")
      }
      i += 1
    }
  }

  /// Whether the harness runs test `name` (`fixture.variant.test` or `fixture.test`):
  /// `test_enabled()`: the first filter that matches decides; with no positive filter,
  /// everything not excluded runs.
  public func enables(_ name: String) -> Bool {
    let parts = name.split(separator: ".").map(String.init)
    let fixture = parts.first ?? name
    let test = parts.last ?? name
    let variant = parts.count > 2 ? parts[1..<(parts.count - 1)].joined(separator: ".") : ""
    var hasPositive = false
    for f in filters {
      switch f {
      case .fixture(let n, let inc):
        hasPositive = hasPositive || inc
        if n == fixture { return inc }
      case .variant(let n, let inc):
        hasPositive = hasPositive || inc
        if n == variant { return inc }
      case .test(let n, let inc):
        hasPositive = hasPositive || inc
        if n == test { return inc }
      case .run(let n):
        hasPositive = true
        if n == name { return true }
      }
    }
    return !hasPositive
  }

  /// The harness's usage text (`test_harness_argv_check()`), or the kexec programs' one.
  public static func usage(_ program: KselftestProgram) -> String {
    if program.staged {
      return "Usage: \(program.name) [-s 1|2]\(program.devices == .none ? "" : " [segment:bus:device.function]")\n"
        + "\t-s N     stage: 1 before kexec (default), 2 after\n"
    }
    return """
      Usage: \(program.name) [-h|-l|-d] [-t|-T|-v|-V|-f|-F|-r name]\(program.devices == .none ? "" : " [segment:bus:device.function ...]")
      \t-h       print help
      \t-l       list all tests
      \t-d       enable debug prints
      
      \t-t name  include test
      \t-T name  exclude test
      \t-v name  include variant
      \t-V name  exclude variant
      \t-f name  include fixture
      \t-F name  exclude fixture
      \t-r name  run specified test
      
      Test filter options can be specified multiple times. The filtering stops
      at the first match. For example to include all tests from variant 'bla'
      but not test 'foo' specify '-T foo -v bla'.

      """
  }
}

/// The port's tests of one program, by C name, from the test binary's declarations.
public struct KselftestSelection: Sendable {
  public struct Entry: Equatable, Sendable {
    public var cName: String
    /// The results node's ID: the Swift Testing ID (with its source location), and for a case
    /// of a parameterized test `#` and the case's ID.
    public var id: String
    /// The Swift Testing ID of the test function, for an exact `--filter` (a case cannot be
    /// filtered on its own: the test runs every case it has).
    public var testID: String
    /// For a case of a parameterized test: its argument.
    public var argument: String? = nil

    public init(cName: String, id: String, testID: String? = nil, argument: String? = nil) {
      self.cName = cName
      self.id = id
      self.testID = testID ?? id
      self.argument = argument
    }

    var parts: [String] { cName.split(separator: ".").map(String.init) }
    public var fixture: String { parts.first ?? cName }
    public var test: String { parts.count > 1 ? parts.last! : "" }
    public var variant: String { parts.count > 2 ? parts[1..<(parts.count - 1)].joined(separator: ".") : "" }
  }

  public var entries: [Entry]

  /// The program's tests that `arguments` enables, in the harness's order: fixture by fixture
  /// (in order of first appearance), each in source order (file, line, column).
  public init(declarations: TestRunResults, program: KselftestProgram, arguments: KselftestArguments) {
    let p = declarations.programs.first { $0.name == program.name }
    let sorted = (p?.tests ?? []).enumerated()
      .map { (Entry(cName: $1.name.name, id: $1.node.id, testID: $1.node.testID, argument: $1.node.argument), $0) }
      .filter { arguments.enables($0.0.cName) }
      .sorted { (Self.sourceOrder($0.0.testID), $0.1) < (Self.sourceOrder($1.0.testID), $1.1) }
      .map(\.0)
    // The harness's order: fixture by fixture, and in one fixture variant by variant; the cases
    // of a parameterized test are the variants, so its cases of one argument (mode) come
    // together, in the order of the arguments.
    var fixtures: [String] = []
    for e in sorted where !fixtures.contains(e.fixture) { fixtures.append(e.fixture) }
    entries = fixtures.flatMap { f in Self.groupedByArgument(sorted.filter { $0.fixture == f }) { Self.caseGroup($0.testID, $0.argument) } }
  }

  /// The group of a case: its argument in its test's suite (a test function's ID is its suite's,
  /// `/name`, `/File.swift:LINE:COLUMN`); nil for a test that is not a case.
  static func caseGroup(_ testID: String?, _ argument: String?) -> String? {
    guard let testID, let argument else { return nil }
    return testID.split(separator: "/").dropLast(2).joined(separator: "/") + "\u{0}" + argument
  }

  /// `items` with those of one group together, at the first one's place (nil: each alone).
  static func groupedByArgument<T>(_ items: [T], _ argument: (T) -> String?) -> [T] {
    var groups: [(key: String?, items: [T])] = []
    var at: [String: Int] = [:]
    for item in items {
      if let a = argument(item) {
        if let i = at[a] { groups[i].items.append(item) } else { at[a] = groups.count; groups.append((a, [item])) }
      } else {
        groups.append((nil, [item]))
      }
    }
    return groups.flatMap(\.items)
  }

  /// A test function's ID ends in `/File.swift:LINE:COLUMN`: its place, for sorting.
  static func sourceOrder(_ id: String) -> SourceOrder {
    let last = id.split(separator: "/").last.map(String.init) ?? ""
    let parts = last.split(separator: ":")
    guard parts.count == 3, let line = Int(parts[1]), let column = Int(parts[2]) else { return SourceOrder(file: id, line: 0, column: 0) }
    return SourceOrder(file: String(parts[0]), line: line, column: column)
  }

  struct SourceOrder: Comparable {
    var file: String, line: Int, column: Int
    static func < (a: Self, b: Self) -> Bool { (a.file, a.line, a.column) < (b.file, b.line, b.column) }
  }

  /// The iommu modes the selected cases are of (for `VFIO_SELFTESTS_IOMMU_MODES`), in C's
  /// order; nil when no selected test is parameterized over the modes.
  public var iommuModes: [IOMMUMode]? {
    let chosen = Set(entries.compactMap { $0.argument.flatMap(TestRunResults.iommuMode(ofCase:)) })
    return chosen.isEmpty ? nil : IOMMUMode.allCases.filter(chosen.contains)
  }

  /// Swift Testing's `--filter`: each test's full ID, anchored and escaped.
  public var filter: String {
    var seen = Set<String>()
    return entries.filter { seen.insert($0.testID).inserted }
      .map { "^" + $0.testID.regexEscaped + "$" }.joined(separator: "|")
  }

  /// `-l`: the harness's table (fixture, variant, test), one test a line, on stderr in C.
  public var listing: String {
    var out = "\("# FIXTURE".padded(to: 20)) \("VARIANT".padded(to: 25)) TEST\n"
    var lastFixture = ""
    for e in entries {
      if e.fixture != lastFixture && !lastFixture.isEmpty { out += String(repeating: "-", count: 80) + "\n" }
      out += "\((e.fixture == lastFixture ? "" : e.fixture).padded(to: 20)) \(e.variant.padded(to: 25)) \(e.test)\n"
      lastFixture = e.fixture
    }
    return out
  }
}

extension KselftestProgram {
  /// Why the whole program cannot run on this machine, in one line (nil: it can): a vfio program
  /// with no VFIO device node at all, a liveupdate one with no `/dev/liveupdate`. Not when
  /// `VFIO_SELFTESTS_STRICT` expects that capability: then each test fails, saying why.
  public func missingCapability(exists: (String) -> Bool, strict: SelftestsEnvironment.Strictness) -> String? {
    switch collection {
    case "vfio" where !["/dev/vfio/vfio", "/dev/vfio/devices", "/dev/iommu"].contains(where: exists)
      && !StrictCapability.vfio.contains(where: strict.expects):
      return "kernel has no VFIO: no /dev/vfio/vfio, /dev/vfio/devices or /dev/iommu (vfio-pci not loaded? vfio/setup.sh loads it)"
    case "liveupdate" where !exists("/dev/liveupdate") && !strict.expects(.liveUpdate):
      return "no /dev/liveupdate (kernel without CONFIG_LIVEUPDATE, or booted without liveupdate=on)"
    default:
      return nil
    }
  }
}

/// What the kselftest harness prints (TAP version 13 as kselftest.h writes it) for the port's
/// results of one program, and its exit code: 1 if a test failed, else 0 (the harness counts a
/// skipped test as passed), 4 when the program skips as a whole (`1..0 # SKIP reason`, or a
/// kexec program whose every test skipped).
public enum KselftestReport {
  public static func document(program: KselftestProgram, selection: KselftestSelection, run: TestRunResults, diagnostics: [String]) -> (text: String, code: Int32) {
    // By test and argument: a case's own ID differs between the declarations and the run.
    var byKey: [String: TestRunResults.Node] = [:]
    func index(_ n: TestRunResults.Node) { byKey[Self.key(n.testID ?? n.id, n.argument)] = n; n.children.forEach(index) }
    run.roots.forEach(index)
    let count = selection.entries.count
    var out = "TAP version 13\n1..\(count)\n"
    if !program.staged {
      let cases = Set(selection.entries.map { $0.cName.split(separator: ".").dropLast().joined(separator: ".") }).count
      out += "# Starting \(count) tests from \(cases) test cases.\n"
    }
    var pass = 0, fail = 0, skip = 0
    for (i, e) in selection.entries.enumerated() {
      let name = KTAP.clean(e.cName)
      let outcome = byKey[Self.key(e.testID, e.argument)]?.outcome ?? .failed(["not run: the test binary ended before it (\(diagnostics.joined(separator: "; ")))"])
      if !program.staged { out += "#  RUN           \(name) ...\n" }
      switch outcome {
      case .passed:
        pass += 1
        if !program.staged { out += "#            OK  \(name)\n" }
        out += "ok \(i + 1) \(name)\n"
      case .skipped(let reason):
        skip += 1
        if !program.staged { out += "#            OK  \(name)\n" }
        out += "ok \(i + 1) \(name) # SKIP \(KTAP.clean(reason))\n"
      case .failed(let messages):
        fail += 1
        for m in messages { for line in m.split(separator: "\n", omittingEmptySubsequences: true) { out += "# \(line)\n" } }
        if !program.staged { out += "#          FAIL  \(name)\n" }
        out += "not ok \(i + 1) \(name)\n"
      }
    }
    for d in diagnostics { out += "# \(KTAP.clean(d))\n" }
    if !program.staged {
      out += "# \(fail > 0 ? "FAILED" : "PASSED"): \(pass + skip) / \(count) tests passed.\n"
    }
    if skip > 0 { out += "# \(skip) skipped test(s) detected. Consider enabling relevant config options to improve coverage.\n" }
    out += "# Totals: pass:\(pass) fail:\(fail) xfail:0 xpass:0 skip:\(skip) error:0\n"
    let failed = fail > 0 || !diagnostics.isEmpty
    // A kexec program is a plain kselftest program: everything skipped is `ksft_exit_skip()`.
    // The harness's programs count a skipped test as passed and exit 0.
    if !failed && program.staged && pass == 0 && skip > 0 { return (out, KselftestExit.skip) }
    return (out, failed ? KselftestExit.fail : KselftestExit.pass)
  }

  static func key(_ testID: String, _ argument: String?) -> String { argument.map { "\(testID)\u{0}\($0)" } ?? testID }

  /// The program skips as a whole: `1..0 # SKIP reason`, exit 4 (`ksft_exit_skip()`).
  public static func skipAll(_ reason: String) -> (text: String, code: Int32) {
    ("TAP version 13\n1..0 # SKIP \(KTAP.clean(reason))\n", KselftestExit.skip)
  }
}

// SPDX-License-Identifier: GPL-2.0-only
import Foundation
import LibVFIO
import Testing
import VFIOSelftestsCLI

/// The built CLI, next to this test binary in .build/<config>/.
enum BuiltCLI {
  static var directory: String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().path
  }
  static var path: String { directory + "/vfio-selftests" }
  static var missing: String? {
    FileManager.default.isExecutableFile(atPath: path) ? nil : "no built CLI at \(path) (swift build --build-tests)"
  }

  struct Result { var status: Int32; var stdout: String; var stderr: String }

  /// Runs the CLI (optionally as nobody through setpriv) and collects its output.
  static func run(_ args: [String], asNobody: Bool = false, environment extra: [String: String] = [:]) throws -> Result {
    let p = Process()
    if asNobody {
      p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
      p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", path] + args
    } else {
      p.executableURL = URL(fileURLWithPath: path)
      p.arguments = args
    }
    var env = ProcessInfo.processInfo.environment
    for k in env.keys where k.hasPrefix(SelftestsEnvironment.prefix) { env.removeValue(forKey: k) }
    env.merge(extra) { $1 }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
  }
}

/// A well-formed address with no device behind it on this machine.
func absentDevice() -> String {
  for bus in stride(from: 0xfe, to: 0x80, by: -1) {
    let a = String(format: "0000:%02x:1f.7", bus)
    if !FileManager.default.fileExists(atPath: "/sys/bus/pci/devices/\(a)") { return a }
  }
  return "ffff:ff:1f.7"
}

/// Bad input: one line on stderr, non-zero exit, nothing touched (every case fails before the
/// CLI writes anything: parsing, validation and the device check come first).
@Suite("vfio-selftests: bad input is a one-line error", .enabled(if: BuiltCLI.missing == nil, "the vfio-selftests executable is not built next to the test binary (swift build first)"))
struct CommandLineErrorTests {
  func expectOneLineError(_ args: [String], _ expected: String, status: Int32 = 1, asNobody: Bool = false,
                          environment: [String: String] = [:]) throws {
    let r = try BuiltCLI.run(args, asNobody: asNobody, environment: environment)
    #expect(r.status == status, "\(args): exit \(r.status), stderr: \(r.stderr)")
    #expect(r.stderr == "vfio-selftests: error: \(expected)\n", "\(args)")
    #expect(r.stdout == "", "\(args)")
  }

  @Test(arguments: [["setup", "0000:00:03"], ["setup", "00:20.0"], ["cleanup", "0000:00:03.8"], ["run", "banana"]])
  func malformedAddress(_ args: [String]) throws {
    try expectOneLineError(args, "invalid PCI address '\(args[1])': expected DDDD:BB:DD.F or BB:DD.F (hex)")
  }

  @Test(arguments: ["setup", "run"])
  func missingDevice(_ command: String) throws {
    let a = absentDevice()
    try expectOneLineError([command, a], "no PCI device \(a) (nothing at /sys/bus/pci/devices/\(a))")
  }

  @Test func unknownIOMMUMode() throws {
    try expectOneLineError(["run", "--iommu-mode", "type1"],
                           "unknown iommu mode 'type1': expected one of vfio_type1_iommu, vfio_type1v2_iommu, iommufd_compat_type1, iommufd_compat_type1v2, iommufd")
  }

  @Test(arguments: [["--stage", "3"], ["-s", "0"], ["--stage", "x"]])
  func stageOtherThan1Or2(_ args: [String]) throws {
    try expectOneLineError(["run"] + args, "invalid stage '\(args[1])': expected 1 (before kexec) or 2 (after kexec)")
  }

  @Test func setupWithoutDevicesIsAUsageError() throws {
    try expectOneLineError(["setup"], "Missing expected argument '<devices> ...'", status: 64)
  }

  @Test(.enabled(if: getuid() != 0 || FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs setpriv to drop root"),
        arguments: ["setup", "cleanup", "run"])
  func nonRoot(_ command: String) throws {
    // setup needs an existing device to get as far as the root check; cleanup and run need none.
    var args = [command]
    if command == "setup" {
      guard let a = try FileManager.default.contentsOfDirectory(atPath: "/sys/bus/pci/devices").sorted().first else {
        try Test.cancel("no PCI device on this machine to name")
      }
      args.append(a)
    }
    try expectOneLineError(args, "\(command) needs root (euid is 65534)", asNobody: getuid() == 0)
  }

  @Test func doctorPrintsOneLinePerCapability() throws {
    let r = try BuiltCLI.run(["doctor"], asNobody: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"))
    #expect(r.status == 0, "\(r.stderr)")
    let lines = r.stdout.split(separator: "\n")
    for name in ["root", "VFIO container", "iommufd", "VFIO cdev", "IOMMU", "/dev/liveupdate", "VFIO Live Update", "KHO",
                 "module vfio-pci", "module mtty", "bound to vfio-pci", "journal"] {
      #expect(lines.contains { $0.dropFirst(6).hasPrefix(name + " ") }, "no line for \(name)")
    }
    #expect(lines.allSatisfy { $0.hasPrefix("[yes] ") || $0.hasPrefix("[no]  ") || $0.hasPrefix("kernel ") })
  }

  static let modes = "vfio_type1_iommu, vfio_type1v2_iommu, iommufd_compat_type1, iommufd_compat_type1v2, iommufd"

  /// Garbage in each variable the suites read: `run` refuses it before starting anything.
  @Test(arguments: [
    ("VFIO_SELFTESTS_BDF", "zz", "a PCI address, DDDD:BB:DD.F or BB:DD.F (hex)"),
    ("VFIO_SELFTESTS_BDFS", "0000:00:03.0 zz", "PCI addresses separated by spaces or commas ('zz' is not one)"),
    ("VFIO_SELFTESTS_SRIOV_BDF", "1:2:3", "a PCI address, DDDD:BB:DD.F or BB:DD.F (hex)"),
    ("VFIO_SELFTESTS_MIGRATION_BDFS", ",", "at least one PCI address"),
    ("VFIO_SELFTESTS_STAGE", "3", "1 (before kexec) or 2 (after kexec)"),
    ("VFIO_SELFTESTS_STRICT", "yes", "1, 0, or a comma-separated list of vfio-container, iommufd, vfio-cdev, liveupdate, vfio-liveupdate, sriov"),
    ("VFIO_SELFTESTS_IOMMU_MODE", "type1", "one of \(modes)"),
    ("VFIO_SELFTESTS_TIMEOUT_SCALE", "0.5", "a number from 1 to 100 (C's time limits are multiplied by it)"),
    ("VFIO_SELFTESTS_LIVEUPDATE_MEMFD_SIZE", "1M", "a size in bytes of at least 2097152 (2 MiB)"),
    ("VFIO_SELFTESTS_MIGRATION_STRESS_SECONDS", "iommufd=", "seconds, or mode=seconds[,mode=seconds] with a mode of \(modes)"),
    ("VFIO_SELFTESTS_STOP_AT", "setup:nowhere",
     "one of setup:journaled, setup:unbound, setup:override-set, setup:bound, cleanup:unbound, cleanup:override-restored"),
    ("VFIO_SELFTESTS_LUO_SESSION_PREFIX", "a/b", "at most 16 letters, digits, '-', '_' or '.'"),
    ("VFIO_SELFTESTS_STAGES", "two", "1 (one boot) or 2 (a boot, a kexec and a second stage)"),
    ("VFIO_SELFTESTS_IOMMU_MODES", "iommufd,type1", "mode names separated by spaces or commas ('type1' is not one of \(modes))"),
    ("VFIO_SELFTESTS_CLI_ACCEPTANCE", "yes", "1, or a PCI address (DDDD:BB:DD.F or BB:DD.F, hex)"),
    ("VFIO_SELFTESTS_COMPARE_C", "a;b", "names of letters, digits, '-', '_' or '.' separated by commas"),
    ("VFIO_SELFTESTS_EXTRA_BDFS", "00:03.0 x", "PCI addresses separated by spaces or commas ('x' is not one)"),
  ])
  func garbageInTheEnvironment(_ variable: String, _ value: String, _ expected: String) throws {
    try expectOneLineError(["run"], "\(variable)='\(value)': expected \(expected)", environment: [variable: value])
  }

  /// A name no code reads: `run` refuses it, naming the nearest registered one.
  @Test func unknownNameInTheEnvironment() throws {
    let typo = SelftestsEnvironment.prefix + "TIMEOUT_SCAL"
    try expectOneLineError(["run"], "\(typo): unknown variable (did you mean VFIO_SELFTESTS_TIMEOUT_SCALE?)", environment: [typo: "4"])
  }

  /// Several problems: a line each, unknown names first, nothing run.
  @Test func everyProblemIsALine() throws {
    let typo = SelftestsEnvironment.prefix + "STAGESS"
    let env = [typo: "2", "VFIO_SELFTESTS_STAGE": "3", "VFIO_SELFTESTS_FILTER": "a(b"]
    for args in [["run"], ["env", "--check"]] {
      let r = try BuiltCLI.run(args, environment: env)
      #expect(r.status == 1, "\(args): \(r.stderr)")
      let lines = r.stderr.split(separator: "\n").map(String.init)
      #expect(lines.count == 3, "\(args): \(r.stderr)")
      #expect(lines.first == "vfio-selftests: error: \(typo): unknown variable (did you mean VFIO_SELFTESTS_STAGES?)")
      #expect(lines.dropFirst().first == "vfio-selftests: error: VFIO_SELFTESTS_STAGE='3': expected 1 (before kexec) or 2 (after kexec)")
      #expect(lines.last?.hasPrefix("vfio-selftests: error: VFIO_SELFTESTS_FILTER='a(b': expected a regular expression (") == true)
    }
  }

  /// Report paths are checked before the run (the run itself needs root; this check does not).
  @Test(arguments: [(["--ktap", "/nonexistent/x.ktap"], "--ktap /nonexistent/x.ktap: cannot write: No such file or directory (errno 2)"),
                    (["--junit", "/proc/x.xml"], "--junit /proc/x.xml: cannot write: No such file or directory (errno 2)")])
  func unwritableReport(_ args: [String], _ expected: String) throws {
    try expectOneLineError(["run"] + args, expected)
  }

  @Test func extraDeviceMalformed() throws {
    try expectOneLineError(["run", "--extra-device", "zz"], "invalid PCI address 'zz': expected DDDD:BB:DD.F or BB:DD.F (hex)")
  }

  @Test(arguments: ["", "a/b", "vfio pci"])
  func invalidModuleName(_ name: String) throws {
    try expectOneLineError(["modprobe", name], "invalid module name '\(name)': expected a module name or alias (not empty, no '/', no whitespace)")
  }
}

/// `vfio-selftests env`: the registry, as a list, as README's table, and as a check.
@Suite("vfio-selftests env", .enabled(if: BuiltCLI.missing == nil, "the vfio-selftests executable is not built next to the test binary (swift build first)"))
struct EnvCommandTests {
  @Test func listsEveryVariableWithItsValue() throws {
    let r = try BuiltCLI.run(["env"], environment: ["VFIO_SELFTESTS_BDF": "00:03.0"])
    #expect(r.status == 0, "\(r.stderr)")
    let lines = r.stdout.split(separator: "\n").map(String.init)
    #expect(lines.count == SelftestsEnvironment.Variable.allCases.count)
    #expect(lines.first?.hasPrefix("VFIO_SELFTESTS_BDF ") == true && lines.first?.contains(" '00:03.0'  the device under test") == true)
    #expect(lines.contains { $0.hasPrefix("VFIO_SELFTESTS_RESULTS ") && $0.hasSuffix(" (internal)") })
  }

  @Test func markdownIsTheRegistrysTable() throws {
    #expect(try BuiltCLI.run(["env", "--markdown"]).stdout == SelftestsEnvironment.markdownTable(.user))
    #expect(try BuiltCLI.run(["env", "--markdown", "--internal"]).stdout == SelftestsEnvironment.markdownTable(.internal))
  }

  @Test func checkPassesAGoodEnvironment() throws {
    let r = try BuiltCLI.run(["env", "--check"], environment: ["VFIO_SELFTESTS_TIMEOUT_SCALE": "4", "VFIO_SELFTESTS_STAGE2_FILTER": "luo|kexec"])
    #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")
  }
}

extension CommandLineErrorTests {
  /// A migration device that is not there: `run` names it, before anything runs (the guest's
  /// vfio_migration_test.pci_refusal refuses real devices that are not Xe VFs).
  @Test func migrationDeviceThatIsNotThere() throws {
    let a = absentDevice()
    try expectOneLineError(["run"], "VFIO_SELFTESTS_MIGRATION_BDFS: no PCI device \(a) (nothing at /sys/bus/pci/devices/\(a))",
                           environment: ["VFIO_SELFTESTS_MIGRATION_BDFS": a])
  }

  @Test func keepDevicesWithADevice() throws {
    try expectOneLineError(["cleanup", "--keep-devices", "0000:00:03.0"], "--keep-devices cleans up no device: name none (got 0000:00:03.0)")
  }
}

// SPDX-License-Identifier: GPL-2.0-only
import ArgumentParser
import LibVFIO
import VFIOSelftestsCLI

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run the Swift Testing suites against devices set up with `setup`, with KTAP and JUnit reports.",
    discussion: """
      Spawns vfio-selftestsPackageTests.xctest (next to this executable) once per device, with \
      VFIO_SELFTESTS_BDF, VFIO_SELFTESTS_STAGE and VFIO_SELFTESTS_IOMMU_MODE set (and \
      VFIO_SELFTESTS_BDFS, with --extra-device). Devices: those named, else every journaled \
      device, else $VFIO_SELFTESTS_BDF, else one run without a device. KTAP and JUnit come from \
      one results model built from the binary's event stream; with several devices each is one \
      top-level test (KTAP) or testsuite (JUnit). Output paths are checked before anything runs. \
      SIGINT and SIGTERM are passed on to the test binary, whose results so far are still \
      reported. Exit: 0 pass, 1 fail, 4 skip (nothing passed or failed).
      """)

  @Option(name: [.customShort("s"), .customLong("stage")], help: "Stage of a two-stage (kexec) run: 1 or 2.")
  var stage: String?

  @Option(name: .customLong("iommu-mode"), help: "Run only the suites of this mode: \(IOMMUMode.allCases.map(\.rawValue).joined(separator: ", ")).")
  var iommuMode: String?

  @Option(help: "Write KTAP version 1 to FILE ('-' for stdout).")
  var ktap: String?

  @Option(help: "Write JUnit XML to FILE.")
  var junit: String?

  @Option(help: "Only tests whose ID matches this regular expression (default: the hardware suites, VFIOHardwareTests).")
  var filter: String?

  @Option(help: "Leave out tests whose ID matches this regular expression.")
  var skip: String?

  @Option(name: .customLong("extra-device"), help: "A device the suites may use besides the one under test (VFIO_SELFTESTS_BDFS; repeatable): the driver test runs on each with a driver.")
  var extraDevices: [String] = []

  @Flag(help: "Run every test target, unit tests included.")
  var all = false

  @Option(help: "The Swift Testing binary (default: vfio-selftestsPackageTests.xctest next to this executable).")
  var testBinary: String?

  @Argument(help: "PCI addresses (default: the journaled devices, else $VFIO_SELFTESTS_BDF).")
  var devices: [String] = []

  /// The targets that need a kernel; the unit-test targets run on the build host.
  static let defaultFilter = "^VFIOHardwareTests\\."

  func run() throws {
    // Every VFIO_SELFTESTS_* variable, before anything else: an unknown name or a bad value is a
    // line each, and nothing runs.
    let selftestsEnv = SelftestsEnvironment.current
    let problems = selftestsEnv.problems()
    if problems.count == 1 { throw CLIError(problems[0]) }
    if !problems.isEmpty {
      for p in problems { printError(p) }
      throw ExitCode.failure
    }
    let named = try parseDevices(devices, mustExist: true)
    let extra = try parseDevices(extraDevices, mustExist: true)
    let request = try RunRequest(stage: stage, iommuMode: iommuMode, filter: all ? filter : (filter ?? Self.defaultFilter),
                                 skip: skip, extraDevices: extra)
    // The migration suites' PCI devices: Xe VFs on xe-vfio-pci, each other device refused in a line.
    if let migration = try? selftestsEnv.addresses(.migrationBDFS) {
      let check = XeVFCheck(modules: try? KernelModules())
      let refusals = migration.compactMap(check.refusal)
      for r in refusals { printError(r.description) }
      if !refusals.isEmpty { throw ExitCode.failure }
    }
    if let ktap { try RunRequest.checkOutput(ktap, option: "--ktap") }
    if let junit { try RunRequest.checkOutput(junit, option: "--junit") }
    try requireRoot("run")
    let binary = try TestBinary(testBinary)
    let env = Syscalls.environment(prefix: "")
    let setup = DeviceSetup()
    let targets = try RunRequest.devices(named: named, journaled: setup.journaledDevices(), environment: selftestsEnv)
    // Every device, before anything runs: present, bound to vfio-pci, not open elsewhere.
    for a in targets + extra { try setup.checkReadyForTests(a, busyIsExpected: request.stage == 2) }
    let runs: [PCIAddress?] = targets.isEmpty ? [nil] : targets
    // The kernel-report checks name the detectors once per process; reading them here fills the
    // per-boot kallsyms cache, so no test's time includes the scan (KernelDetectors.current).
    _ = KernelDetectors.current()
    if targets.isEmpty { log("no device named, journaled or in VFIO_SELFTESTS_BDF: the hardware suites will skip") }

    var results: [(name: String, run: TestRunResults, diagnostics: [String])] = []
    var exitCodes: [Int32] = []
    for device in runs {
      let label = device.map(\.description) ?? "no device"
      let arguments = request.arguments()
      log("\(label): \(binary.path) \(arguments.joined(separator: " "))")
      let outcome = try binary.run(arguments: arguments, environment: request.environment(device: device, base: env),
                                   output: ktap == "-" ? .toStderr : .inherit)
      let run = outcome.run
      exitCodes.append(outcome.exitCode)
      results.append((label, run, outcome.diagnostics))
      log("\(label): \(run.passed) passed, \(run.failed) failed, \(run.skipped) skipped"
          + (run.suiteFailures > 0 ? ", \(run.suiteFailures) suite failures" : "")
          + " in \(formatFixed(outcome.seconds, digits: 1)) s; exit \(outcome.exitCode)"
          + (outcome.diagnostics.isEmpty ? "" : " (\(outcome.diagnostics.joined(separator: "; ")))"))
      if outcome.interrupted != nil { break }
    }

    if let ktap {
      let tests: [KTAPTest]
      if results.count == 1 {
        var t = KTAP.tests(from: results[0].run)
        if !results[0].diagnostics.isEmpty {
          t.append(KTAPTest(name: "test binary", result: .notOk, diagnostics: results[0].diagnostics))
        }
        tests = t
      } else {
        tests = KTAP.combined(results)
      }
      let doc = KTAP.document(tests)
      if ktap == "-" {
        print(doc, terminator: "")
      } else {
        if case .failure(let e) = FileSystem.replace(ktap, with: doc) { throw CLIError("cannot write KTAP to \(ktap): \(e) (errno \(e.rawValue))") }
      }
    }
    if let junit {
      let doc = JUnit.document(results)
      if case .failure(let e) = FileSystem.replace(junit, with: doc) { throw CLIError("cannot write JUnit to \(junit): \(e) (errno \(e.rawValue))") }
    }
    let code: Int32 = exitCodes.contains(KselftestExit.fail) ? KselftestExit.fail
      : exitCodes.allSatisfy { $0 == KselftestExit.skip } ? KselftestExit.skip : KselftestExit.pass
    if code != 0 { throw ExitCode(code) }
  }

  func log(_ s: String) { writeStderr("vfio-selftests: \(s)\n") }
}

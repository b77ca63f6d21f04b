import ArgumentParser
import Foundation
import LibVFIO
import VFIOSelftestsCLI

struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run the Swift Testing suites against devices set up with `setup`, with KTAP and JUnit reports.",
    discussion: """
      Spawns vfio-selftestsPackageTests.xctest (next to this executable) once per device, with \
      VFIO_SELFTESTS_BDF, VFIO_SELFTESTS_STAGE and VFIO_SELFTESTS_IOMMU_MODE set. Devices: those \
      named, else every journaled device, else $VFIO_SELFTESTS_BDF, else one run without a device. \
      With several devices the KTAP has one top-level test per device and JUnit goes to \
      FILE.<bdf>.xml. Exit: 0 pass, 1 fail, 4 skip (nothing passed or failed).
      """)

  @Option(name: [.customShort("s"), .customLong("stage")], help: "Stage of a two-stage (kexec) run: 1 or 2.")
  var stage: String?

  @Option(name: .customLong("iommu-mode"), help: "Run only the suites of this mode: vfio_type1_iommu, vfio_type1v2_iommu, iommufd_compat_type1, iommufd_compat_type1v2, iommufd.")
  var iommuMode: String?

  @Option(help: "Write KTAP version 1 to FILE ('-' for stdout).")
  var ktap: String?

  @Option(help: "Write JUnit XML to FILE.")
  var junit: String?

  @Option(help: "Only tests whose ID matches this regular expression (default: the hardware and Live Update suites).")
  var filter: String?

  @Flag(help: "Run every test target, unit tests included.")
  var all = false

  @Option(help: "The Swift Testing binary (default: vfio-selftestsPackageTests.xctest next to this executable).")
  var testBinary: String?

  @Argument(help: "PCI addresses (default: the journaled devices, else $VFIO_SELFTESTS_BDF).")
  var devices: [String] = []

  static let defaultFilter = "^(VFIOHardwareTests|LiveUpdateTests)\\."

  func run() throws {
    let request = try RunRequest(stage: stage, iommuMode: iommuMode, filter: all ? filter : (filter ?? Self.defaultFilter))
    let named = try parseDevices(devices, mustExist: true)
    try requireRoot("run")
    let binary = testBinary ?? Self.defaultTestBinary()
    guard FileManager.default.isExecutableFile(atPath: binary) else {
      throw CLIError("no test binary at \(binary) (build it: swift build --build-tests)")
    }
    let env = ProcessInfo.processInfo.environment
    let targets = try RunRequest.devices(named: named, journaled: DeviceSetup().journaledDevices(), environment: env)
    let sysfs = PCISysfs()
    for a in targets where !sysfs.exists(a) { throw VFIOError.noSuchDevice(a.description) }
    let runs: [PCIAddress?] = targets.isEmpty ? [nil] : targets
    if targets.isEmpty { log("no device named, journaled or in VFIO_SELFTESTS_BDF: the hardware suites will skip") }

    var results: [(name: String, run: TestRunResults, diagnostics: [String])] = []
    var exitCodes: [Int32] = []
    for device in runs {
      if let device, (try? sysfs.driver(device)) ?? nil != "vfio-pci" {
        log("\(device) is not bound to vfio-pci (run: vfio-selftests setup \(device)); its suites will skip")
      }
      let eventPath = FileManager.default.temporaryDirectory.appendingPathComponent("vfio-selftests-events-\(getpid())-\(UUID().uuidString).jsonl").path
      defer { try? FileManager.default.removeItem(atPath: eventPath) }
      let junitPath = junit.map { RunRequest.junitPath($0, device: device, deviceCount: runs.count) }
      let process = Process()
      process.executableURL = URL(fileURLWithPath: binary)
      process.arguments = request.arguments(eventStream: eventPath, junit: junitPath)
      process.environment = request.environment(device: device, base: env)
      if ktap == "-" { process.standardOutput = FileHandle.standardError }
      log("\(device.map(\.description) ?? "no device"): \(binary) \(process.arguments!.joined(separator: " "))")
      let start = Date()
      try process.run()
      process.waitUntilExit()
      let status: Int32? = process.terminationReason == .exit ? process.terminationStatus : nil
      var diagnostics: [String] = []
      if status == nil { diagnostics.append("test binary killed by signal \(process.terminationStatus)") }
      let text = (try? String(contentsOfFile: eventPath, encoding: .utf8)) ?? ""
      let records = try EventRecord.parse(stream: text)
      let run = TestRunResults(records: records)
      if !run.runEnded && status != nil { diagnostics.append("test binary exited with status \(status!) before the run ended") }
      let code = run.kselftestExitCode(processStatus: status)
      exitCodes.append(code)
      results.append((device.map(\.description) ?? "no device", run, diagnostics))
      log("\(device.map(\.description) ?? "no device"): \(run.passed) passed, \(run.failed) failed, \(run.skipped) skipped"
          + (run.suiteFailures > 0 ? ", \(run.suiteFailures) suite failures" : "")
          + " in \(String(format: "%.1f", Date().timeIntervalSince(start))) s; exit \(code)"
          + (diagnostics.isEmpty ? "" : " (\(diagnostics.joined(separator: "; ")))"))
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
        do { try doc.write(toFile: ktap, atomically: true, encoding: .utf8) } catch { throw CLIError("cannot write KTAP to \(ktap): \(error.localizedDescription)") }
      }
    }
    let code: Int32 = exitCodes.contains(KselftestExit.fail) ? KselftestExit.fail
      : exitCodes.allSatisfy { $0 == KselftestExit.skip } ? KselftestExit.skip : KselftestExit.pass
    if code != 0 { throw ExitCode(code) }
  }

  static func defaultTestBinary() -> String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("vfio-selftestsPackageTests.xctest").path
  }

  func log(_ s: String) { writeStderr("vfio-selftests: \(s)\n") }
}

struct Doctor: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Report what this kernel and machine offer for the selftests and what each piece enables.")

  func run() throws {
    let kmod = try? KernelModules()
    let doctor = VFIOSelftestsCLI.Doctor(isRoot: geteuid() == 0, moduleState: { kmod?.state($0).rawValue ?? "unknown (libkmod unavailable)" })
    print("kernel \(KernelModules.kernelRelease())")
    for c in doctor.checks() { print(c.line) }
  }
}

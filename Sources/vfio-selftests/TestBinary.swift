// SPDX-License-Identifier: GPL-2.0-only
import Foundation
import LibVFIO
import VFIOSelftestsCLI

/// The Swift Testing binary (vfio-selftestsPackageTests.xctest, next to this executable): one run
/// of it with an event stream, read back into a results model; and its test declarations alone
/// (`--list-tests`), for choosing tests by C name.
struct TestBinary {
  var path: String

  init(_ path: String? = nil) throws {
    self.path = path ?? Self.defaultPath()
    guard FileManager.default.isExecutableFile(atPath: self.path) else {
      throw CLIError("no test binary at \(self.path) (build it: swift build --build-tests)")
    }
  }

  static func defaultPath() -> String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("vfio-selftestsPackageTests.xctest").path
  }

  struct Outcome {
    var run: TestRunResults
    /// The binary's exit status (nil: killed by a signal).
    var status: Int32?
    var diagnostics: [String]
    /// SIGINT or SIGTERM, when one came and was passed on.
    var interrupted: String?
    var seconds: Double
    var exitCode: Int32 { run.kselftestExitCode(processStatus: status) }
  }

  enum Output { case inherit, toStderr, discard }

  /// Runs the binary with `arguments` (its own; the event-stream ones are added) and
  /// `environment`, passing SIGINT and SIGTERM on to it, and reads its results back.
  func run(arguments: [String], environment: [String: String], output: Output) throws -> Outcome {
    let eventPath = FileManager.default.temporaryDirectory
      .appendingPathComponent("vfio-selftests-events-\(Syscalls.processID)-\(UUID().uuidString).jsonl").path
    defer { try? FileManager.default.removeItem(atPath: eventPath) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = ["--testing-library", "swift-testing", "--event-stream-output-path", eventPath, "--event-stream-version", "0"] + arguments
    process.environment = environment
    switch output {
    case .inherit: break
    case .toStderr: process.standardOutput = FileHandle.standardError
    case .discard: process.standardOutput = FileHandle.nullDevice; process.standardError = FileHandle.nullDevice
    }
    // Waited for on a semaphore the termination handler signals, not with waitUntilExit(): that
    // spins this thread's run loop every 50 ms for as long as the tests run, and under TCG (both
    // vCPUs on one host thread) every wakeup is time taken from the tests being timed.
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    let start = Date()
    try process.run()
    let forwarding = SignalForwarding(to: process.processIdentifier)
    exited.wait()
    let interrupted = forwarding.stop()
    let status: Int32? = process.terminationReason == .exit ? process.terminationStatus : nil
    var diagnostics: [String] = []
    if status == nil { diagnostics.append("test binary killed by signal \(process.terminationStatus)") }
    if let interrupted { diagnostics.append("interrupted: \(interrupted) passed on to the test binary") }
    let text = (try? String(contentsOfFile: eventPath, encoding: .utf8)) ?? ""
    // A test over the iommu modes that Swift Testing skipped while planning lists no case:
    // it gets one per mode of the run, so its names are those of the cases it would have run.
    let modes = (try? IOMMUMode.underTest(environment: environment)) ?? IOMMUMode.allCases
    let run = TestRunResults(records: try EventRecord.parse(stream: text), unlistedCases: TestRunResults.iommuModeCases(modes))
    if !run.runEnded && status != nil { diagnostics.append("test binary exited with status \(status!) before the run ended") }
    return Outcome(run: run, status: status, diagnostics: diagnostics, interrupted: interrupted, seconds: Date().timeIntervalSince(start))
  }

  /// Every test the binary declares, run or not (`--list-tests` with the event stream: the
  /// declarations only, in milliseconds).
  func declarations(environment: [String: String]) throws -> TestRunResults {
    let outcome = try run(arguments: ["--list-tests"], environment: environment, output: .discard)
    guard outcome.status == 0 else { throw CLIError("\(path) --list-tests exited \(outcome.status.map(String.init) ?? "on a signal")") }
    return outcome.run
  }
}

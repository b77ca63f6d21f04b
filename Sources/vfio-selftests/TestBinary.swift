// SPDX-License-Identifier: GPL-2.0-only
import LibVFIO
import VFIOSelftestsCLI

/// The Swift Testing binary (vfio-selftestsPackageTests.xctest, next to this executable): one run
/// of it with an event stream, read back into a results model; and its test declarations alone
/// (`--list-tests`), for choosing tests by C name.
struct TestBinary {
  var path: String

  init(_ path: String? = nil) throws {
    self.path = path ?? Self.defaultPath()
    guard FileSystem.isExecutable(self.path) else {
      throw CLIError("no test binary at \(self.path) (build it: swift build --build-tests)")
    }
  }

  static func defaultPath() -> String {
    let exe = (try? FileSystem.readLink("/proc/self/exe").get()) ?? CommandLine.arguments[0]
    let dir = exe.lastIndex(of: "/").map { String(exe[..<$0]) } ?? "."
    return "\(dir.isEmpty ? "" : dir)/vfio-selftestsPackageTests.xctest"
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

  enum Output {
    case inherit, toStderr, discard
    var child: Syscalls.ChildOutput {
      switch self {
      case .inherit: .inherit
      case .toStderr: .stdoutToStderr
      case .discard: .discard
      }
    }
  }

  /// Runs the binary with `arguments` (its own; the event-stream ones are added) and
  /// `environment`, passing SIGINT and SIGTERM on to it, and reads its results back. The child
  /// is started and waited for through the syscall layer (`Syscalls.run`: posix_spawn, then
  /// waitpid and sigwaitinfo in this thread), so its end is seen at once: Foundation's
  /// `Process.waitUntilExit` polled a run loop every 50 ms.
  func run(arguments: [String], environment: [String: String], output: Output) throws -> Outcome {
    let tmp = environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    let clock = Syscalls.monotonicClock()
    let eventPath = "\(tmp)/vfio-selftests-events-\(Syscalls.processID)-\(clock.tv_sec)\(clock.tv_nsec).jsonl"
    defer { _ = FileSystem.remove(eventPath) }
    let argv = [path, "--testing-library", "swift-testing", "--event-stream-output-path", eventPath, "--event-stream-version", "0"] + arguments
    let start = Self.seconds()
    let exit: Syscalls.ChildExit
    switch Syscalls.run(argv, environment: environment.map { "\($0.key)=\($0.value)" }, output: output.child,
                        forwarding: [.interrupt, .terminate]) {
    case .success(let e): exit = e
    case .failure(let e): throw CLIError("cannot start \(path): \(e) (errno \(e.rawValue))")
    }
    let status = exit.exitCode
    var diagnostics: [String] = []
    if let sig = exit.terminatingSignal { diagnostics.append("test binary killed by signal \(sig)") }
    let interrupted = exit.forwarded?.description
    if let interrupted { diagnostics.append("interrupted: \(interrupted) passed on to the test binary") }
    let text = (try? FileSystem.read(eventPath).get()) ?? ""
    // A test over the iommu modes that Swift Testing skipped while planning lists no case:
    // it gets one per mode of the run, so its names are those of the cases it would have run.
    let modes = (try? IOMMUMode.underTest(environment: environment)) ?? IOMMUMode.allCases
    let run = TestRunResults(records: try EventRecord.parse(stream: text), unlistedCases: TestRunResults.iommuModeCases(modes))
    if !run.runEnded, let status { diagnostics.append("test binary exited with status \(status) before the run ended") }
    return Outcome(run: run, status: status, diagnostics: diagnostics, interrupted: interrupted, seconds: Self.seconds() - start)
  }

  private static func seconds() -> Double {
    let t = Syscalls.monotonicClock()
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
  }

  /// Every test the binary declares, run or not (`--list-tests` with the event stream: the
  /// declarations only, in milliseconds).
  func declarations(environment: [String: String]) throws -> TestRunResults {
    let outcome = try run(arguments: ["--list-tests"], environment: environment, output: .discard)
    guard outcome.status == 0 else { throw CLIError("\(path) --list-tests exited \(outcome.status.map(String.init) ?? "on a signal")") }
    return outcome.run
  }
}

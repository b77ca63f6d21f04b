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
    let (exit, text, seconds) = try launch(arguments: arguments, environment: environment, output: output)
    let status = exit.exitCode
    var diagnostics: [String] = []
    if let sig = exit.terminatingSignal { diagnostics.append("test binary killed by signal \(sig)") }
    let interrupted = exit.forwarded?.description
    if let interrupted { diagnostics.append("interrupted: \(interrupted) passed on to the test binary") }
    let run = try Self.results(stream: text, environment: environment)
    if !run.runEnded, let status { diagnostics.append("test binary exited with status \(status) before the run ended") }
    return Outcome(run: run, status: status, diagnostics: diagnostics, interrupted: interrupted, seconds: seconds)
  }

  /// One run of the binary with the event stream: how it ended, the stream's text, its seconds.
  private func launch(arguments: [String], environment: [String: String], output: Output) throws -> (Syscalls.ChildExit, String, Double) {
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
    case .failure(let e): throw CLIError("cannot run \(path): \(e) (errno \(e.rawValue))")
    }
    return (exit, (try? FileSystem.read(eventPath).get()) ?? "", Self.seconds() - start)
  }

  private static func seconds() -> Double {
    let t = Syscalls.monotonicClock()
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
  }

  /// The results model of an event stream. A test over the iommu modes that Swift Testing
  /// skipped while planning lists no case: it gets one per mode of the run, so its names are
  /// those of the cases it would have run.
  static func results(stream text: String, environment: [String: String]) throws -> TestRunResults {
    let modes = (try? IOMMUMode.underTest(environment: environment)) ?? IOMMUMode.allCases
    return TestRunResults(records: try EventRecord.parse(stream: text), unlistedCases: TestRunResults.iommuModeCases(modes))
  }

  /// The listing `scripts/package.sh` stores beside the binary (`<binary>.listing.jsonl`): the
  /// `--list-tests` event stream, after a first line naming the binary's size and modification
  /// time it was made from.
  var listingPath: String { "\(path).listing.jsonl" }

  /// The first line of a listing made for the binary at `path` as it is now.
  static func listingHeader(forBinaryAt path: String) -> String? {
    FileSystem.sizeAndModificationTime(path).map { #"{"kind":"vfio-selftests-listing","binarySize":\#($0.size),"binaryMtime":\#($0.mtime)}"# }
  }

  /// Every test the binary declares, run or not: the stored listing when it was made for this
  /// binary (the declarations do not depend on the environment, so it saves a whole start of the
  /// test binary per kselftest program), else `--list-tests` with the event stream (the
  /// declarations only).
  func declarations(environment: [String: String]) throws -> TestRunResults {
    if let header = Self.listingHeader(forBinaryAt: path), case .success(let text) = FileSystem.read(listingPath),
       text.hasPrefix(header + "\n") {
      return try Self.results(stream: String(text.dropFirst(header.utf8.count + 1)), environment: environment)
    }
    let outcome = try run(arguments: ["--list-tests"], environment: environment, output: .discard)
    guard outcome.status == 0 else { throw CLIError("\(path) --list-tests exited \(outcome.status.map(String.init) ?? "on a signal")") }
    return outcome.run
  }

  /// Runs `--list-tests` and stores its event stream beside the binary, after the header that
  /// ties it to the binary as it is now (`scripts/package.sh`, once the binary is in place).
  func writeListing(environment: [String: String]) throws {
    let (exit, text, _) = try launch(arguments: ["--list-tests"], environment: environment, output: .discard)
    guard exit.exitCode == 0, !text.isEmpty else { throw CLIError("\(path) --list-tests: exit \(exit.exitCode.map(String.init) ?? "on a signal"), \(text.utf8.count) bytes of event stream") }
    guard let header = Self.listingHeader(forBinaryAt: path) else { throw CLIError("cannot stat \(path)") }
    if case .failure(let e) = FileSystem.replace(listingPath, with: header + "\n" + text) {
      throw CLIError("cannot write \(listingPath): \(e) (errno \(e.rawValue))")
    }
  }
}

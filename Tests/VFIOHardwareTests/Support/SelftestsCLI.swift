// SPDX-License-Identifier: GPL-2.0-only
import Foundation
import LibVFIO
import Testing

/// The `vfio-selftests` command line next to this test binary (`vfio-selftests run` and vm-test.sh
/// keep them side by side), run as a user runs it: for the checks whose subject is what the
/// command prints and leaves behind.
enum SelftestsCLI {
  static var path: String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("vfio-selftests").path
  }

  /// Why the CLI cannot be run, or nil.
  static var missing: String? {
    FileManager.default.isExecutableFile(atPath: path) ? nil : "no vfio-selftests next to the test binary (\(path)): swift build"
  }

  struct Result: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    var description: String { "exit \(status), stdout: \(stdout.debugDescription), stderr: \(stderr.debugDescription)" }
  }

  /// Runs `vfio-selftests args` with none of this process's VFIO_SELFTESTS_* variables (so a
  /// fault-injection or device variable of the test run cannot leak in), plus `environment`.
  static func run(_ args: [String], environment extra: [String: String] = [:]) throws -> Result {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
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
    let r = Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    print("$ vfio-selftests \(args.joined(separator: " ")): \(r)")
    return r
  }
}

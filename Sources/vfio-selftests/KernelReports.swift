// SPDX-License-Identifier: GPL-2.0-only
import ArgumentParser
import LibVFIO

/// `vfio-selftests kernel-reports`: which of the kernel's bug detectors are on, and every report
/// (lockdep, WARNING, BUG, sleeping in atomic context, hung task, soft lockup, RCU stall, oops)
/// in the kernel log since boot. The guest runner calls it after each stage; the hardware suites
/// do the same per test.
struct KernelReports: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kernel-reports",
    abstract: "List the kernel's bug detectors and every report they logged since boot; exit 1 if there is one.")

  func run() throws {
    print(KernelDetectors.current().description)
    let log = KernelLogWatch(fromBoot: true)
    if let why = log.unavailability { throw CLIError(why) }
    let reports = KernelReport.reports(in: log.newMessages())
    guard !reports.isEmpty else {
      print("kernel reports since boot: none")
      return
    }
    print("kernel reports since boot: \(reports.count)")
    for r in reports {
      print("  \(r.kind.rawValue):")
      for line in r.lines { print("    \(line)") }
    }
    throw ExitCode.failure
  }
}

// SPDX-License-Identifier: GPL-2.0-only
import ArgumentParser
import LibVFIO
import VFIOSelftestsCLI

/// `vfio-selftests doctor` (the checks themselves are VFIOSelftestsCLI.Doctor's).
struct DoctorCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "doctor",
    abstract: "Report what this kernel and machine offer for the selftests and what each piece enables.")

  func run() throws {
    let kmod = try? KernelModules()
    let doctor = VFIOSelftestsCLI.Doctor(isRoot: Syscalls.effectiveUserID == 0, moduleState: { kmod?.state($0).rawValue ?? "unknown (libkmod unavailable)" })
    print("kernel \(KernelModules.kernelRelease())")
    for c in doctor.checks() { print(c.line) }
  }
}

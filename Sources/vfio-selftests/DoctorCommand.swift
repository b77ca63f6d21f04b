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
    let kmod = Result { () throws(VFIOError) in try KernelModules() }
    let doctor = VFIOSelftestsCLI.Doctor(isRoot: Syscalls.effectiveUserID == 0, moduleState: { m in
      switch kmod {
      case .success(let k): k.state(m).rawValue
      case .failure(let e): "unknown: \(e)"
      }
    })
    print("kernel \(KernelModules.kernelRelease())")
    for c in doctor.checks() { print(c.line) }
  }
}

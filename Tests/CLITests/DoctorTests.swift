// SPDX-License-Identifier: GPL-2.0-only
import Foundation
import LibVFIO
import Testing
import VFIOSelftestsCLI

/// `doctor`'s module lines, for states a test kernel does not have (its modules are modules).
@Suite("doctor: module lines")
struct DoctorModuleTests {
  func line(_ module: String, state: String) -> String? {
    let root = FileManager.default.temporaryDirectory.path + "/doctor-\(UUID().uuidString)"
    let doctor = Doctor(paths: SystemPaths(pciBus: root + "/pci", dev: root + "/dev"), proc: root + "/proc", sysKernel: root + "/kernel",
                        isRoot: false, moduleState: { $0 == module ? state : KernelModules.State.notFound.rawValue },
                        journal: DeviceSetup(journalDirectory: root + "/journal"))
    return doctor.checks().first { $0.name == "module \(module)" }?.line
  }

  @Test func aBuiltInModuleSaysSo() {
    #expect(line("vfio-pci", state: KernelModules.State.builtIn.rawValue)
      == "[yes] module vfio-pci          built in  -- binding devices for the VFIO suites")
  }

  /// With libkmod missing (it is opened on first use), a module's state is unknown: not a yes.
  @Test func anUnknownStateIsNotAvailable() {
    #expect(line("vfio-pci", state: "unknown: libkmod: libkmod.so.2: cannot open shared object file")
      == "[no]  module vfio-pci          unknown: libkmod: libkmod.so.2: cannot open shared object file  -- binding devices for the VFIO suites")
  }

  @Test func xeVFIOPCI() {
    #expect(line("xe-vfio-pci", state: KernelModules.State.notLoaded.rawValue)
      == "[yes] module xe-vfio-pci       not loaded  -- Intel Xe VF migration (vfio_migration_test.pci)")
    #expect(line("xe-vfio-pci", state: KernelModules.State.notFound.rawValue)
      == "[no]  module xe-vfio-pci       not available for this kernel  -- Intel Xe VF migration (vfio_migration_test.pci)")
  }
}

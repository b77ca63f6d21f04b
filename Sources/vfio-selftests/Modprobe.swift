// SPDX-License-Identifier: GPL-2.0-only
import ArgumentParser
import LibVFIO

struct Modprobe: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "modprobe",
    abstract: "Load kernel modules and their dependencies with libkmod (vfio-pci, vfio_iommu_type1, iommufd, mtty, xe-vfio-pci...).",
    discussion: "Prints, for each, whether it was loaded (and with which modules), already loaded, or built in. Not journaled: `cleanup` leaves these loaded.")

  @Argument(help: "Module names or aliases.")
  var modules: [String]

  @Option(help: "Modules directory (default: /lib/modules/$(uname -r)).")
  var directory: String?

  func run() throws {
    for m in modules { try KernelModules.validate(m) }
    let kmod = try KernelModules(directory: directory)
    var failed = false
    for m in modules {
      do {
        let before = kmod.loadedModules()
        let outcome = try kmod.load(m)
        let own = Set(kmod.resolve(m))
        let with = kmod.loadedModules().subtracting(before).subtracting(own).sorted()
        print("\(m): \(outcome.rawValue)" + (with.isEmpty ? "" : " (with \(with.joined(separator: ", ")))"))
      } catch {
        writeStderr("vfio-selftests: error: \(error)\n")
        failed = true
      }
    }
    if failed { throw ExitCode.failure }
  }
}

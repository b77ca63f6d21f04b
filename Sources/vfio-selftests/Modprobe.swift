import ArgumentParser
import LibVFIO

struct Modprobe: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Load kernel modules and their dependencies with libkmod (vfio-pci, vfio_iommu_type1, iommufd, mtty...).")

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
        let outcome = try kmod.load(m)
        print("\(m): \(outcome.rawValue)")
      } catch {
        writeStderr("vfio-selftests: error: \(error)\n")
        failed = true
      }
    }
    if failed { throw ExitCode.failure }
  }
}

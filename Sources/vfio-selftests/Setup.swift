import ArgumentParser
import LibVFIO

struct Setup: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Bind devices to vfio-pci (driver_override), remembering how to put them back.")

  @Argument(help: "PCI addresses, DDDD:BB:DD.F or BB:DD.F.")
  var devices: [String]

  func run() throws {
    let addresses = try devices.map { s throws(VFIOError) in try PCIAddress(parsing: s) }
    let kmod = try KernelModules()
    let vfioPCI = try kmod.load("vfio-pci")
    print("vfio-pci: \(vfioPCI.rawValue)")
    let setup = DeviceSetup()
    for a in addresses {
      switch try setup.setUp(a) {
      case .alreadySetUp: print("\(a): already set up by vfio-selftests")
      case .boundToVFIO(let previous): print("\(a): bound to vfio-pci (was \(previous ?? "unbound"))")
      }
    }
  }
}

struct Cleanup: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Undo setup: unbind vfio-pci, restore driver_override, the original driver and sriov_numvfs.")

  @Argument(help: "PCI addresses (default: every device set up by vfio-selftests).")
  var devices: [String] = []

  func run() throws {
    let setup = DeviceSetup()
    let addresses = devices.isEmpty ? setup.journaledDevices() : try devices.map { s throws(VFIOError) in try PCIAddress(parsing: s) }
    for a in addresses {
      if let rec = try setup.cleanUp(a) {
        print("\(a): restored (driver \(rec.driver ?? "none"))")
      } else {
        print("\(a): nothing to restore")
      }
    }
  }
}

import Foundation
import ArgumentParser
import LibVFIO

/// Parses every address first, then checks each exists: nothing is touched unless all are good.
func parseDevices(_ texts: [String], mustExist: Bool) throws -> [PCIAddress] {
  var out: [PCIAddress] = []
  for s in texts {
    let a = try PCIAddress(parsing: s)
    if !out.contains(a) { out.append(a) }
  }
  if mustExist {
    let sysfs = PCISysfs()
    for a in out where !sysfs.exists(a) { throw VFIOError.noSuchDevice(a.description) }
  }
  return out
}

struct Setup: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Bind devices to vfio-pci (driver_override), journaling each step in /run so cleanup can undo it.",
    discussion: "Like scripts/setup.sh: remembers and zeroes sriov_numvfs, remembers and unbinds the current driver, sets driver_override to vfio-pci and binds. Loads vfio-pci first. A device already set up is left as it is.")

  @Argument(help: "PCI addresses, DDDD:BB:DD.F or BB:DD.F.")
  var devices: [String]

  func run() throws {
    let addresses = try parseDevices(devices, mustExist: true)
    try requireRoot("setup")
    let kmod = try KernelModules()
    let vfioPCI = try kmod.load("vfio-pci")
    print("vfio-pci: \(vfioPCI.rawValue)")
    let setup = DeviceSetup()
    for a in addresses {
      switch try setup.setUp(a) {
      case .alreadySetUp: print("\(a): already set up by vfio-selftests (journal \(setup.journalDirectory)/\(a)), nothing to do")
      case .boundToVFIO(let previous): print("\(a): bound to vfio-pci (was \(previous ?? "unbound"))")
      }
    }
  }
}

struct Cleanup: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Undo setup from the journal: unbind vfio-pci, restore driver_override, rebind the original driver, restore sriov_numvfs.",
    discussion: "Idempotent. With no device, every journaled device. A journal entry is removed only once its device is restored.")

  @Argument(help: "PCI addresses (default: every device set up by vfio-selftests).")
  var devices: [String] = []

  func run() throws {
    let named = try parseDevices(devices, mustExist: false)
    try requireRoot("cleanup")
    let setup = DeviceSetup()
    let addresses = named.isEmpty ? setup.journaledDevices() : named
    if addresses.isEmpty { print("nothing to clean up (no journal in \(setup.journalDirectory))") }
    var firstError: Error?
    for a in addresses {
      do {
        if let rec = try setup.cleanUp(a) {
          print("\(a): restored (driver \(rec.driver ?? "none"), driver_override \(rec.driverOverride ?? "none"))")
        } else {
          print("\(a): nothing to restore (not set up by vfio-selftests)")
        }
      } catch {
        printError("\(error)")
        firstError = firstError ?? error
      }
    }
    if firstError != nil { throw ExitCode.failure }
  }
}

func printError(_ s: String) { writeStderr("vfio-selftests: error: \(s)\n") }

func writeStderr(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }

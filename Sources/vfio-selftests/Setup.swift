// SPDX-License-Identifier: GPL-2.0-only
import ArgumentParser
import LibVFIO
import SystemPackage

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
    commandName: "setup",
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
    let setup = try DeviceSetup.forCommandLine()
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
    commandName: "cleanup",
    abstract: "Undo setup from the journal: unbind vfio-pci, restore driver_override, rebind the original driver, restore sriov_numvfs.",
    discussion: """
      Idempotent. With no device, every journaled device, and what the suites created besides \
      bindings (mdev instances, then the modules they loaded, each after the journaled modules \
      that hold it; a module loaded before the run was never journaled and stays). A journal \
      entry is removed only once its device, mdev or module is gone or restored.
      """)

  @Argument(help: "PCI addresses (default: every device set up by vfio-selftests).")
  var devices: [String] = []

  @Flag(name: .customLong("keep-devices"), help: "Only the mdev instances and modules the suites left; every device stays as it is.")
  var keepDevices = false

  func run() throws {
    let named = try parseDevices(devices, mustExist: false)
    if keepDevices && !named.isEmpty { throw CLIError("--keep-devices cleans up no device: name none (got \(named.map(\.description).joined(separator: " ")))") }
    try requireRoot("cleanup")
    let setup = try DeviceSetup.forCommandLine()
    let addresses = keepDevices ? [] : named.isEmpty ? setup.journaledDevices() : named
    let journal = ResourceJournal()
    let leftovers = named.isEmpty ? ResourceJournal.Kind.allCases.flatMap(journal.entries) : []
    if addresses.isEmpty && leftovers.isEmpty {
      print(keepDevices ? "nothing to clean up (no mdev or module in \(journal.root))" : "nothing to clean up (no journal in \(setup.journalDirectory))")
    }
    var firstError: Error?
    // What a killed run left besides bindings: mdev instances first, then the modules the suites loaded.
    if named.isEmpty {
      let mdev = MdevSysfs()
      for uuid in journal.entries(.mdev) {
        do { try mdev.remove(uuid: uuid); journal.forget(.mdev, uuid); print("mdev \(uuid): removed") } catch {
          printError("\(error)"); firstError = firstError ?? error
        }
      }
      if !journal.entries(.module).isEmpty {
        let modules = JournaledModules(modules: try KernelModules(), journal: journal)
        for (m, result) in modules.unloadJournaled() {
          switch result {
          case .unloaded: print("module \(m): unloaded (a suite had loaded it)")
          case .notLoaded, .builtIn: print("module \(m): \(result); journal entry removed")
          case .heldBy: print("module \(m): \(result); kept in the journal")
          case .failed(let e): printError("\(e)"); firstError = firstError ?? e
          }
        }
      }
    }
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

extension DeviceSetup {
  /// The command line's: with VFIO_SELFTESTS_STOP_AT=<checkpoint>, it stops itself (SIGSTOP) at
  /// that checkpoint so a test can kill it at an exact step (fault injection).
  static func forCommandLine() throws -> DeviceSetup {
    var setup = DeviceSetup()
    do {
      if let stop = try SelftestsEnvironment.current.stopAt() {
        setup.checkpoint = { name in
          guard name == stop else { return }
          writeStderr("vfio-selftests: stopping at \(name) (VFIO_SELFTESTS_STOP_AT)\n")
          Syscalls.raise(.stop)
        }
      }
    } catch {
      throw CLIError(error.description)
    }
    return setup
  }
}

func printError(_ s: String) { writeStderr("vfio-selftests: error: \(s)\n") }

func writeStderr(_ s: String) { _ = try? FileDescriptor.standardError.writeAll(s.utf8) }

func writeStdout(_ s: String) { _ = try? FileDescriptor.standardOutput.writeAll(s.utf8) }

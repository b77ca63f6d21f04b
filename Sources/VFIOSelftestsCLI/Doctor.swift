// SPDX-License-Identifier: GPL-2.0-only
import LibLiveUpdate
import LibVFIO

/// `vfio-selftests doctor`: what this kernel and machine offer for the selftests and what each
/// piece enables, one line each, with the reason when something is missing.
public struct Doctor {
  public struct Check: Equatable, Sendable {
    public var name: String
    public var available: Bool
    /// What was found, or why it is missing.
    public var detail: String
    /// What it enables.
    public var enables: String

    public var line: String {
      "\(available ? "[yes]" : "[no] ") \(name.padded(to: 24)) \(detail)  -- \(enables)"
    }
  }

  public var paths: SystemPaths
  /// `/proc`, `/sys/kernel` (fixtures in tests).
  public var proc: String
  public var sysKernel: String
  public var isRoot: Bool
  public var moduleState: (String) -> String
  public var journal: DeviceSetup

  public init(paths: SystemPaths = .system, proc: String = "/proc", sysKernel: String = "/sys/kernel", isRoot: Bool,
              moduleState: @escaping (String) -> String, journal: DeviceSetup = DeviceSetup()) {
    self.paths = paths
    self.proc = proc
    self.sysKernel = sysKernel
    self.isRoot = isRoot
    self.moduleState = moduleState
    self.journal = journal
  }

  static func exists(_ p: String) -> Bool { FileSystem.exists(p) }
  static func read(_ p: String) -> String? { try? FileSystem.read(p).get() }
  static func list(_ p: String) -> [String]? { try? FileSystem.list(p).get().sorted() }

  public func checks() -> [Check] {
    var out: [Check] = []
    let host = HostCapabilities(paths: paths)
    out.append(Check(name: "root", available: isRoot, detail: isRoot ? "euid 0" : "not root (euid \(Syscalls.effectiveUserID))",
                     enables: "setup, cleanup, run, module loading"))
    let vfio = "\(paths.dev)/vfio/vfio"
    out.append(Check(name: "VFIO container", available: Self.exists(vfio),
                     detail: Self.exists(vfio) ? vfio : "no \(vfio) (vfio not loaded or CONFIG_VFIO_CONTAINER=n)",
                     enables: "vfio_type1*_iommu modes, group API"))
    for mode in [IOMMUMode.vfioType1, .vfioType1v2] {
      let why = isRoot ? host.unavailability(of: mode) : "not probed (needs root to open \(vfio))"
      out.append(Check(name: "mode \(mode.rawValue)", available: why == nil, detail: why ?? "VFIO_CHECK_EXTENSION ok",
                       enables: "the \(mode.rawValue) suites"))
    }
    let iommufd = "\(paths.dev)/iommu"
    out.append(Check(name: "iommufd", available: Self.exists(iommufd),
                     detail: Self.exists(iommufd) ? iommufd : "no \(iommufd) (iommufd not loaded or CONFIG_IOMMUFD=n)",
                     enables: "iommufd and iommufd_compat_* modes, vfio_iommufd_setup_test"))
    let cdevs = Self.list("\(paths.dev)/vfio/devices")
    let cdevConfigured = cdevs != nil
    out.append(Check(name: "VFIO cdev", available: cdevConfigured,
                     detail: cdevConfigured ? "\(paths.dev)/vfio/devices (\(cdevs!.count) device(s))" : "no \(paths.dev)/vfio/devices (no device bound to vfio-pci yet, or CONFIG_VFIO_DEVICE_CDEV=n)",
                     enables: "iommufd mode (device cdev)"))
    let groups = Self.list("\(sysKernel)/iommu_groups") ?? []
    out.append(Check(name: "IOMMU", available: !groups.isEmpty,
                     detail: groups.isEmpty ? "no groups in \(sysKernel)/iommu_groups (no IOMMU enabled: intel_iommu=on / amd_iommu, or none in the machine)" : "\(groups.count) group(s) in \(sysKernel)/iommu_groups",
                     enables: "binding devices to vfio-pci, DMA mapping"))
    // The same probes, and reasons, as the Live Update suites' skips.
    let luo = "\(paths.dev)/liveupdate"
    let luoMissing = LiveUpdateCapabilities.deviceUnavailability(path: luo)
    out.append(Check(name: "/dev/liveupdate", available: luoMissing == nil, detail: luoMissing ?? luo,
                     enables: "the liveupdate suites"))
    let vfioPCILoaded = moduleState("vfio-pci") == KernelModules.State.live.rawValue || moduleState("vfio-pci") == KernelModules.State.builtIn.rawValue
    let vfioLUOMissing = LiveUpdateCapabilities.vfioUnavailability(kallsyms: "\(proc)/kallsyms")
    let luoVFIO = Check(
      name: "VFIO Live Update", available: vfioLUOMissing == nil,
      detail: vfioLUOMissing.map { vfioPCILoaded ? $0 : "not known: vfio-pci not loaded (load it: vfio-selftests modprobe vfio-pci)" }
        ?? "vfio_pci_liveupdate_* symbols in \(proc)/kallsyms",
      enables: "the VFIO Live Update series tests")
    out.append(luoVFIO)
    let cmdline = Self.read("\(proc)/cmdline") ?? ""
    let khoDebugfs = Self.exists("\(sysKernel)/debug/kho")
    let khoCmdline = cmdline.split(separator: " ").first { $0.hasPrefix("kho=") }
    out.append(Check(name: "KHO", available: khoDebugfs || khoCmdline.map { $0 != "kho=0" && $0 != "kho=off" } == true,
                     detail: khoDebugfs ? "\(sysKernel)/debug/kho" : khoCmdline.map { "\($0) on the command line" } ?? "no \(sysKernel)/debug/kho and no kho= on the command line",
                     enables: "preserving state across kexec (stage 2)"))
    for m in ["vfio-pci", "vfio_iommu_type1", "iommufd", "mtty", "xe-vfio-pci"] {
      // A state KernelModules knows, or why it could not tell (libkmod not opened): not available.
      let s = moduleState(m)
      let ok = KernelModules.State(rawValue: s).map { $0 != .notFound } ?? false
      let detail = ok || s != KernelModules.State.notFound.rawValue ? s : "not available for this kernel"
      out.append(Check(name: "module \(m)", available: ok, detail: detail, enables: Self.moduleUse[m] ?? ""))
    }
    let bound = (Self.list("\(paths.pciBus)/drivers/vfio-pci") ?? []).filter { PCIAddress($0) != nil }
    out.append(Check(name: "bound to vfio-pci", available: !bound.isEmpty, detail: bound.isEmpty ? "none" : bound.joined(separator: " "),
                     enables: "devices the suites can open"))
    let journaled = journal.journaledDevices().map(\.description)
    out.append(Check(name: "journal", available: !journaled.isEmpty,
                     detail: journaled.isEmpty ? "no device set up (\(journal.journalDirectory))" : "\(journaled.joined(separator: " ")) (undo: vfio-selftests cleanup)",
                     enables: "cleanup"))
    return out
  }

  static let moduleUse: [String: String] = [
    "vfio-pci": "binding devices for the VFIO suites",
    "vfio_iommu_type1": "vfio_type1*_iommu modes",
    "iommufd": "iommufd modes",
    "mtty": "a virtual mdev device without PCI hardware",
    "xe-vfio-pci": "Intel Xe VF migration (vfio_migration_test.pci)",
  ]
}

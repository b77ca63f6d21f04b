// SPDX-License-Identifier: GPL-2.0-only
/// What the PCI half of the migration suites needs of every device in
/// `VFIO_SELFTESTS_MIGRATION_BDFS`: an SR-IOV virtual function of an Intel Xe GPU that
/// xe-vfio-pci drives (Battlemage, Panther Lake, Wildcat Lake: its `vfio_pci:` aliases in
/// modules.alias), bound to xe-vfio-pci. The check reads sysfs and the module index only:
/// nothing is bound, unbound, loaded or written.
public struct XeVFCheck {
  /// The driver (sysfs `drivers/` name) and module the devices need.
  public static let driver = "xe-vfio-pci"
  public static let module = "xe_vfio_pci"

  public let sysfs: PCISysfs
  /// The running kernel's module index (nil when libkmod cannot be opened: the device table
  /// check is then left out).
  public let modules: KernelModules?

  public init(sysfs: PCISysfs = PCISysfs(), modules: KernelModules?) {
    self.sysfs = sysfs
    self.modules = modules
  }

  /// Why `a` is not a device the PCI migration suites can use, or nil when it is.
  public func refusal(_ a: PCIAddress) -> XeVFRefusal? {
    guard sysfs.exists(a) else { return XeVFRefusal(device: a, ids: nil, driver: nil, lacks: [.device]) }
    var lacks: [XeVFRefusal.Lack] = []
    let vendor = try? sysfs.vendorID(a), device = try? sysfs.deviceID(a)
    let ids = vendor.flatMap { v in device.map { "\(Self.hex4(v)):\(Self.hex4($0))" } }
    if (try? sysfs.physicalFunction(a)) ?? nil == nil {
      lacks.append(.virtualFunction(pfTotalVFs: (try? sysfs.sriovTotalVFs(a)) ?? nil))
    }
    if let modules {
      if modules.resolve(Self.driver).isEmpty {
        lacks.append(.xeVFIOPCIModule(directory: modules.directory))
      } else if let alias = try? sysfs.modalias(a), !modules.resolve("vfio_" + alias).contains(Self.module) {
        lacks.append(.xeDevice(ids: ids ?? alias))
      }
    }
    let driver = (try? sysfs.driver(a)) ?? nil
    if driver != Self.driver { lacks.append(.binding(driver: driver)) }
    return lacks.isEmpty ? nil : XeVFRefusal(device: a, ids: ids, driver: driver, lacks: lacks)
  }

  /// `1af4`, as lspci writes IDs.
  static func hex4(_ v: UInt16) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 4 - s.count) + s
  }
}

/// A device of `VFIO_SELFTESTS_MIGRATION_BDFS` that is not an Xe VF on xe-vfio-pci: one line
/// naming the device and everything it lacks.
public struct XeVFRefusal: Equatable, Sendable, CustomStringConvertible {
  public enum Lack: Equatable, Sendable, CustomStringConvertible {
    /// Nothing at the address.
    case device
    /// Not an SR-IOV VF (no `physfn`); `pfTotalVFs` when it is a PF that can have VFs.
    case virtualFunction(pfTotalVFs: Int?)
    /// Its IDs match none of xe-vfio-pci's aliases.
    case xeDevice(ids: String)
    /// This kernel has no xe-vfio-pci module, so nothing can drive it.
    case xeVFIOPCIModule(directory: String)
    /// Bound to another driver, or to none.
    case binding(driver: String?)

    public var description: String {
      switch self {
      case .device:
        "no such device"
      case .virtualFunction(nil):
        "not an SR-IOV VF (no physfn) and no SR-IOV PF either (no sriov_totalvfs)"
      case .virtualFunction(let n?):
        "an SR-IOV PF (sriov_totalvfs \(n)), not a VF: enable VFs (sriov_numvfs) and name one"
      case .xeDevice(let ids):
        "\(ids) is not a GPU xe-vfio-pci drives (no \(XeVFCheck.module) alias matches it: Battlemage, Panther Lake, Wildcat Lake)"
      case .xeVFIOPCIModule(let dir):
        "this kernel has no xe-vfio-pci module in \(dir) (CONFIG_XE_VFIO_PCI)"
      case .binding(nil):
        "bound to no driver, not xe-vfio-pci"
      case .binding(let d?):
        "bound to \(d), not xe-vfio-pci"
      }
    }
  }

  public var device: PCIAddress
  /// `vendor:device`, when the device exists.
  public var ids: String?
  public var driver: String?
  public var lacks: [Lack]

  public var description: String {
    let variable = SelftestsEnvironment.Variable.migrationBDFS.rawValue
    if lacks == [.device] { return "\(variable): no PCI device \(device) (nothing at /sys/bus/pci/devices/\(device))" }
    let what = [ids, "bound to \(driver ?? "no driver")"].compactMap { $0 }.joined(separator: ", ")
    return "\(variable): \(device) (\(what)) is not an Xe VF on xe-vfio-pci: \(lacks.map(\.description).joined(separator: "; "))"
  }
}

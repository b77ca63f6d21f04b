// SPDX-License-Identifier: GPL-2.0-only
import SystemPackage

/// Where the kernel's PCI and device interfaces live. Tests point this at fixture trees.
public struct SystemPaths: Sendable, Equatable {
  /// `/sys/bus/pci`
  public var pciBus: String
  /// `/dev`
  public var dev: String
  /// `/sys/bus/mdev` (mediated devices, by UUID)
  public var mdevBus: String
  /// `/sys/class/mdev_bus` (mdev parents and their `mdev_supported_types`)
  public var mdevParents: String

  public init(pciBus: String = "/sys/bus/pci", dev: String = "/dev",
              mdevBus: String = "/sys/bus/mdev", mdevParents: String = "/sys/class/mdev_bus") {
    self.pciBus = pciBus
    self.dev = dev
    self.mdevBus = mdevBus
    self.mdevParents = mdevParents
  }

  public static let system = SystemPaths()
}

/// Reads and writes a PCI device's sysfs attributes, like libvfio's `sysfs.c` and the
/// selftests' `setup.sh`/`cleanup.sh`. Every error names the attribute and the device.
public struct PCISysfs: Sendable {
  public let paths: SystemPaths

  public init(paths: SystemPaths = .system) { self.paths = paths }

  public func devicePath(_ a: PCIAddress) -> String { "\(paths.pciBus)/devices/\(a)" }

  /// The sysfs directory of a PCI function or an mdev (`/sys/bus/mdev/devices/<uuid>`).
  public func devicePath(_ id: VFIODeviceID) -> String {
    switch id {
    case .pci(let a): devicePath(a)
    case .mdev(let uuid): "\(paths.mdevBus)/devices/\(uuid)"
    }
  }

  /// Whether `a` names a PCI device present in sysfs.
  public func exists(_ a: PCIAddress) -> Bool { FileSystem.isDirectory(devicePath(a)) }

  /// Throws `VFIOError.noSuchDevice` unless the device exists.
  public func requireDevice(_ a: PCIAddress) throws(VFIOError) {
    guard exists(a) else { throw .noSuchDevice(a.description) }
  }

  /// Throws `VFIOError.noSuchDevice` unless the PCI function or mdev exists.
  public func requireDevice(_ id: VFIODeviceID) throws(VFIOError) {
    guard FileSystem.isDirectory(devicePath(id)) else {
      if case .pci(let a) = id { throw .noSuchDevice(a.description) }
      throw .unexpected(operation: "device lookup", device: id.description, detail: "no mdev \(id) (nothing at \(devicePath(id)))")
    }
  }

  func attribute(_ a: PCIAddress, _ name: String) throws(VFIOError) -> String {
    try requireDevice(a)
    return try FileSystem.read("\(devicePath(a))/\(name)").get("read(\(name))", device: a.description)
      .trimmingWhitespace()
  }

  func integer(_ a: PCIAddress, _ name: String) throws(VFIOError) -> Int {
    let text = try attribute(a, name)
    guard let v = parseCInteger(text) else {
      throw .unexpected(operation: "read(\(name))", device: a.description, detail: "not an integer: '\(text)'")
    }
    return v
  }

  /// The IOMMU group number (`iommu_group` link).
  public func iommuGroup(_ a: PCIAddress) throws(VFIOError) -> Int { try iommuGroup(.pci(a)) }

  /// The IOMMU group number of a PCI function or an mdev (an mdev's group is an emulated one).
  /// A missing device is told apart only when the link cannot be read (no stat before it).
  public func iommuGroup(_ id: VFIODeviceID) throws(VFIOError) -> Int {
    let link: String
    switch FileSystem.readLink("\(devicePath(id))/iommu_group") {
    case .success(let l): link = l
    case .failure(let e):
      try requireDevice(id)
      throw .syscall(operation: "readlink(iommu_group)", device: id.description, errno: e)
    }
    guard let n = Int(FileSystem.basename(link)) else {
      throw .unexpected(operation: "readlink(iommu_group)", device: id.description, detail: "not a group number: '\(link)'")
    }
    return n
  }

  /// The bound driver's name, or nil when no driver is bound. A missing device is told apart
  /// only when the link cannot be read (no stat before it).
  public func driver(_ a: PCIAddress) throws(VFIOError) -> String? {
    switch FileSystem.readLink("\(devicePath(a))/driver") {
    case .success(let link): return FileSystem.basename(link)
    case .failure(.noSuchFileOrDirectory):
      try requireDevice(a)
      return nil
    case .failure(let e): throw .syscall(operation: "readlink(driver)", device: a.description, errno: e)
    }
  }

  /// `driver_override`, or nil when it is unset (`(null)` or empty).
  public func driverOverride(_ a: PCIAddress) throws(VFIOError) -> String? {
    let v = try attribute(a, "driver_override")
    return v.isEmpty || v == "(null)" ? nil : v
  }

  public func vendorID(_ a: PCIAddress) throws(VFIOError) -> UInt16 { UInt16(truncatingIfNeeded: try integer(a, "vendor")) }
  public func deviceID(_ a: PCIAddress) throws(VFIOError) -> UInt16 { UInt16(truncatingIfNeeded: try integer(a, "device")) }
  public func pciClass(_ a: PCIAddress) throws(VFIOError) -> UInt32 { UInt32(truncatingIfNeeded: try integer(a, "class")) }

  /// The NUMA node, -1 when the platform has none.
  public func numaNode(_ a: PCIAddress) throws(VFIOError) -> Int { try integer(a, "numa_node") }

  /// `sriov_totalvfs`, or nil when the device has no SR-IOV capability (no such attribute).
  public func sriovTotalVFs(_ a: PCIAddress) throws(VFIOError) -> Int? {
    try requireDevice(a)
    guard FileSystem.exists("\(devicePath(a))/sriov_totalvfs") else { return nil }
    return try integer(a, "sriov_totalvfs")
  }

  public func sriovNumVFs(_ a: PCIAddress) throws(VFIOError) -> Int? {
    try requireDevice(a)
    guard FileSystem.exists("\(devicePath(a))/sriov_numvfs") else { return nil }
    return try integer(a, "sriov_numvfs")
  }

  public func setSriovNumVFs(_ a: PCIAddress, _ n: Int) throws(VFIOError) {
    try write(a, "sriov_numvfs", "\(n)")
  }

  /// The address of VF `index` of PF `a` (`virtfn<index>` link).
  public func virtualFunction(_ a: PCIAddress, index: Int) throws(VFIOError) -> PCIAddress {
    try requireDevice(a)
    let link = try FileSystem.readLink("\(devicePath(a))/virtfn\(index)").get("readlink(virtfn\(index))", device: a.description)
    return try PCIAddress(parsing: FileSystem.basename(link))
  }

  /// The PF of an SR-IOV VF (`physfn` link), nil for a function that is not a VF.
  public func physicalFunction(_ a: PCIAddress) throws(VFIOError) -> PCIAddress? {
    try requireDevice(a)
    switch FileSystem.readLink("\(devicePath(a))/physfn") {
    case .success(let link): return try PCIAddress(parsing: FileSystem.basename(link))
    case .failure(.noSuchFileOrDirectory): return nil
    case .failure(let e): throw .syscall(operation: "readlink(physfn)", device: a.description, errno: e)
    }
  }

  /// `modalias` (`pci:v00008086d0000E20Bsv...sd...bc03sc80i00`): what module aliases match; a
  /// VFIO variant driver's aliases are the same with `vfio_` before it.
  public func modalias(_ a: PCIAddress) throws(VFIOError) -> String { try attribute(a, "modalias") }

  /// The VFIO cdev of a device bound to a VFIO driver: `/dev/vfio/devices/vfioN`, found as the
  /// first `vfio*` entry of `vfio-dev/`. Nil when the kernel has no cdev for it.
  public func vfioCdevPath(_ a: PCIAddress) throws(VFIOError) -> String? { try vfioCdevPath(.pci(a)) }

  /// The VFIO cdev of a PCI function or an mdev (`<sysfs dir>/vfio-dev/vfioN`).
  /// A missing device (`VFIOError.noSuchDevice`) is told apart only when `vfio-dev` cannot be
  /// listed: the device open path makes no stat before it, as C's `vfio_pci_get_cdev_path`.
  public func vfioCdevPath(_ id: VFIODeviceID) throws(VFIOError) -> String? {
    guard case .success(let entries) = FileSystem.list("\(devicePath(id))/vfio-dev") else {
      try requireDevice(id)
      return nil
    }
    guard let name = entries.first(where: { $0.hasPrefix("vfio") }) else { return nil }
    return "\(paths.dev)/vfio/devices/\(name)"
  }

  /// The VFIO cdev of a PCI function or an mdev, throwing when there is none.
  public func requireVFIOCdevPath(_ id: VFIODeviceID) throws(VFIOError) -> String {
    guard let path = try vfioCdevPath(id) else {
      throw .unexpected(operation: "cdev lookup", device: id.description,
                        detail: "no vfio-dev/vfio* in sysfs: not bound to a VFIO driver, or the kernel has no VFIO cdev (CONFIG_VFIO_DEVICE_CDEV)")
    }
    return path
  }

  /// The group node, `/dev/vfio/<group>`.
  public func vfioGroupPath(_ a: PCIAddress) throws(VFIOError) -> String {
    "\(paths.dev)/vfio/\(try iommuGroup(a))"
  }

  // MARK: binding (setup.sh / cleanup.sh)

  public func setDriverOverride(_ a: PCIAddress, _ driver: String?) throws(VFIOError) {
    // An empty write clears the override ("\n" is what cleanup.sh writes).
    try write(a, "driver_override", driver ?? "\n")
  }

  /// Unbinds the device from its current driver; a no-op when none is bound.
  public func unbind(_ a: PCIAddress) throws(VFIOError) {
    guard let d = try driver(a) else { return }
    try writeBus("drivers/\(d)/unbind", a.description, device: a)
  }

  /// Binds to `driver` through `drivers/<driver>/bind`.
  public func bind(_ a: PCIAddress, to driver: String) throws(VFIOError) {
    try writeBus("drivers/\(driver)/bind", a.description, device: a)
  }

  /// Asks the PCI core to probe the device (honours driver_override).
  public func probe(_ a: PCIAddress) throws(VFIOError) {
    try writeBus("drivers_probe", a.description, device: a)
  }

  func write(_ a: PCIAddress, _ name: String, _ value: String) throws(VFIOError) {
    try requireDevice(a)
    try FileSystem.write("\(devicePath(a))/\(name)", value).get("write(\(name), \"\(value.trimmingWhitespace())\")", device: a.description)
  }

  func writeBus(_ relative: String, _ value: String, device a: PCIAddress) throws(VFIOError) {
    try FileSystem.write("\(paths.pciBus)/\(relative)", value).get("write(\(paths.pciBus)/\(relative))", device: a.description)
  }
}

extension String {
  /// The string without leading and trailing whitespace (sysfs values end in a newline).
  package func trimmingWhitespace() -> String {
    var s = Substring(self)
    while let c = s.first, c.isWhitespace { s.removeFirst() }
    while let c = s.last, c.isWhitespace { s.removeLast() }
    return String(s)
  }
}

/// `strtol(s, NULL, 0)`-style parsing: `0x` hex, leading `0` octal, else decimal, optional sign.
func parseCInteger(_ text: String) -> Int? {
  var s = Substring(text.trimmingWhitespace())
  var negative = false
  if s.first == "-" { negative = true; s.removeFirst() } else if s.first == "+" { s.removeFirst() }
  // Only digits may follow the one sign and the base prefix (strtol takes no second sign).
  let value: Int?
  if s.hasPrefix("0x") || s.hasPrefix("0X") {
    guard s.count > 2, s.dropFirst(2).allSatisfy(\.isHexDigit) else { return nil }
    value = Int(s.dropFirst(2), radix: 16)
  } else if s.isEmpty || !s.allSatisfy(\.isNumber) {
    return nil
  } else if s.count > 1 && s.hasPrefix("0") {
    value = Int(s.dropFirst(), radix: 8)
  } else {
    value = Int(s)
  }
  return value.map { negative ? -$0 : $0 }
}

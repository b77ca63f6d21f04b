import Glibc
import SystemPackage

/// Binds a device to vfio-pci and puts it back, like the selftests' `setup.sh` and
/// `cleanup.sh`, with a journal per device written before any change so an interrupted run can
/// still be undone. Only the device named is ever touched.
public struct DeviceSetup: Sendable {
  /// What a device looked like before setup.
  public struct Record: Equatable, Sendable {
    public var address: PCIAddress
    public var driver: String?
    public var driverOverride: String?
    public var sriovNumVFs: Int?

    func serialized() -> String {
      "address=\(address)\ndriver=\(driver ?? "")\ndriver_override=\(driverOverride ?? "")\nsriov_numvfs=\(sriovNumVFs.map(String.init) ?? "")\n"
    }

    static func parse(_ text: String) -> Record? {
      var fields: [String: String] = [:]
      for line in text.split(separator: "\n") {
        guard let eq = line.firstIndex(of: "=") else { continue }
        fields[String(line[..<eq])] = String(line[line.index(after: eq)...])
      }
      guard let a = fields["address"].flatMap(PCIAddress.init) else { return nil }
      func opt(_ k: String) -> String? { fields[k].flatMap { $0.isEmpty ? nil : $0 } }
      return Record(address: a, driver: opt("driver"), driverOverride: opt("driver_override"), sriovNumVFs: opt("sriov_numvfs").flatMap { Int($0) })
    }
  }

  public enum Outcome: Equatable, Sendable {
    case boundToVFIO(previousDriver: String?)
    case alreadySetUp
  }

  public let sysfs: PCISysfs
  /// Where journals live: survives the test process, not a reboot.
  public let journalDirectory: String

  public init(sysfs: PCISysfs = PCISysfs(), journalDirectory: String = "/run/vfio-selftests/devices") {
    self.sysfs = sysfs
    self.journalDirectory = journalDirectory
  }

  func journalPath(_ a: PCIAddress) -> String { "\(journalDirectory)/\(a)" }

  public func record(for a: PCIAddress) -> Record? {
    guard case .success(let text) = FileSystem.read(journalPath(a)) else { return nil }
    return Record.parse(text)
  }

  /// Every device with a journal entry.
  public func journaledDevices() -> [PCIAddress] {
    guard case .success(let names) = FileSystem.list(journalDirectory) else { return [] }
    return names.compactMap(PCIAddress.init)
  }

  /// Binds `a` to vfio-pci: remembers and zeroes `sriov_numvfs`, remembers and unbinds the
  /// current driver, sets `driver_override` to vfio-pci and probes.
  public func setUp(_ a: PCIAddress) throws(VFIOError) -> Outcome {
    try sysfs.requireDevice(a)
    if record(for: a) != nil { return .alreadySetUp }
    let rec = Record(address: a, driver: try sysfs.driver(a), driverOverride: try sysfs.driverOverride(a), sriovNumVFs: try sysfs.sriovNumVFs(a))
    try writeJournal(rec)
    if let n = rec.sriovNumVFs, n > 0 { try sysfs.setSriovNumVFs(a, 0) }
    if rec.driver != "vfio-pci" {
      try sysfs.unbind(a)
    }
    try sysfs.setDriverOverride(a, "vfio-pci")
    if try sysfs.driver(a) != "vfio-pci" {
      try sysfs.probe(a)
    }
    let now = try sysfs.driver(a)
    guard now == "vfio-pci" else {
      throw .unexpected(operation: "bind to vfio-pci", device: a.description, detail: "bound to \(now ?? "no driver") after probe (is vfio-pci loaded?)")
    }
    return .boundToVFIO(previousDriver: rec.driver)
  }

  /// Undoes `setUp` from the journal in reverse; a no-op (returns nil) when there is no journal.
  @discardableResult
  public func cleanUp(_ a: PCIAddress) throws(VFIOError) -> Record? {
    guard let rec = record(for: a) else { return nil }
    if sysfs.exists(a) {
      if try sysfs.driver(a) == "vfio-pci" && rec.driver != "vfio-pci" {
        try sysfs.unbind(a)
      }
      try sysfs.setDriverOverride(a, rec.driverOverride)
      if let d = rec.driver, try sysfs.driver(a) == nil {
        // Probe honours the restored override; fall back to the driver's bind file.
        try sysfs.probe(a)
        if try sysfs.driver(a) == nil { try sysfs.bind(a, to: d) }
      }
      if let n = rec.sriovNumVFs, n > 0, try sysfs.sriovNumVFs(a) != n { try sysfs.setSriovNumVFs(a, n) }
    }
    _ = unsafe unlink(journalPath(a))
    return rec
  }

  private func writeJournal(_ rec: Record) throws(VFIOError) {
    try FileSystem.makeDirectories(journalDirectory).get("mkdir(\(journalDirectory))", device: rec.address.description)
    let tmp = journalPath(rec.address) + ".tmp"
    try FileSystem.create(tmp, rec.serialized()).get("write(\(tmp))", device: rec.address.description)
    guard unsafe rename(tmp, journalPath(rec.address)) == 0 else {
      throw .syscall(operation: "rename(\(tmp))", device: rec.address.description, errno: Errno(rawValue: errno))
    }
  }
}

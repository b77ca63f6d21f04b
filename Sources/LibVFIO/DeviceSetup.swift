// SPDX-License-Identifier: GPL-2.0-only
import SystemPackage

/// Binds a device to vfio-pci and puts it back, like the selftests' `setup.sh` and
/// `cleanup.sh`, with a journal per device rewritten BEFORE EACH STEP (the original state plus the
/// steps begun), so that a setup interrupted anywhere is still undone exactly. Only the device
/// named is ever touched.
public struct DeviceSetup: Sendable {
  /// A change setup makes, in the order it makes them; cleanup undoes them in reverse.
  public enum Step: String, CaseIterable, Sendable {
    /// `sriov_numvfs` set to 0 (only when it was > 0).
    case zeroSriovNumVFs = "sriov_numvfs"
    /// The original driver unbound (only when one other than vfio-pci was bound).
    case unbindDriver = "unbind"
    /// `driver_override` set to vfio-pci.
    case setDriverOverride = "driver_override"
    /// Probed (bound) to vfio-pci.
    case bindVFIO = "vfio-pci"
  }

  /// What a device looked like before setup, and which steps setup has begun.
  public struct Record: Equatable, Sendable {
    public var address: PCIAddress
    public var driver: String?
    public var driverOverride: String?
    public var sriovNumVFs: Int?
    /// The steps begun, in order; nil for a journal from before step-wise journaling (then
    /// every step is undone).
    public var steps: [Step]?

    public init(address: PCIAddress, driver: String?, driverOverride: String?, sriovNumVFs: Int?, steps: [Step]? = nil) {
      self.address = address
      self.driver = driver
      self.driverOverride = driverOverride
      self.sriovNumVFs = sriovNumVFs
      self.steps = steps
    }

    /// Whether cleanup must undo `step`.
    public func begun(_ step: Step) -> Bool { steps.map { $0.contains(step) } ?? true }

    /// Whether setup got as far as binding vfio-pci.
    public var isComplete: Bool { begun(.bindVFIO) }

    func serialized() -> String {
      var s = "address=\(address)\ndriver=\(driver ?? "")\ndriver_override=\(driverOverride ?? "")\nsriov_numvfs=\(sriovNumVFs.map(String.init) ?? "")\n"
      if let steps { s += "steps=\(steps.map(\.rawValue).joined(separator: ","))\n" }
      return s
    }

    static func parse(_ text: String) -> Record? {
      var fields: [String: String] = [:]
      for line in text.split(separator: "\n") {
        guard let eq = line.firstIndex(of: "=") else { continue }
        fields[String(line[..<eq])] = String(line[line.index(after: eq)...])
      }
      guard let a = fields["address"].flatMap(PCIAddress.init) else { return nil }
      func opt(_ k: String) -> String? { fields[k].flatMap { $0.isEmpty ? nil : $0 } }
      // No `steps`, or a step this code does not know: not ours to interpret; undo everything.
      let steps = fields["steps"].flatMap { list -> [Step]? in
        let parsed = list.split(separator: ",").map { Step(rawValue: String($0)) }
        return parsed.contains(nil) ? nil : parsed.compactMap { $0 }
      }
      return Record(address: a, driver: opt("driver"), driverOverride: opt("driver_override"), sriovNumVFs: opt("sriov_numvfs").flatMap { Int($0) }, steps: steps)
    }
  }

  public enum Outcome: Equatable, Sendable {
    case boundToVFIO(previousDriver: String?)
    case alreadySetUp
  }

  public let sysfs: PCISysfs
  /// Where journals live: survives the test process, not a reboot.
  public let journalDirectory: String
  /// Called at each named point of setup and cleanup (`setup:journaled`, `setup:unbound`,
  /// `setup:override-set`, `setup:bound`, `cleanup:unbound`, `cleanup:override-restored`): the
  /// command line stops itself there for fault injection (VFIO_SELFTESTS_STOP_AT), so a test can
  /// kill it at an exact step.
  public var checkpoint: @Sendable (String) -> Void = { _ in }

  /// The checkpoint names, in the order setup and cleanup reach them.
  public static let checkpoints = ["setup:journaled", "setup:unbound", "setup:override-set", "setup:bound",
                                   "cleanup:unbound", "cleanup:override-restored"]

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
  /// current driver, sets `driver_override` to vfio-pci and probes. The journal is written
  /// before the first change and rewritten before each next one. A device with a complete
  /// journal is `.alreadySetUp`; one with an interrupted setup's journal is set up from where
  /// it stopped, keeping the original state the journal remembers.
  public func setUp(_ a: PCIAddress) throws(VFIOError) -> Outcome {
    try sysfs.requireDevice(a)
    var rec: Record
    if let old = record(for: a) {
      if old.isComplete, try sysfs.driver(a) == "vfio-pci" { return .alreadySetUp }
      rec = old
    } else {
      rec = Record(address: a, driver: try sysfs.driver(a), driverOverride: try sysfs.driverOverride(a), sriovNumVFs: try sysfs.sriovNumVFs(a), steps: [])
      try writeJournal(rec)
      checkpoint("setup:journaled")
    }
    func begin(_ step: Step) throws(VFIOError) {
      // A journal from before step-wise journaling already means "undo every step".
      guard let steps = rec.steps, !steps.contains(step) else { return }
      rec.steps = steps + [step]
      try writeJournal(rec)
    }
    if let n = rec.sriovNumVFs, n > 0 {
      try begin(.zeroSriovNumVFs)
      if try sysfs.sriovNumVFs(a) != 0 { try sysfs.setSriovNumVFs(a, 0) }
    }
    if let d = try sysfs.driver(a), d != "vfio-pci" {
      try begin(.unbindDriver)
      try sysfs.unbind(a)
      checkpoint("setup:unbound")
    }
    try begin(.setDriverOverride)
    try sysfs.setDriverOverride(a, "vfio-pci")
    checkpoint("setup:override-set")
    try begin(.bindVFIO)
    if try sysfs.driver(a) != "vfio-pci" {
      try sysfs.probe(a)
    }
    checkpoint("setup:bound")
    let now = try sysfs.driver(a)
    guard now == "vfio-pci" else {
      throw .unexpected(operation: "bind to vfio-pci", device: a.description, detail: "bound to \(now ?? "no driver") after probe (is vfio-pci loaded?)")
    }
    return .boundToVFIO(previousDriver: rec.driver)
  }

  /// Before a run: the device is bound to vfio-pci and no other process has it open (its VFIO
  /// group opens; the group is exclusive, so EBUSY means another holder). Opens nothing else and
  /// changes nothing. `busyIsExpected`: after a Live Update kexec a preserved device refuses
  /// other opens until the kexec suite retrieves it, so only the binding is checked.
  public func checkReadyForTests(_ a: PCIAddress, busyIsExpected: Bool = false) throws(VFIOError) {
    try sysfs.requireDevice(a)
    let driver = try sysfs.driver(a)
    guard driver == "vfio-pci" else {
      throw .unexpected(operation: "run", device: a.description,
                        detail: "bound to \(driver ?? "no driver"), not vfio-pci (vfio-selftests setup \(a))")
    }
    let path = try sysfs.vfioGroupPath(a)
    switch openFile(path, .readWrite) {
    case .success(let fd): try? fd.close()
    case .failure(let e) where e == .resourceBusy:
      if busyIsExpected { return }
      throw .unexpected(operation: "run", device: a.description, detail: "\(path) is busy (EBUSY): another process has the device open")
    case .failure(let e):
      throw .syscall(operation: "open(\(path))", device: a.description, errno: e)
    }
  }

  /// Undoes `setUp` from the journal, the steps begun in reverse (unbind vfio-pci, restore
  /// `driver_override`, rebind the original driver, restore `sriov_numvfs`); a no-op (returns
  /// nil) when there is no journal. The journal is removed only once the device is back as it
  /// was (or gone); otherwise this throws and keeps it, so cleanup can be run again.
  @discardableResult
  public func cleanUp(_ a: PCIAddress) throws(VFIOError) -> Record? {
    guard let rec = record(for: a) else { return nil }
    if sysfs.exists(a) {
      if rec.begun(.bindVFIO), try sysfs.driver(a) == "vfio-pci", rec.driver != "vfio-pci" {
        try sysfs.unbind(a)
        checkpoint("cleanup:unbound")
      }
      if rec.begun(.setDriverOverride) {
        try sysfs.setDriverOverride(a, rec.driverOverride)
        checkpoint("cleanup:override-restored")
      }
      if rec.begun(.unbindDriver) || rec.begun(.bindVFIO), let d = rec.driver, try sysfs.driver(a) == nil {
        // Probe honours the restored override; fall back to the driver's bind file.
        try sysfs.probe(a)
        if try sysfs.driver(a) == nil { try sysfs.bind(a, to: d) }
      }
      if rec.begun(.zeroSriovNumVFs), let n = rec.sriovNumVFs, n > 0, try sysfs.sriovNumVFs(a) != n { try sysfs.setSriovNumVFs(a, n) }
      let driver = try sysfs.driver(a)
      if let d = rec.driver, driver != d {
        throw .unexpected(operation: "restore driver \(d)", device: a.description,
                          detail: "bound to \(driver ?? "no driver") after rebind; journal kept in \(journalPath(a))")
      }
    }
    _ = FileSystem.remove(journalPath(a))
    return rec
  }

  private func writeJournal(_ rec: Record) throws(VFIOError) {
    try FileSystem.makeDirectories(journalDirectory).get("mkdir(\(journalDirectory))", device: rec.address.description)
    let tmp = journalPath(rec.address) + ".tmp"
    try FileSystem.create(tmp, rec.serialized()).get("write(\(tmp))", device: rec.address.description)
    try FileSystem.rename(tmp, journalPath(rec.address)).get("rename(\(tmp))", device: rec.address.description)
  }
}

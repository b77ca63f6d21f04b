// SPDX-License-Identifier: GPL-2.0-only
// VFIO_SELFTESTS_MIGRATION_BDFS naming a device that is not an Xe VF on xe-vfio-pci: the PCI
// half of vfio_migration_test as far as it goes without one. Each case takes a real device of
// this machine (the guest's virtio-net, a device on another driver, a PF without SR-IOV, an
// SR-IOV PF, an address with nothing there) and checks that XeVFCheck refuses it naming the
// device and what it lacks, and that no device's driver or driver_override changed; then
// `vfio-selftests run` given all of them at once refuses each in exactly that one line before
// it starts anything.
import Foundation
import LibVFIO
import SystemPackage
import Testing

enum MigrationPCIRefusalTest {
  struct Binding: Equatable, CustomStringConvertible {
    var driver: String?
    var driverOverride: String?
    var description: String { "driver \(driver ?? "none"), driver_override \(driverOverride ?? "none")" }
  }

  static let sysfs = PCISysfs()

  static func allDevices() -> [PCIAddress] {
    guard case .success(let names) = FileSystem.list("\(sysfs.paths.pciBus)/devices") else { return [] }
    return names.compactMap(PCIAddress.init).sorted { $0.description < $1.description }
  }

  /// Every PCI device's driver and driver_override.
  static func bindings() -> [PCIAddress: Binding] {
    var out: [PCIAddress: Binding] = [:]
    for a in allDevices() {
      out[a] = Binding(driver: (try? sysfs.driver(a)) ?? nil, driverOverride: (try? sysfs.driverOverride(a)) ?? nil)
    }
    return out
  }

  /// The devices the run was given (VFIO_SELFTESTS_BDFS, else VFIO_SELFTESTS_BDF), first.
  static func candidates() -> [PCIAddress] {
    var named: [PCIAddress] = []
    if case .devices(let d) = HardwareEnvironment.devices() { named = d }
    return named.filter(sysfs.exists) + allDevices().filter { !named.contains($0) }
  }

  static func isVirtioNet(_ a: PCIAddress) -> Bool {
    (try? sysfs.vendorID(a)) == 0x1af4 && [0x1000, 0x1041].contains((try? sysfs.deviceID(a)) ?? 0)
  }

  static func isBridge(_ a: PCIAddress) -> Bool { ((try? sysfs.pciClass(a)) ?? 0) >> 16 == 0x06 }

  static func isVF(_ a: PCIAddress) -> Bool { ((try? sysfs.physicalFunction(a)) ?? nil) != nil }

  static func totalVFs(_ a: PCIAddress) -> Int? { (try? sysfs.sriovTotalVFs(a)) ?? nil }

  /// `a` is refused by XeVFCheck with `expected` among what it lacks, in one line naming it;
  /// no device was rebound.
  @discardableResult
  static func expectRefused(_ a: PCIAddress, lacking expected: [XeVFRefusal.Lack], sourceLocation: SourceLocation = #_sourceLocation) throws -> XeVFRefusal {
    let before = bindings()
    let check = XeVFCheck(modules: try? KernelModules())
    let refusal = try #require(check.refusal(a), "\(a) was not refused", sourceLocation: sourceLocation)
    print(refusal.description)
    for lack in expected {
      #expect(refusal.lacks.contains(lack), "\(a): lacks \(refusal.lacks), expected \(lack) among them", sourceLocation: sourceLocation)
    }
    #expect(refusal.description.hasPrefix("VFIO_SELFTESTS_MIGRATION_BDFS: "), sourceLocation: sourceLocation)
    #expect(refusal.description.contains(a.description), sourceLocation: sourceLocation)
    #expect(!refusal.description.contains("\n"), sourceLocation: sourceLocation)
    expectNothingRebound(since: before, sourceLocation: sourceLocation)
    return refusal
  }

  static func expectNothingRebound(since before: [PCIAddress: Binding], sourceLocation: SourceLocation = #_sourceLocation) {
    let after = bindings()
    for (device, was) in before where after[device] != was {
      Issue.record("\(device) changed: \(was) -> \(after[device].map(\.description) ?? "gone")", sourceLocation: sourceLocation)
    }
  }

  // MARK: the cases' devices

  static func virtioNet() -> PCIAddress? { candidates().first(where: isVirtioNet) }

  /// A device on a driver of its own (not vfio-pci, not a bridge's), an Intel one first: the
  /// closest to an Xe VF that is not one.
  static func onOtherDriver() -> PCIAddress? {
    let devices = candidates().filter { a in
      let d = (try? sysfs.driver(a)) ?? nil
      return d != nil && d != "vfio-pci" && d != XeVFCheck.driver && !isBridge(a)
    }
    return devices.first(where: { (try? sysfs.vendorID($0)) == 0x8086 }) ?? devices.first
  }

  static func pfWithoutSRIOV() -> PCIAddress? {
    candidates().first { !isVirtioNet($0) && !isBridge($0) && !isVF($0) && totalVFs($0) == nil }
  }

  static func sriovPF() -> PCIAddress? { candidates().first { (totalVFs($0) ?? 0) > 0 } }

  static func absent() -> PCIAddress? {
    let present = Set(allDevices())
    return (0..<32).reversed().lazy.compactMap { PCIAddress(String(format: "0000:00:%02x.7", $0)) }.first { !present.contains($0) }
  }

  /// The lack a device not matching xe-vfio-pci's table shows (or, on a kernel without the
  /// module, that one).
  static func notXeLack(_ a: PCIAddress) throws -> XeVFRefusal.Lack {
    let modules = try KernelModules()
    if modules.resolve(XeVFCheck.driver).isEmpty { return .xeVFIOPCIModule(directory: modules.directory) }
    return .xeDevice(ids: String(format: "%04x:%04x", try sysfs.vendorID(a), try sysfs.deviceID(a)))
  }
}

extension Hardware {
  @Suite("vfio_migration_test.pci_refusal", .hangGuard)
  struct MigrationPCIRefusal {
    /// The virtio-net device (vm-test.sh's 0000:00:03.0): not a VF, not an Xe GPU, not on
    /// xe-vfio-pci.
    @Test func virtio_net() throws {
      guard let a = MigrationPCIRefusalTest.virtioNet() else {
        try Test.cancel("no virtio-net device (1af4:1000 or 1af4:1041; vm-test.sh's is 0000:00:03.0)")
      }
      let driver = try MigrationPCIRefusalTest.sysfs.driver(a)
      try MigrationPCIRefusalTest.expectRefused(a, lacking: [.virtualFunction(pfTotalVFs: nil), try MigrationPCIRefusalTest.notXeLack(a), .binding(driver: driver)])
    }

    /// A device bound to a driver of its own (not vfio-pci): the refusal names that driver.
    @Test func other_driver() throws {
      guard let a = MigrationPCIRefusalTest.onOtherDriver() else { try Test.cancel("no device bound to a driver other than vfio-pci") }
      let driver = try MigrationPCIRefusalTest.sysfs.driver(a)
      try MigrationPCIRefusalTest.expectRefused(a, lacking: [try MigrationPCIRefusalTest.notXeLack(a), .binding(driver: driver)])
    }

    /// A PF with no SR-IOV capability (edu with vm-test.sh --device edu): not a VF and cannot
    /// have any.
    @Test func pf_without_sriov() throws {
      guard let a = MigrationPCIRefusalTest.pfWithoutSRIOV() else { try Test.cancel("no PCI function without SR-IOV besides the virtio-net device") }
      try MigrationPCIRefusalTest.expectRefused(a, lacking: [.virtualFunction(pfTotalVFs: nil), try MigrationPCIRefusalTest.notXeLack(a)])
    }

    /// An SR-IOV PF (vm-test.sh --device nvme-sriov or igb): the refusal says to enable VFs
    /// and name one.
    @Test func sriov_pf() throws {
      guard let a = MigrationPCIRefusalTest.sriovPF() else {
        try Test.cancel("no SR-IOV PF (vm-test.sh --device nvme-sriov or --device igb gives one)")
      }
      let n = try #require(MigrationPCIRefusalTest.totalVFs(a))
      try MigrationPCIRefusalTest.expectRefused(a, lacking: [.virtualFunction(pfTotalVFs: n), try MigrationPCIRefusalTest.notXeLack(a)])
    }

    /// An address with no device: only that is said.
    @Test func no_device() throws {
      let a = try #require(MigrationPCIRefusalTest.absent())
      let refusal = try MigrationPCIRefusalTest.expectRefused(a, lacking: [.device])
      #expect(refusal.lacks == [.device])
      #expect(refusal.description == "VFIO_SELFTESTS_MIGRATION_BDFS: no PCI device \(a) (nothing at /sys/bus/pci/devices/\(a))")
    }

    /// `vfio-selftests run` with every one of those devices in the variable: exit 1 before it
    /// starts anything, one error line per device, in the variable's order, and nothing else.
    @Test func run_refuses_each_in_one_line() throws {
      if let missing = SelftestsCLI.missing { try Test.cancel(Comment(rawValue: missing)) }
      let devices = [MigrationPCIRefusalTest.virtioNet(), MigrationPCIRefusalTest.onOtherDriver(), MigrationPCIRefusalTest.pfWithoutSRIOV(),
                     MigrationPCIRefusalTest.sriovPF(), MigrationPCIRefusalTest.absent()].compactMap { $0 }
      let check = XeVFCheck(modules: try? KernelModules())
      let refusals = try devices.map { try #require(check.refusal($0), "\($0) was not refused") }
      let before = MigrationPCIRefusalTest.bindings()
      // /bin/false as the test binary: should the refusal not come, the run ends at once.
      let r = try SelftestsCLI.run(["run", "--test-binary", "/bin/false", "--filter", "^refusal-check$"],
                                   environment: ["VFIO_SELFTESTS_MIGRATION_BDFS": devices.map(\.description).joined(separator: " ")])
      #expect(r.status == 1, "\(r)")
      #expect(r.stderr == refusals.map { "vfio-selftests: error: \($0)\n" }.joined(), "\(r)")
      #expect(r.stdout.isEmpty, "\(r)")
      MigrationPCIRefusalTest.expectNothingRebound(since: before)
    }
  }
}

// SPDX-License-Identifier: GPL-2.0-only
import Glibc
import LibVFIO
import Synchronization
import SystemPackage
import Testing

/// Where the migration suites' devices come from.
enum MigrationDeviceKind: String, Sendable {
  /// Two instances of the in-kernel `mtty` sample (type `mtty-2`), created for each test and
  /// removed after it; the module is loaded with libkmod, and every module that load brought in
  /// (mtty, mdev...) is journaled and unloaded again after the test.
  case mtty
  /// PCI functions given in `VFIO_SELFTESTS_MIGRATION_BDFS` (space or comma separated): Xe
  /// VFs (Battlemage, Panther Lake, Wildcat Lake) bound to xe-vfio-pci, which `XeVFCheck`
  /// checks (docs/xe-vfio-pci.md).
  case pci

  static let mttyParent = "mtty"
  static let mttyType = "mtty-2"
  static let pciEnvironment = SelftestsEnvironment.Variable.migrationBDFS.rawValue
  /// The driver `pci` devices must be bound to (`XeVFCheck` says what else they need).
  static let pciDriver = XeVFCheck.driver

  enum Given { case devices([PCIAddress]), skip(String), invalid(String) }

  static func pciDevices() -> Given {
    do {
      guard let all = try SelftestsEnvironment.current.addresses(.migrationBDFS) else {
        return .skip("\(pciEnvironment) not set (no Battlemage / Panther Lake / Wildcat Lake VF bound to \(pciDriver) given)")
      }
      return .devices(all)
    } catch {
      return .invalid(error.description)
    }
  }
}

extension Tag {
  /// A test whose arguments are `VFIOMigrationTest.pciModesUnderTest()` (type1v2 and iommufd, of
  /// the modes under test). `vfio-selftests` names its cases by mode when Swift Testing lists none.
  @Tag static var pciMigrationModes: Self
}

/// The devices of the running case (set by `MigrationDevices.provide`).
enum MigrationFixture {
  @TaskLocal static var devices: [VFIODeviceID] = []
}

/// One case's migration devices: `require()` cancels the case (a skip, with the reason) unless
/// `kind` devices can be had and opened in `mode` (fails on `pci` devices that are not Xe VFs on
/// xe-vfio-pci, and under `VFIO_SELFTESTS_STRICT` on a mode the kernel lacks); `provide` makes
/// them for the case: for `mtty`, loads the module if needed, creates two `mtty-2` instances, and
/// always removes them (and unloads the modules it loaded) afterwards.
struct MigrationDevices {
  let kind: MigrationDeviceKind
  let mode: IOMMUMode

  func require() throws {
    let host = HostCapabilities()
    switch kind {
    case .mtty:
      let kmod = try? KernelModules()
      let state = kmod?.state(MigrationDeviceKind.mttyParent) ?? .notFound
      if state == .notFound && !FileSystem.isDirectory("\(SystemPaths.system.mdevParents)/\(MigrationDeviceKind.mttyParent)") {
        try Test.cancel("kernel has no mtty module (CONFIG_SAMPLE_VFIO_MDEV_MTTY) in /lib/modules/\(KernelModules.kernelRelease())")
      }
      guard host.isRoot else { try Test.cancel("not root") }
    case .pci:
      let devices: [PCIAddress]
      switch MigrationDeviceKind.pciDevices() {
      case .skip(let reason): try Test.cancel(Comment(rawValue: reason))
      case .invalid(let message): throw RequirementFailure(description: message)
      case .devices(let d): devices = d
      }
      // Devices the user named that are not Xe VFs on xe-vfio-pci are bad input: the test fails
      // with one line per device (`vfio-selftests run` refuses them before it starts), and
      // none of them is opened.
      let check = XeVFCheck(sysfs: host.sysfs, modules: try? KernelModules())
      let refusals = devices.compactMap(check.refusal)
      // Thrown, all in one error: an issue recorded in prepare(for:) is dropped.
      if refusals.count == 1 { throw VFIOError.xeVFRefusal(refusals[0]) }
      if !refusals.isEmpty { throw RequirementFailure(description: refusals.map(\.description).joined(separator: "\n")) }
      guard host.isRoot else { try Test.cancel("not root") }
    }
    try requireMode(mode, host: host)
    if kind == .pci, case .devices(let devices) = MigrationDeviceKind.pciDevices(), let first = devices.first {
      // A device without migration skips, saying so.
      try withDevice(mode, .pci(first)) { device in
        if case .failure(let e) = device.migrationFlagsResult() {
          try Test.cancel(Comment(rawValue: "\(first) does not support migration (VFIO_DEVICE_FEATURE_MIGRATION: \(Errno.name(of: e)))"))
        }
      }
    }
  }

  func provide(_ function: @Sendable () async throws -> Void) async throws {
    switch kind {
    case .pci:
      guard case .devices(let devices) = MigrationDeviceKind.pciDevices() else { return try await function() }
      try await MigrationFixture.$devices.withValue(devices.map { VFIODeviceID.pci($0) }) { try await function() }
    case .mtty:
      // The modules (mtty and what it needs: mdev...) and the mdevs are journaled before they
      // are made, so `vfio-selftests cleanup` removes them after a killed run.
      let modules = JournaledModules(modules: try KernelModules())
      let journal = modules.journal
      let loaded = try modules.load(MigrationDeviceKind.mttyParent)
      let mdev = MdevSysfs()
      var created: [String] = []
      defer {
        for uuid in created {
          do { try mdev.remove(uuid: uuid); journal.forget(.mdev, uuid) } catch { Issue.record(Comment(rawValue: "cleanup: \(error)")) }
        }
        for (m, result) in modules.unload(loaded.brought) where !result.isGone {
          Issue.record(Comment(rawValue: "cleanup: module \(m): \(result)"))
        }
      }
      for _ in 0..<2 {
        let uuid = try MdevSysfs.newUUID()
        try journal.record(.mdev, uuid, "\(MigrationDeviceKind.mttyParent) \(MigrationDeviceKind.mttyType)")
        created.append(uuid)
        try mdev.create(parent: MigrationDeviceKind.mttyParent, type: MigrationDeviceKind.mttyType, uuid: uuid)
      }
      print("mtty: created \(created.joined(separator: ", ")) (\(MigrationDeviceKind.mttyType)); module \(loaded.outcome.rawValue)"
            + (loaded.brought.isEmpty ? "" : " (loaded \(loaded.brought.joined(separator: ", ")), journaled)"))
      try await MigrationFixture.$devices.withValue(created.map { VFIODeviceID.mdev(uuid: $0) }) { try await function() }
    }
  }
}

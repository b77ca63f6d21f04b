// SPDX-License-Identifier: GPL-2.0-only
import Foundation
@testable import LibVFIO
import Testing

@Suite("DeviceSetup (setup.sh / cleanup.sh) against a fixture sysfs")
struct DeviceSetupTests {
  let f: SysfsFixture
  let setup: DeviceSetup

  init() throws {
    f = try SysfsFixture()
    setup = DeviceSetup(sysfs: f.sysfs, journalDirectory: f.journal)
  }

  func writeJournal(_ a: PCIAddress, _ text: String) throws {
    try f.mkdir(f.journal)
    try f.write("\(f.journal)/\(a)", text)
  }

  // MARK: no journal

  @Test func cleanUpWithoutJournalReturnsNilAndTouchesNothing() throws {
    try f.setDriverLink(SysfsFixture.virtio, "vfio-pci")
    let before = try f.snapshot()
    #expect(try setup.cleanUp(SysfsFixture.virtio) == nil)
    #expect(try setup.cleanUp(SysfsFixture.pf) == nil)
    #expect(try setup.cleanUp(SysfsFixture.missing) == nil)
    #expect(try f.snapshot() == before)
    #expect(!f.exists(f.journal))
    #expect(setup.record(for: SysfsFixture.virtio) == nil)
    #expect(setup.journaledDevices() == [])
  }

  @Test func setUpOfAMissingDeviceThrowsAndWritesNoJournal() throws {
    let before = try f.snapshot()
    #expect(throws: VFIOError.noSuchDevice("0000:00:09.0")) { try setup.setUp(SysfsFixture.missing) }
    #expect(try f.snapshot() == before)
  }

  // MARK: journal format

  @Test func recordSerializationRoundTrips() throws {
    let recs = [
      DeviceSetup.Record(address: SysfsFixture.virtio, driver: "virtio-pci", driverOverride: nil, sriovNumVFs: nil),
      DeviceSetup.Record(address: SysfsFixture.pf, driver: nil, driverOverride: "ixgbe", sriovNumVFs: 4),
      DeviceSetup.Record(address: SysfsFixture.vf, driver: "vfio-pci", driverOverride: "vfio-pci", sriovNumVFs: 0),
    ]
    #expect(recs[0].serialized() == "address=0000:00:03.0\ndriver=virtio-pci\ndriver_override=\nsriov_numvfs=\n")
    #expect(recs[1].serialized() == "address=0000:01:00.0\ndriver=\ndriver_override=ixgbe\nsriov_numvfs=4\n")
    for r in recs {
      #expect(DeviceSetup.Record.parse(r.serialized()) == r)
      try writeJournal(r.address, r.serialized())
      #expect(setup.record(for: r.address) == r)
    }
    #expect(setup.journaledDevices() == [SysfsFixture.virtio, SysfsFixture.pf, SysfsFixture.vf])
  }

  @Test func journalWithoutAValidAddressIsNoRecord() throws {
    try writeJournal(SysfsFixture.virtio, "driver=virtio-pci\n")
    #expect(setup.record(for: SysfsFixture.virtio) == nil)
    try writeJournal(SysfsFixture.virtio, "address=00:20.0\n")
    #expect(setup.record(for: SysfsFixture.virtio) == nil)
  }

  @Test func journaledDevicesIgnoresTemporariesAndJunk() throws {
    try writeJournal(SysfsFixture.pf, "address=0000:01:00.0\n")
    try f.write("\(f.journal)/0000:00:03.0.tmp", "address=0000:00:03.0\n")
    try f.write("\(f.journal)/README", "")
    try f.mkdir("\(f.journal)/lost+found")
    #expect(setup.journaledDevices() == [SysfsFixture.pf])
  }

  @Test func alreadyJournaledDeviceIsNotTouchedAgain() throws {
    try f.setDriverLink(SysfsFixture.virtio, "vfio-pci")
    try writeJournal(SysfsFixture.virtio, "address=0000:00:03.0\ndriver=virtio-pci\ndriver_override=\nsriov_numvfs=\n")
    let before = try f.snapshot()
    #expect(try setup.setUp(SysfsFixture.virtio) == .alreadySetUp)
    #expect(try f.snapshot() == before)
  }

  // MARK: cleanUp from a journal

  @Test func cleanUpUnbindsFromVFIOAndClearsTheOverride() throws {
    let a = SysfsFixture.virtio
    try f.setDriverLink(a, "vfio-pci")
    try f.write(f.attributePath(a, "driver_override"), "")
    try writeJournal(a, "address=0000:00:03.0\ndriver=virtio-pci\ndriver_override=\nsriov_numvfs=\n")
    // The fixture's driver link still says vfio-pci after the unbind write, so neither probe nor
    // bind is attempted, the device is not restored, and the journal is kept.
    #expect(throws: VFIOError.unexpected(operation: "restore driver virtio-pci", device: "0000:00:03.0",
                                         detail: "bound to vfio-pci after rebind; journal kept in \(f.journal)/0000:00:03.0")) {
      try setup.cleanUp(a)
    }
    #expect(try f.read("\(f.pciBus)/drivers/vfio-pci/unbind") == "0000:00:03.0")
    #expect(try f.read(f.attributePath(a, "driver_override")) == "\n")
    #expect(try f.read("\(f.pciBus)/drivers_probe") == "")
    #expect(try f.read("\(f.pciBus)/drivers/virtio-pci/bind") == "")
    #expect(f.exists("\(f.journal)/0000:00:03.0"))
    // Once the kernel has the original driver back, cleanup completes and drops the journal.
    try f.setDriverLink(a, "virtio-pci")
    let rec = try setup.cleanUp(a)
    #expect(rec == DeviceSetup.Record(address: a, driver: "virtio-pci", driverOverride: nil, sriovNumVFs: nil))
    #expect(!f.exists("\(f.journal)/0000:00:03.0"))
    #expect(setup.journaledDevices() == [])
    #expect(try setup.cleanUp(a) == nil)
  }

  @Test func cleanUpProbesThenBindsTheOriginalDriver() throws {
    let a = SysfsFixture.virtio
    try f.setDriverLink(a, nil)
    try f.write(f.attributePath(a, "driver_override"), "")
    try writeJournal(a, "address=0000:00:03.0\ndriver=virtio-pci\ndriver_override=virtio-pci\nsriov_numvfs=\n")
    #expect(throws: VFIOError.unexpected(operation: "restore driver virtio-pci", device: "0000:00:03.0",
                                         detail: "bound to no driver after rebind; journal kept in \(f.journal)/0000:00:03.0")) {
      try setup.cleanUp(a)
    }
    #expect(try f.read(f.attributePath(a, "driver_override")) == "virtio-pci")
    #expect(try f.read("\(f.pciBus)/drivers/vfio-pci/unbind") == "")
    #expect(try f.read("\(f.pciBus)/drivers_probe") == "0000:00:03.0")
    #expect(try f.read("\(f.pciBus)/drivers/virtio-pci/bind") == "0000:00:03.0")
    #expect(setup.record(for: a) != nil)
    try f.setDriverLink(a, "virtio-pci")
    _ = try setup.cleanUp(a)
    #expect(setup.record(for: a) == nil)
  }

  @Test func cleanUpRestoresSriovNumVFs() throws {
    let a = SysfsFixture.pf
    try f.write(f.attributePath(a, "sriov_numvfs"), "0")
    try writeJournal(a, "address=0000:01:00.0\ndriver=\ndriver_override=\nsriov_numvfs=1\n")
    #expect(try setup.cleanUp(a) == DeviceSetup.Record(address: a, driver: nil, driverOverride: nil, sriovNumVFs: 1))
    #expect(try f.read(f.attributePath(a, "sriov_numvfs")) == "1")
    // No original driver: no probe, no bind.
    #expect(try f.read("\(f.pciBus)/drivers_probe") == "")
    #expect(setup.journaledDevices() == [])
  }

  @Test func cleanUpOfAVanishedDeviceOnlyDropsTheJournal() throws {
    try writeJournal(SysfsFixture.missing, "address=0000:00:09.0\ndriver=e1000e\ndriver_override=\nsriov_numvfs=2\n")
    let before = try f.snapshot().filter { !$0.key.hasPrefix("journal") }
    #expect(try setup.cleanUp(SysfsFixture.missing) == DeviceSetup.Record(address: SysfsFixture.missing, driver: "e1000e", driverOverride: nil, sriovNumVFs: 2))
    #expect(try f.snapshot().filter { !$0.key.hasPrefix("journal") } == before)
    #expect(setup.journaledDevices() == [])
  }

  // MARK: setUp (exit tests: a crash in setUp must not take the whole test process down)

  /// setUp on the fixture gets as far as the final "bound to vfio-pci" check (fixture writes do
  /// not rebind), having written the journal first, then cleanUp puts it back.
  @Test func setUpJournalsBeforeFailingTheBindCheck() async {
    await #expect(processExitsWith: .success) {
      let f = try SysfsFixture()
      let setup = DeviceSetup(sysfs: f.sysfs, journalDirectory: f.journal + "/nested/dir")
      let a = SysfsFixture.virtio
      do throws(VFIOError) {
        let outcome = try setup.setUp(a)
        childFail("setUp returned \(outcome)")
      } catch {
        childCheck(error == .unexpected(operation: "bind to vfio-pci", device: "0000:00:03.0",
                                        detail: "bound to virtio-pci after probe (is vfio-pci loaded?)"), "setUp threw \(error)")
      }
      childCheck(setup.record(for: a) == DeviceSetup.Record(address: a, driver: "virtio-pci", driverOverride: nil, sriovNumVFs: nil,
                                                            steps: [.unbindDriver, .setDriverOverride, .bindVFIO]),
                 "journal record \(String(describing: setup.record(for: a)))")
      childCheck(try f.read(f.journal + "/nested/dir/0000:00:03.0") == "address=0000:00:03.0\ndriver=virtio-pci\ndriver_override=\nsriov_numvfs=\nsteps=unbind,driver_override,vfio-pci\n",
                 "journal text")
      childCheck(setup.journaledDevices() == [a], "journaledDevices \(setup.journaledDevices())")
      childCheck(try FileManager.default.contentsOfDirectory(atPath: f.journal + "/nested/dir") == ["0000:00:03.0"], "leftover .tmp")
      childCheck(try f.read("\(f.pciBus)/drivers/virtio-pci/unbind") == "0000:00:03.0", "unbind")
      childCheck(try f.read(f.attributePath(a, "driver_override")) == "vfio-pci", "driver_override")
      childCheck(try f.read("\(f.pciBus)/drivers_probe") == "0000:00:03.0", "drivers_probe")
      // The kernel would have bound vfio-pci: then a second setUp is a no-op.
      try f.setDriverLink(a, "vfio-pci")
      childCheck(try setup.setUp(a) == .alreadySetUp, "second setUp")
      try f.setDriverLink(a, "virtio-pci")  // ... and cleanup's rebind the original driver.
      childCheck(try setup.cleanUp(a) == DeviceSetup.Record(address: a, driver: "virtio-pci", driverOverride: nil, sriovNumVFs: nil,
                                                            steps: [.unbindDriver, .setDriverOverride, .bindVFIO]), "cleanUp")
      childCheck(setup.journaledDevices() == [], "journal left after cleanUp")
    }
  }

  @Test func setUpZeroesSriovNumVFsAfterJournalingIt() async {
    await #expect(processExitsWith: .success) {
      let f = try SysfsFixture()
      let setup = DeviceSetup(sysfs: f.sysfs, journalDirectory: f.journal)
      let a = SysfsFixture.pf
      do throws(VFIOError) {
        let outcome = try setup.setUp(a)
        childFail("setUp returned \(outcome)")
      } catch {
        childCheck(error == .unexpected(operation: "bind to vfio-pci", device: "0000:01:00.0",
                                        detail: "bound to no driver after probe (is vfio-pci loaded?)"), "setUp threw \(error)")
      }
      childCheck(setup.record(for: a) == DeviceSetup.Record(address: a, driver: nil, driverOverride: nil, sriovNumVFs: 1,
                                                            steps: [.zeroSriovNumVFs, .setDriverOverride, .bindVFIO]),
                 "journal record \(String(describing: setup.record(for: a)))")
      childCheck(try f.read(f.attributePath(a, "sriov_numvfs")) == "0\n", "sriov_numvfs after setUp")  // "0" over "1\n"
      childCheck(try f.read("\(f.pciBus)/drivers/virtio-pci/unbind") == "", "unbind without a driver")
      childCheck(try f.read("\(f.pciBus)/drivers_probe") == "0000:01:00.0", "drivers_probe")
      _ = try setup.cleanUp(a)
      childCheck(try f.read(f.attributePath(a, "sriov_numvfs")) == "1\n", "sriov_numvfs after cleanUp")
    }
  }

  @Test func setUpOfADeviceAlreadyOnVFIOSucceeds() async {
    await #expect(processExitsWith: .success) {
      let f = try SysfsFixture()
      let setup = DeviceSetup(sysfs: f.sysfs, journalDirectory: f.journal)
      let a = SysfsFixture.virtio
      try f.setDriverLink(a, "vfio-pci")
      childCheck(try setup.setUp(a) == .boundToVFIO(previousDriver: "vfio-pci"), "outcome")
      childCheck(try f.read("\(f.pciBus)/drivers/vfio-pci/unbind") == "", "must not unbind vfio-pci")
      childCheck(try f.read("\(f.pciBus)/drivers_probe") == "", "must not probe")
      childCheck(setup.record(for: a)?.driver == "vfio-pci", "journal")
    }
  }
  // MARK: step-wise journal

  @Test func stepsRoundTripAndLegacyJournalsUndoEverything() throws {
    let r = DeviceSetup.Record(address: SysfsFixture.pf, driver: "ixgbe", driverOverride: nil, sriovNumVFs: 2, steps: [.zeroSriovNumVFs, .unbindDriver])
    #expect(r.serialized() == "address=0000:01:00.0\ndriver=ixgbe\ndriver_override=\nsriov_numvfs=2\nsteps=sriov_numvfs,unbind\n")
    #expect(DeviceSetup.Record.parse(r.serialized()) == r)
    #expect(r.begun(.unbindDriver) && !r.begun(.setDriverOverride) && !r.isComplete)
    let none = DeviceSetup.Record.parse("address=0000:01:00.0\ndriver=ixgbe\nsteps=\n")
    #expect(none?.steps == [])
    #expect(none.map { r in DeviceSetup.Step.allCases.allSatisfy { !r.begun($0) } } == true)
    let legacy = DeviceSetup.Record.parse("address=0000:01:00.0\ndriver=ixgbe\n")
    #expect(legacy?.steps == nil)
    #expect(legacy.map { r in DeviceSetup.Step.allCases.allSatisfy { r.begun($0) } } == true)
    // A step this version does not know: undo everything rather than guess.
    #expect(DeviceSetup.Record.parse("address=0000:01:00.0\nsteps=unbind,frobnicate\n")?.steps == nil)
  }

  /// A setup that stops at a step (here the unbind write fails) leaves a journal naming that
  /// step; cleanup undoes only what was begun and, the device being as it was, drops the journal.
  @Test func setUpInterruptedAtUnbindIsUndoneFromItsJournal() async {
    await #expect(processExitsWith: .success) {
      let f = try SysfsFixture()
      let setup = DeviceSetup(sysfs: f.sysfs, journalDirectory: f.journal)
      let a = SysfsFixture.virtio
      try FileManager.default.removeItem(atPath: "\(f.pciBus)/drivers/virtio-pci/unbind")
      do throws(VFIOError) {
        let outcome = try setup.setUp(a)
        childFail("setUp returned \(outcome)")
      } catch {
        childCheck(error.errno == .noSuchFileOrDirectory, "setUp threw \(error)")
      }
      childCheck(setup.record(for: a)?.steps == [.unbindDriver], "journal steps \(String(describing: setup.record(for: a)))")
      childCheck(try f.read(f.attributePath(a, "driver_override")) == "(null)\n", "override touched before its step")
      let before = try f.snapshot().filter { !$0.key.hasPrefix("journal") }
      childCheck(try setup.cleanUp(a)?.steps == [.unbindDriver], "cleanUp")
      childCheck(try f.snapshot().filter { !$0.key.hasPrefix("journal") } == before, "cleanup touched what setup had not")
      childCheck(setup.journaledDevices() == [], "journal kept")
    }
  }

  /// A journal with the original state and no step yet (setup killed right after writing it):
  /// a new setUp resumes with the journaled original state, not the current one.
  @Test func setUpResumesAnInterruptedJournal() async {
    await #expect(processExitsWith: .success) {
      let f = try SysfsFixture()
      let setup = DeviceSetup(sysfs: f.sysfs, journalDirectory: f.journal)
      let a = SysfsFixture.virtio
      try f.mkdir(f.journal)
      try f.write("\(f.journal)/\(a)", "address=0000:00:03.0\ndriver=virtio-pci\ndriver_override=nvme\nsriov_numvfs=\nsteps=\n")
      do throws(VFIOError) {
        _ = try setup.setUp(a)
        childFail("setUp succeeded on a fixture")
      } catch {}
      childCheck(setup.record(for: a) == DeviceSetup.Record(address: a, driver: "virtio-pci", driverOverride: "nvme", sriovNumVFs: nil,
                                                            steps: [.unbindDriver, .setDriverOverride, .bindVFIO]), "resumed journal")
    }
  }
}

/// In an exit test's child process: report on stderr and exit non-zero unless `ok`.
func childCheck(_ ok: @autoclosure () throws -> Bool, _ what: @autoclosure () -> String) {
  let passed = (try? ok()) ?? false
  if !passed { childFail(what()) }
}

func childFail(_ what: String) -> Never {
  FileHandle.standardError.write(Data("check failed: \(what)\n".utf8))
  exit(1)
}

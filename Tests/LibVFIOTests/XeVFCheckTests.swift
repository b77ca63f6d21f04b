// SPDX-License-Identifier: GPL-2.0-only
import Foundation
import LibVFIO
import Testing

/// XeVFCheck on a fixture tree (the refusals on real devices are the guest's
/// `vfio_migration_test.pci_refusal`): each lack found from sysfs alone, and the one line.
@Suite("XeVFCheck: what a VFIO_SELFTESTS_MIGRATION_BDFS device lacks")
struct XeVFCheckTests {
  /// The fixture's VF made an Xe VF on xe-vfio-pci: `physfn` to the PF, the driver bound.
  func xeVF(_ f: SysfsFixture, bound: Bool) throws {
    try f.symlink(f.attributePath(SysfsFixture.vf, "physfn"), to: "../\(SysfsFixture.pf)")
    try f.mkdir("\(f.pciBus)/drivers/xe-vfio-pci")
    if bound { try f.symlink(f.attributePath(SysfsFixture.vf, "driver"), to: "../../drivers/xe-vfio-pci") }
  }

  @Test func aDeviceThatIsNotAVFOnAnotherDriver() throws {
    let f = try SysfsFixture()
    let r = try #require(XeVFCheck(sysfs: f.sysfs, modules: nil).refusal(SysfsFixture.virtio))
    #expect(r.lacks == [.virtualFunction(pfTotalVFs: nil), .binding(driver: "virtio-pci")])
    #expect(r.description == "VFIO_SELFTESTS_MIGRATION_BDFS: 0000:00:03.0 (1af4:1000, bound to virtio-pci) is not an Xe VF on xe-vfio-pci: "
      + "not an SR-IOV VF (no physfn) and no SR-IOV PF either (no sriov_totalvfs); bound to virtio-pci, not xe-vfio-pci")
  }

  @Test func anSRIOVPFSaysToEnableVFs() throws {
    let f = try SysfsFixture()
    let r = try #require(XeVFCheck(sysfs: f.sysfs, modules: nil).refusal(SysfsFixture.pf))
    #expect(r.lacks == [.virtualFunction(pfTotalVFs: 2), .binding(driver: nil)])
    #expect(r.description == "VFIO_SELFTESTS_MIGRATION_BDFS: 0000:01:00.0 (8086:1572, bound to no driver) is not an Xe VF on xe-vfio-pci: "
      + "an SR-IOV PF (sriov_totalvfs 2), not a VF: enable VFs (sriov_numvfs) and name one; bound to no driver, not xe-vfio-pci")
  }

  @Test func aVFNotBoundToXeVFIOPCI() throws {
    let f = try SysfsFixture()
    try xeVF(f, bound: false)
    #expect(try f.sysfs.physicalFunction(SysfsFixture.vf) == SysfsFixture.pf)
    #expect(try f.sysfs.physicalFunction(SysfsFixture.pf) == nil)
    let r = try #require(XeVFCheck(sysfs: f.sysfs, modules: nil).refusal(SysfsFixture.vf))
    #expect(r.lacks == [.binding(driver: nil)])
  }

  @Test func aVFBoundToXeVFIOPCIPasses() throws {
    let f = try SysfsFixture()
    try xeVF(f, bound: true)
    #expect(XeVFCheck(sysfs: f.sysfs, modules: nil).refusal(SysfsFixture.vf) == nil)
  }

  /// With a module index that has no xe-vfio-pci, the device table cannot match: said once.
  @Test func aKernelWithoutTheModule() throws {
    let f = try SysfsFixture()
    try xeVF(f, bound: true)
    let dir = f.root + "/modules"
    try f.mkdir(dir)
    let r = try #require(XeVFCheck(sysfs: f.sysfs, modules: try KernelModules(directory: dir)).refusal(SysfsFixture.vf))
    #expect(r.lacks == [.xeVFIOPCIModule(directory: dir)])
    #expect(r.description.hasSuffix("is not an Xe VF on xe-vfio-pci: this kernel has no xe-vfio-pci module in \(dir) (CONFIG_XE_VFIO_PCI)"))
  }

  @Test func anAddressWithNoDevice() throws {
    let f = try SysfsFixture()
    let r = try #require(XeVFCheck(sysfs: f.sysfs, modules: nil).refusal(SysfsFixture.missing))
    #expect(r.lacks == [.device])
    #expect(r.description == "VFIO_SELFTESTS_MIGRATION_BDFS: no PCI device 0000:00:09.0 (nothing at /sys/bus/pci/devices/0000:00:09.0)")
  }

  @Test func theOtherLacksRead() {
    #expect(XeVFRefusal.Lack.xeDevice(ids: "8086:2922").description
      == "8086:2922 is not a GPU xe-vfio-pci drives (no xe_vfio_pci alias matches it: Battlemage, Panther Lake, Wildcat Lake)")
    #expect(XeVFRefusal.Lack.binding(driver: "vfio-pci").description == "bound to vfio-pci, not xe-vfio-pci")
  }
}

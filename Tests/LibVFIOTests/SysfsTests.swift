// SPDX-License-Identifier: GPL-2.0-only
@testable import LibVFIO
import SystemPackage
import Testing

@Suite("PCISysfs against a fixture /sys/bus/pci")
struct SysfsTests {
  let f: SysfsFixture
  var sysfs: PCISysfs { f.sysfs }

  init() throws { f = try SysfsFixture() }

  // MARK: readers

  @Test func presence() throws {
    #expect(sysfs.exists(SysfsFixture.virtio))
    #expect(sysfs.exists(SysfsFixture.pf))
    #expect(sysfs.exists(SysfsFixture.vf))
    #expect(!sysfs.exists(SysfsFixture.missing))
    #expect(sysfs.devicePath(SysfsFixture.virtio) == "\(f.pciBus)/devices/0000:00:03.0")
    try sysfs.requireDevice(SysfsFixture.virtio)
    // A regular file where a device directory should be is not a device.
    try f.write(f.devicePath(try PCIAddress(parsing: "0000:00:04.0")), "")
    #expect(throws: VFIOError.noSuchDevice("0000:00:04.0")) { try sysfs.requireDevice(try PCIAddress(parsing: "0000:00:04.0")) }
  }

  @Test func virtioDeviceAttributes() throws {
    let a = SysfsFixture.virtio
    #expect(try sysfs.iommuGroup(a) == 7)
    #expect(try sysfs.driver(a) == "virtio-pci")
    #expect(try sysfs.driverOverride(a) == nil)
    #expect(try sysfs.vendorID(a) == 0x1af4)
    #expect(try sysfs.deviceID(a) == 0x1000)
    #expect(try sysfs.pciClass(a) == 0x020000)
    #expect(try sysfs.numaNode(a) == -1)
    #expect(try sysfs.sriovTotalVFs(a) == nil)
    #expect(try sysfs.sriovNumVFs(a) == nil)
    #expect(try sysfs.vfioCdevPath(a) == "\(f.dev)/vfio/devices/vfio3")
    #expect(try sysfs.vfioGroupPath(a) == "\(f.dev)/vfio/7")
  }

  @Test func physicalFunctionAttributes() throws {
    let a = SysfsFixture.pf
    #expect(try sysfs.driver(a) == nil)
    #expect(try sysfs.iommuGroup(a) == 8)
    #expect(try sysfs.vendorID(a) == 0x8086)
    #expect(try sysfs.deviceID(a) == 0x1572)
    #expect(try sysfs.numaNode(a) == 0)
    #expect(try sysfs.sriovTotalVFs(a) == 2)
    #expect(try sysfs.sriovNumVFs(a) == 1)
    #expect(try sysfs.virtualFunction(a, index: 0) == SysfsFixture.vf)
    #expect(try sysfs.virtualFunction(a, index: 0).description == "0000:01:00.1")
    #expect(try sysfs.vfioCdevPath(a) == nil)  // no vfio-dev/
  }

  @Test func driverOverrideUnsetSpellings() throws {
    let a = SysfsFixture.virtio
    for unset in ["(null)\n", "(null)", "\n", "", "  \n"] {
      try f.write(f.attributePath(a, "driver_override"), unset)
      #expect(try sysfs.driverOverride(a) == nil, "driver_override '\(unset)'")
    }
    try f.write(f.attributePath(a, "driver_override"), "vfio-pci\n")
    #expect(try sysfs.driverOverride(a) == "vfio-pci")
  }

  @Test func cdevPathSkipsNonVFIOEntriesAndIsNilWhenEmpty() throws {
    let a = SysfsFixture.virtio
    try f.remove(f.attributePath(a, "vfio-dev/vfio3"))
    #expect(try sysfs.vfioCdevPath(a) == nil)
    try f.mkdir(f.attributePath(a, "vfio-dev/power"))
    #expect(try sysfs.vfioCdevPath(a) == nil)
    try f.mkdir(f.attributePath(a, "vfio-dev/vfio12"))
    #expect(try sysfs.vfioCdevPath(a) == "\(f.dev)/vfio/devices/vfio12")
  }

  @Test("integer attributes parse like strtol(s, NULL, 0)", arguments: [
    ("0x1af4\n", 0x1af4), ("4096", 4096), ("010", 8), ("0", 0), ("-1\n", -1), ("  42  ", 42), ("0X10", 16), ("+7", 7),
  ])
  func integerSpellings(_ text: String, _ value: Int) throws {
    try f.write(f.attributePath(SysfsFixture.virtio, "numa_node"), text)
    #expect(try sysfs.numaNode(SysfsFixture.virtio) == value)
  }

  @Test("non-integers are reported with the attribute text", arguments: ["zzz", "", "0x", "08", "1 2", "--1", "+-1", "0x-1"])
  func nonInteger(_ text: String) throws {
    try f.write(f.attributePath(SysfsFixture.virtio, "numa_node"), text)
    #expect(throws: VFIOError.unexpected(operation: "read(numa_node)", device: "0000:00:03.0", detail: "not an integer: '\(text.trimmingWhitespace())'")) {
      try sysfs.numaNode(SysfsFixture.virtio)
    }
  }

  // MARK: errors

  @Test func missingDeviceThrowsNoSuchDeviceFromEveryReader() {
    let a = SysfsFixture.missing
    let e = VFIOError.noSuchDevice("0000:00:09.0")
    #expect(throws: e) { try sysfs.requireDevice(a) }
    #expect(throws: e) { try sysfs.iommuGroup(a) }
    #expect(throws: e) { try sysfs.driver(a) }
    #expect(throws: e) { try sysfs.driverOverride(a) }
    #expect(throws: e) { try sysfs.vendorID(a) }
    #expect(throws: e) { try sysfs.deviceID(a) }
    #expect(throws: e) { try sysfs.pciClass(a) }
    #expect(throws: e) { try sysfs.numaNode(a) }
    #expect(throws: e) { try sysfs.sriovTotalVFs(a) }
    #expect(throws: e) { try sysfs.sriovNumVFs(a) }
    #expect(throws: e) { try sysfs.virtualFunction(a, index: 0) }
    #expect(throws: e) { try sysfs.vfioCdevPath(a) }
    #expect(throws: e) { try sysfs.vfioGroupPath(a) }
    #expect(throws: e) { try sysfs.setDriverOverride(a, "vfio-pci") }
    #expect(throws: e) { try sysfs.setSriovNumVFs(a, 0) }
  }

  @Test func missingAttributesNameTheAttributeAndErrno() {
    let vf = SysfsFixture.vf
    #expect(throws: VFIOError.syscall(operation: "read(class)", device: "0000:01:00.1", errno: .noSuchFileOrDirectory)) {
      try sysfs.pciClass(vf)
    }
    #expect(throws: VFIOError.syscall(operation: "readlink(iommu_group)", device: "0000:01:00.1", errno: .noSuchFileOrDirectory)) {
      try sysfs.iommuGroup(vf)
    }
    #expect(throws: VFIOError.syscall(operation: "readlink(virtfn1)", device: "0000:01:00.0", errno: .noSuchFileOrDirectory)) {
      try sysfs.virtualFunction(SysfsFixture.pf, index: 1)
    }
    // readlink on something that is not a link: EINVAL.
    #expect(throws: VFIOError.syscall(operation: "readlink(virtfn0)", device: "0000:00:03.0", errno: .invalidArgument)) {
      try f.write(f.attributePath(SysfsFixture.virtio, "virtfn0"), "")
      return try sysfs.virtualFunction(SysfsFixture.virtio, index: 0)
    }
  }

  @Test func basenameIsTheLastComponent() {
    #expect(FileSystem.basename("../../../bus/pci/drivers/vfio-pci") == "vfio-pci")
    #expect(FileSystem.basename("../../../kernel/iommu_groups/12") == "12")
    #expect(FileSystem.basename("vfio-pci") == "vfio-pci")
    #expect(FileSystem.basename("/a/b//") == "b")
    #expect(FileSystem.basename("/") == "/")
    #expect(FileSystem.basename("") == "")
    #expect(FileSystem.basename("/dév/ü") == "ü")
  }

  @Test func driverThatIsNotALinkIsASyscallError() throws {
    let a = SysfsFixture.pf
    try f.write(f.attributePath(a, "driver"), "")
    #expect(throws: VFIOError.syscall(operation: "readlink(driver)", device: "0000:01:00.0", errno: .invalidArgument)) {
      try sysfs.driver(a)
    }
  }

  @Test func badGroupLinkAndBadVirtfnLink() throws {
    let a = SysfsFixture.vf
    try f.symlink(f.attributePath(a, "iommu_group"), to: "../../../../kernel/iommu_groups/seven")
    #expect(throws: VFIOError.unexpected(operation: "readlink(iommu_group)", device: "0000:01:00.1",
                                         detail: "not a group number: '../../../../kernel/iommu_groups/seven'")) {
      try sysfs.iommuGroup(a)
    }
    try f.symlink(f.attributePath(SysfsFixture.pf, "virtfn1"), to: "../not-a-bdf")
    #expect(throws: VFIOError.invalidAddress("not-a-bdf")) { try sysfs.virtualFunction(SysfsFixture.pf, index: 1) }
  }

  // MARK: writes

  @Test func setDriverOverrideWritesExactText() throws {
    let a = SysfsFixture.virtio
    let path = f.attributePath(a, "driver_override")
    try f.write(path, "")
    try sysfs.setDriverOverride(a, "vfio-pci")
    #expect(try f.read(path) == "vfio-pci")
    #expect(try sysfs.driverOverride(a) == "vfio-pci")
    try f.write(path, "")
    try sysfs.setDriverOverride(a, nil)
    #expect(try f.read(path) == "\n")
    #expect(try sysfs.driverOverride(a) == nil)
  }

  @Test func setSriovNumVFsWritesExactText() throws {
    let a = SysfsFixture.pf
    let path = f.attributePath(a, "sriov_numvfs")
    try f.write(path, "")
    try sysfs.setSriovNumVFs(a, 0)
    #expect(try f.read(path) == "0")
    try f.write(path, "")
    try sysfs.setSriovNumVFs(a, 2)
    #expect(try f.read(path) == "2")
    #expect(try sysfs.sriovNumVFs(a) == 2)
  }

  @Test func writesToMissingAttributesDoNotCreateThem() throws {
    let a = SysfsFixture.virtio
    #expect(throws: VFIOError.syscall(operation: "write(sriov_numvfs, \"2\")", device: "0000:00:03.0", errno: .noSuchFileOrDirectory)) {
      try sysfs.setSriovNumVFs(a, 2)
    }
    #expect(!f.exists(f.attributePath(a, "sriov_numvfs")))
    try f.remove(f.attributePath(a, "driver_override"))
    #expect(throws: VFIOError.syscall(operation: "write(driver_override, \"\")", device: "0000:00:03.0", errno: .noSuchFileOrDirectory)) {
      try sysfs.setDriverOverride(a, nil)
    }
  }

  @Test func bindUnbindProbeWriteTheAddressToTheBusFiles() throws {
    let a = SysfsFixture.virtio
    try sysfs.unbind(a)
    #expect(try f.read("\(f.pciBus)/drivers/virtio-pci/unbind") == "0000:00:03.0")
    try sysfs.bind(a, to: "vfio-pci")
    #expect(try f.read("\(f.pciBus)/drivers/vfio-pci/bind") == "0000:00:03.0")
    try sysfs.probe(a)
    #expect(try f.read("\(f.pciBus)/drivers_probe") == "0000:00:03.0")
    // Unbinding a device without a driver writes nothing.
    try sysfs.unbind(SysfsFixture.pf)
    #expect(try f.read("\(f.pciBus)/drivers/virtio-pci/unbind") == "0000:00:03.0")
    #expect(try f.read("\(f.pciBus)/drivers/vfio-pci/unbind") == "")
    #expect(throws: VFIOError.syscall(operation: "write(\(f.pciBus)/drivers/nope/bind)", device: "0000:00:03.0", errno: .noSuchFileOrDirectory)) {
      try sysfs.bind(a, to: "nope")
    }
  }
}

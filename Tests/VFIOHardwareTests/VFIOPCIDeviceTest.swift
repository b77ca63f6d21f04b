// SPDX-License-Identifier: GPL-2.0-only
// The port of tools/testing/selftests/vfio/vfio_pci_device_test.c. The C test runs in iommufd
// mode only; this one runs every test in each of the five modes (one case per mode, named like
// the C harness's <fixture>.<variant>.<test>), so the legacy container modes are covered too.
import Glibc
import LibVFIO
import SystemPackage
import Testing

/// The test bodies, one case per mode.
enum VFIOPCIDeviceTest {
  static let maxTestMSI: UInt32 = 16

  /// `vfio_pci_device_test.config_space_read_write`
  static func configSpaceReadWrite(_ mode: IOMMUMode) throws {
    try withDevice(mode) { device in
      let address = try device.requirePCIAddress(for: "read sysfs vendor and device")
      let vendor = try device.sysfs.vendorID(address)
      let deviceID = try device.sysfs.deviceID(address)
      #expect(try device.matches(vendor: vendor, device: deviceID), "config space vendor/device differ from sysfs \(hex(vendor, width: 4)):\(hex(deviceID, width: 4))")
      devInfo(device, "Vendor: \(hex(vendor, width: 4)), Device: \(hex(deviceID, width: 4))")

      var command = try device.configRead(PCIConfig.COMMAND, as: UInt16.self)
      #expect(command & PCIConfig.COMMAND_MASTER == 0, "bus mastering is on before the test (command 0x\(hex(command, width: 4)))")

      try device.commandSet(PCIConfig.COMMAND_MASTER)
      command = try device.configRead(PCIConfig.COMMAND, as: UInt16.self)
      #expect(command & PCIConfig.COMMAND_MASTER == PCIConfig.COMMAND_MASTER)
      devInfo(device, "Enabled Bus Mastering (command: \(hex(command, width: 4)))")

      try device.commandClear(PCIConfig.COMMAND_MASTER)
      command = try device.configRead(PCIConfig.COMMAND, as: UInt16.self)
      #expect(command & PCIConfig.COMMAND_MASTER == 0)
      devInfo(device, "Disabled Bus Mastering (command: \(hex(command, width: 4)))")
    }
  }

  /// `vfio_pci_device_test.validate_bars`
  static func validateBARs(_ mode: IOMMUMode) throws {
    try withDevice(mode) { device in
      // C loops over the PCI_STD_NUM_BARS BARs and asserts only what each one is.
      for bar in device.bars {
        if !bar.isMappable {
          #expect(bar.mapping == nil, "BAR \(bar.index) is mapped but does not support mmap()")
          devInfo(device, "BAR \(bar.index) does not support mmap()")
          continue
        }
        let mapping = try #require(bar.mapping, "BAR \(bar.index) supports mmap() but is not mapped")
        #expect(bar.info.size != 0)
        devInfo(device, "BAR \(bar.index) mapped at 0x\(String(mapping.address, radix: 16)) (size 0x\(String(bar.info.size, radix: 16)))")
      }
    }
  }

  /// `vfio_pci_device_test.reset`
  static func reset(_ mode: IOMMUMode) throws {
    try withDevice(mode) { device in
      try device.reset()
    }
  }

  /// `vfio_pci_irq_test.{msi,msix}.enable_trigger_disable`
  static func enableTriggerDisable(_ mode: IOMMUMode, index: UInt32) throws {
    try withDevice(mode) { device in
      let info = index == VFIO.PCI_MSI_IRQ_INDEX ? device.msiInfo : device.msixInfo
      let suffix = index == VFIO.PCI_MSIX_IRQ_INDEX ? "-x" : ""
      let count = min(info.count, maxTestMSI)
      try #require(count > 0, "MSI\(suffix): not supported")

      try device.enableIRQ(index: index, vector: 0, count: count)
      devInfo(device, "MSI\(suffix): enabled \(count) interrupts")
      for vector in 0..<count {
        let before = device.readEventfdResult(vector: vector, nonblocking: true)
        #expect(before.errno == .resourceTemporarilyUnavailable,
                "vector \(vector) signalled before it was triggered: \(before)")
        try device.triggerIRQ(index: index, vector: vector)
        #expect(device.readEventfdResult(vector: vector, nonblocking: true) == .success(1),
                "vector \(vector) did not signal its eventfd once")
      }
      try device.disableIRQ(index: index)
    }
  }
}

// One test per C test, one case per iommu mode (the mode joins the variant in its C name).

extension Hardware {
  @Suite("vfio_pci_device_test", .tags(.iommuModes), .hangGuard)
  struct VFIOPCIDeviceSuite {
    @Test(arguments: try IOMMUMode.underTest()) func config_space_read_write(_ mode: IOMMUMode) throws {
      try requireVFIODevice(mode)
      try VFIOPCIDeviceTest.configSpaceReadWrite(mode)
    }
    @Test(arguments: try IOMMUMode.underTest()) func validate_bars(_ mode: IOMMUMode) throws {
      try requireVFIODevice(mode)
      try VFIOPCIDeviceTest.validateBARs(mode)
    }
    @Test(arguments: try IOMMUMode.underTest()) func reset(_ mode: IOMMUMode) throws {
      try requireVFIODevice(mode, needs: .reset)
      try VFIOPCIDeviceTest.reset(mode)
    }
    @Test(arguments: try IOMMUMode.underTest()) func msi_enable_trigger_disable(_ mode: IOMMUMode) throws {
      try requireVFIODevice(mode, needs: .irq(VFIO.PCI_MSI_IRQ_INDEX))
      try VFIOPCIDeviceTest.enableTriggerDisable(mode, index: VFIO.PCI_MSI_IRQ_INDEX)
    }
    @Test(arguments: try IOMMUMode.underTest()) func msix_enable_trigger_disable(_ mode: IOMMUMode) throws {
      try requireVFIODevice(mode, needs: .irq(VFIO.PCI_MSIX_IRQ_INDEX))
      try VFIOPCIDeviceTest.enableTriggerDisable(mode, index: VFIO.PCI_MSIX_IRQ_INDEX)
    }
  }
}

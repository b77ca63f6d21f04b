// SPDX-License-Identifier: GPL-2.0-only
// The Intel I/OAT DMA engine selftest driver (tools/testing/selftests/vfio/lib/drivers/ioat/ioat.c,
// Linux 7.3), x86_64 only as in C. Registers from drivers/dma/ioat/{registers,hw}.h, descriptor
// from hw.h's struct ioat_dma_descriptor; Tests/UAPIConformanceTests/DriverConformanceTests.swift
// checks every value here against those headers.
//
// NOT RUN ON HARDWARE: the lab has no I/OAT device and no emulator for one. This port follows
// the C driver line by line; only its probe (on config-space values) has been exercised.
#if arch(x86_64)
import CVFIOShim

/// drivers/dma/ioat/hw.h and registers.h: the values the C driver uses.
enum IOATHW {
  static let PCI_VENDOR_ID_INTEL: UInt16 = 0x8086
  static let PCI_DEVICE_ID_INTEL_IOAT_SKX: UInt16 = 0x2021
  static let IOAT_VER_3_2: UInt8 = 0x32
  static let IOAT_VER_3_3: UInt8 = 0x33

  // config space
  static let IOAT_PCI_DMAUNCERRSTS_OFFSET: UInt64 = 0x148
  static let IOAT_PCI_CHANERR_INT_OFFSET: UInt64 = 0x180

  // BAR0, device registers
  static let IOAT_XFERCAP_OFFSET = 0x01
  static let IOAT_INTRCTRL_OFFSET = 0x03
  static let IOAT_INTRCTRL_MSIX_VECTOR_CONTROL: UInt8 = 0x08
  static let IOAT_VER_OFFSET = 0x08
  static let IOAT_CHANNEL_MMIO_SIZE = 0x80

  // BAR0, channel registers (relative to the first channel at IOAT_CHANNEL_MMIO_SIZE)
  static let IOAT_CHANCTRL_OFFSET = 0x00
  static let IOAT_CHANCTRL_ANY_ERR_ABORT_EN: UInt16 = 0x0008
  static let IOAT_CHANCTRL_INT_REARM: UInt16 = 0x0001
  static let IOAT_CHAN_DMACOUNT_OFFSET = 0x06
  static let IOAT_CHANSTS_OFFSET = 0x08
  static let IOAT_CHANSTS_STATUS: UInt64 = 0x7
  static let IOAT_CHANSTS_DONE: UInt64 = 0x1
  static let IOAT_CHANSTS_SUSPENDED: UInt64 = 0x2
  static let IOAT_CHANSTS_HALTED: UInt64 = 0x3
  static let IOAT2_CHAINADDR_OFFSET = 0x10
  static let IOAT2_CHANCMD_OFFSET = 0x04
  static let IOAT_CHANCMD_RESET: UInt8 = 0x20
  static let IOAT_CHANCMD_SUSPEND: UInt8 = 0x04
  static let IOAT_CHANERR_OFFSET = 0x28

  static let IOAT_OP_COPY: UInt32 = 0x00
}

/// hw.h's `struct ioat_dma_descriptor` (64 bytes): the fields the driver sets.
struct IOATDMADescriptor {
  static let size = 64
  static let sizeOffset = 0
  static let ctlOffset = 4
  static let srcAddrOffset = 8
  static let dstAddrOffset = 16
  static let nextOffset = 24
  /// `ctl_f.int_en` and `ctl_f.op` within `ctl`.
  static let ctlIntEnShift: UInt32 = 0
  static let ctlOpShift: UInt32 = 24

  var size: UInt32
  var intEn: Bool
  var op: UInt32
  var srcAddr: UInt64
  var dstAddr: UInt64
  var next: UInt64

  /// The descriptor's bytes, every other field zero (C assigns a compound literal).
  var bytes: [UInt8] {
    var b = [UInt8](repeating: 0, count: Self.size)
    func put<T: FixedWidthInteger>(_ v: T, _ at: Int) {
      for i in 0..<MemoryLayout<T>.size { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) }
    }
    put(size, Self.sizeOffset)
    put((op & 0xff) << Self.ctlOpShift | (intEn ? 1 : 0) << Self.ctlIntEnShift, Self.ctlOffset)
    put(srcAddr, Self.srcAddrOffset)
    put(dstAddr, Self.dstAddrOffset)
    put(next, Self.nextOffset)
    return b
  }
}

/// ioat.c's `struct ioat_state`, kept in the driver region: the descriptor, then the two words
/// send_msi copies.
enum IOATState {
  static let descOffset = 0
  static let sendMSISrcOffset = 64
  static let sendMSIDstOffset = 72
  static let size = 80
}

/// `ioat_ops`.
public final class IOATDriver: VFIOPCIDriverOps {
  public static let name = "ioat"
  /// ioat.c's `IOAT_DMACOUNT_MAX`.
  static let IOAT_DMACOUNT_MAX: UInt64 = 0xffff
  public static var requiredRegionSize: Int { IOATState.size }

  let device: VFIOPCIDevice
  let region: VFIOPCIDriverRegion
  let bar0: DriverMMIO
  public private(set) var maxMemcpySize: UInt64 = 0
  public private(set) var maxMemcpyCount: UInt64 = 0
  public private(set) var msi: UInt32 = 0

  public static func probe(_ device: VFIOPCIDevice) -> Bool { probe(VFIOPCIProbeInput(device)) }

  /// `ioat_probe`: Intel 8086:2021 (Skylake-X) whose BAR0 version byte is 3.2 or 3.3.
  public static func probe(_ input: VFIOPCIProbeInput) -> Bool {
    // vfio_pci_device_match: vendor, then device
    guard input.config16(PCIConfig.VENDOR_ID, driver: name) == IOATHW.PCI_VENDOR_ID_INTEL,
          input.config16(PCIConfig.DEVICE_ID, driver: name) == IOATHW.PCI_DEVICE_ID_INTEL_IOAT_SKX
    else { return false }
    // C: VFIO_ASSERT_NOT_NULL(device->bars[0].vaddr); a probe cannot throw, so it says so and
    // matches nothing.
    guard let version = input.bar0Read(IOATHW.IOAT_VER_OFFSET, as: UInt8.self) else {
      devErr(input.device, "ioat: BAR0 is not mapped\n")
      return false
    }
    switch version {
    case IOATHW.IOAT_VER_3_2, IOATHW.IOAT_VER_3_3:
      return true
    default:
      devErr(input.device, "ioat: Unsupported version: \(hex(version))\n")
      return false
    }
  }

  /// `ioat_init`.
  public init(device: VFIOPCIDevice, region: VFIOPCIDriverRegion) throws {
    self.device = device
    self.region = region
    bar0 = try DriverMMIO(device, bar: 0, driver: Self.name)
    guard region.memory.size >= IOATState.size else {
      throw VFIOError.driverDevice(.assertion(driver: Self.name, device: device.name, operation: "init",
                                               detail: "driver region of \(region.memory.size) bytes < sizeof(struct ioat_state) \(IOATState.size)"))
    }
    try device.configWrite(PCIConfig.COMMAND, PCIConfig.COMMAND_MEMORY | PCIConfig.COMMAND_MASTER | PCIConfig.COMMAND_INTX_DISABLE)

    try reset()

    // Enable the use of MSI-X interrupts for channel interrupts.
    try bar0.write(IOATHW.IOAT_INTRCTRL_MSIX_VECTOR_CONTROL, IOATHW.IOAT_INTRCTRL_OFFSET)

    try device.enableIRQ(index: VFIO.PCI_MSIX_IRQ_INDEX, vector: 0, count: device.msixInfo.count)

    msi = 0
    // 1UL << readb(...): x86_64 shifts a 64-bit value by the count mod 64, as &<< does.
    maxMemcpySize = UInt64(1) &<< UInt64(try bar0.read(IOATHW.IOAT_XFERCAP_OFFSET, as: UInt8.self))
    maxMemcpyCount = Self.IOAT_DMACOUNT_MAX
  }

  private func channel(_ offset: Int) -> Int { IOATHW.IOAT_CHANNEL_MMIO_SIZE + offset }

  private func channelStatus() throws -> UInt64 {
    try bar0.read(channel(IOATHW.IOAT_CHANSTS_OFFSET), as: UInt64.self) & IOATHW.IOAT_CHANSTS_STATUS
  }

  private func fail(_ op: String, _ detail: String) -> VFIOError {
    .driverDevice(.assertion(driver: Self.name, device: device.name, operation: op, detail: detail))
  }

  /// `ioat_clear_errors`.
  private func clearErrors() throws {
    var errors = try device.configRead(IOATHW.IOAT_PCI_CHANERR_INT_OFFSET, as: UInt32.self)
    try device.configWrite(IOATHW.IOAT_PCI_CHANERR_INT_OFFSET, errors)

    errors = try device.configRead(IOATHW.IOAT_PCI_DMAUNCERRSTS_OFFSET, as: UInt32.self)
    // As C: DMAUNCERRSTS is written back to CHANERR_INT, not to itself.
    try device.configWrite(IOATHW.IOAT_PCI_CHANERR_INT_OFFSET, errors)

    let chanerr = try bar0.read(channel(IOATHW.IOAT_CHANERR_OFFSET), as: UInt32.self)
    try bar0.write(chanerr, channel(IOATHW.IOAT_CHANERR_OFFSET))
  }

  /// `ioat_reset`: RESET, then up to 5000 polls 1 ms apart for it to clear; the channel must
  /// then be HALTED.
  private func reset() throws {
    let sleepMs: UInt32 = 1
    var attempts: UInt32 = 5000 / sleepMs

    try clearErrors()

    try bar0.write(IOATHW.IOAT_CHANCMD_RESET, channel(IOATHW.IOAT2_CHANCMD_OFFSET))

    while true {
      let chancmd = try bar0.read(channel(IOATHW.IOAT2_CHANCMD_OFFSET), as: UInt8.self)
      if chancmd & IOATHW.IOAT_CHANCMD_RESET == 0 { break }
      attempts -= 1
      guard attempts > 0 else {
        throw VFIOError.driverDevice(.timeout(driver: Self.name, device: device.name, operation: "channel reset",
                                               limit: "5000 polls 1 ms apart", detail: "CHANCMD still \(hex(chancmd))"))
      }
      Syscalls.sleep(microseconds: sleepMs * 1000)
    }

    let status = try channelStatus()
    guard status == IOATHW.IOAT_CHANSTS_HALTED else {
      throw fail("channel reset", "channel status \(hex(status)) after reset, expected HALTED (\(hex(IOATHW.IOAT_CHANSTS_HALTED)))")
    }
  }

  /// `ioat_remove`.
  public func remove() throws {
    try reset()
    try device.disableIRQ(index: VFIO.PCI_MSIX_IRQ_INDEX)
  }

  /// `ioat_handle_error`.
  private func handleError() throws {
    devErr(device.name, """
      Error detected during memcpy operation!
        CHANERR: \(hex(try bar0.read(channel(IOATHW.IOAT_CHANERR_OFFSET), as: UInt32.self)))
        CHANERR_INT: \(hex(try device.configRead(IOATHW.IOAT_PCI_CHANERR_INT_OFFSET, as: UInt32.self)))
        DMAUNCERRSTS: \(hex(try device.configRead(IOATHW.IOAT_PCI_DMAUNCERRSTS_OFFSET, as: UInt32.self)))

      """)
    try reset()
  }

  /// `ioat_memcpy_wait`: spins until DONE (HALTED: report, reset, -1), then SUSPENDs the
  /// channel. C spins without a limit; this port gives up after 60 s with a typed error.
  public func memcpyWait() throws -> Int32 {
    var start = monotonicMilliseconds()
    while true {
      let status = try channelStatus()
      if status == IOATHW.IOAT_CHANSTS_DONE { break }
      if status == IOATHW.IOAT_CHANSTS_HALTED {
        try handleError()
        return -1
      }
      if monotonicMilliseconds() - start >= driverUnboundedPollLimitMilliseconds {
        throw VFIOError.driverDevice(.timeout(driver: Self.name, device: device.name, operation: "memcpy_wait",
                                               limit: "\(driverUnboundedPollLimitMilliseconds) ms (C spins without a limit)",
                                               detail: "channel status \(hex(status)), never DONE"))
      }
    }

    // Put the channel into the SUSPENDED state.
    try bar0.write(IOATHW.IOAT_CHANCMD_SUSPEND, channel(IOATHW.IOAT2_CHANCMD_OFFSET))
    start = monotonicMilliseconds()
    while true {
      let status = try channelStatus()
      if status == IOATHW.IOAT_CHANSTS_SUSPENDED { break }
      if monotonicMilliseconds() - start >= driverUnboundedPollLimitMilliseconds {
        throw VFIOError.driverDevice(.timeout(driver: Self.name, device: device.name, operation: "memcpy_wait (suspend)",
                                               limit: "\(driverUnboundedPollLimitMilliseconds) ms (C spins without a limit)",
                                               detail: "channel status \(hex(status)), never SUSPENDED"))
      }
    }
    return 0
  }

  /// `__ioat_memcpy_start`: one descriptor chained to itself, run `count` times.
  private func start(src: UInt64, dst: UInt64, size: UInt64, count: UInt16, interrupt: Bool) throws {
    let descIOVA = region.iova + UInt64(IOATState.descOffset)
    let desc = IOATDMADescriptor(size: UInt32(truncatingIfNeeded: size), intEn: interrupt, op: IOATHW.IOAT_OP_COPY,
                                 srcAddr: src, dstAddr: dst, next: descIOVA)
    region.memory.write(desc.bytes, at: IOATState.descOffset)

    // Tell the device the address of the descriptor.
    try bar0.write(descIOVA, channel(IOATHW.IOAT2_CHAINADDR_OFFSET))

    // (Re)Enable the channel interrupt and abort on any errors
    try bar0.write(IOATHW.IOAT_CHANCTRL_INT_REARM | IOATHW.IOAT_CHANCTRL_ANY_ERR_ABORT_EN, channel(IOATHW.IOAT_CHANCTRL_OFFSET))

    // Kick off count DMA copy operation(s).
    try bar0.write(count, channel(IOATHW.IOAT_CHAN_DMACOUNT_OFFSET))
  }

  /// `ioat_memcpy_start` (the count is a u16 in C's `__ioat_memcpy_start`).
  public func memcpyStart(src: UInt64, dst: UInt64, size: UInt64, count: UInt64) throws {
    try start(src: src, dst: dst, size: size, count: UInt16(truncatingIfNeeded: count), interrupt: false)
  }

  /// `ioat_send_msi`: one 8-byte copy within the region with the interrupt enabled.
  public var sendMSI: (() throws -> Void)? {
    { [self] in
      try start(src: region.iova + UInt64(IOATState.sendMSISrcOffset), dst: region.iova + UInt64(IOATState.sendMSIDstOffset),
                size: 8, count: 1, interrupt: true)
      let r = try memcpyWait()
      guard r == 0 else { throw fail("send_msi", "memcpy_wait returned \(r)") }
    }
  }
}
#endif

// SPDX-License-Identifier: GPL-2.0-only
// The Intel 82576 (igb) selftest driver (tools/testing/selftests/vfio/lib/drivers/igb/igb.c,
// Linux 7.3), all architectures as in C. Registers and layouts in IGBHW.swift.
//
// A memcpy is a loopback: each copy is one TX descriptor reading `size` bytes from `src` and one
// RX descriptor receiving the frame that comes back into `dst`. The PHY is put in internal
// loopback at 1 Gb/s full duplex, and RCTL.LBM_MAC is set too, for QEMU's emulated igb (which
// honours only MAC loopback). Both rings hold 4096 descriptors in the driver region, where C's
// `struct igb` keeps them. MSI-X vector 0 is the driver's MSI (RX queue 0 through IVAR; EICS
// bit 0 for send_msi). A copy that has not completed after about 200 ms resets the device
// (VFIO_DEVICE_RESET), re-arms MSI-X with the same eventfd, programs it again, and the wait
// returns -ETIMEDOUT, as C does. C's VFIO_ASSERTs are VFIOError.driverDevice here.
//
// QEMU's model (hw/net/igb*.c, 10.0) is the lab's 82576: 8086:10c9, revision 1, with QEMU's
// default subsystem IDs 1af4:1100 (`isQEMUModel`). Its transmit path maps each TX buffer with
// pci_dma_map; for an IOVA the vIOMMU refuses, QEMU's address_space_map hands back a bounce
// buffer read from unassigned memory (zeros) rather than failing, so a copy *from* an unmapped
// IOVA still sends a frame of zeros and completes (the vIOMMU records the DMA read fault), and a
// copy *to* one completes with the RX data write dropped (a DMA write fault). On QEMU neither
// reaches the timeout path that real hardware takes.
import SystemPackage
import Synchronization

/// `igb_ops`.
public final class IGBDriver: VFIOPCIDriverOps {
  public static let name = "igb"
  /// `PCI_VENDOR_ID_INTEL`, `PCI_DEVICE_ID_INTEL_82576`.
  static let PCI_VENDOR_ID_INTEL: UInt16 = 0x8086
  static let PCI_DEVICE_ID_INTEL_82576: UInt16 = 0x10C9
  /// `IGB_MAX_CHUNK_SIZE`.
  static let IGB_MAX_CHUNK_SIZE: UInt64 = 1024
  /// `MSIX_VECTOR` and `MSIX_VECTOR_MASK`.
  static let MSIX_VECTOR: UInt32 = 0
  static let MSIX_VECTOR_MASK: UInt32 = 1 << MSIX_VECTOR
  /// The Ethernet minimum payload `igb_memcpy_start` asserts.
  static let minimumMemcpySize: UInt64 = 60

  /// QEMU's default subsystem IDs (include/hw/pci/pci.h: PCI_SUBVENDOR_ID_REDHAT_QUMRANET,
  /// PCI_SUBDEVICE_ID_QEMU), which hw/net/igb.c does not override.
  static let qemuSubsystemVendorID: UInt16 = 0x1af4
  static let qemuSubsystemID: UInt16 = 0x1100

  public static var requiredRegionSize: Int { IGBState.size }

  public let maxMemcpySize: UInt64 = IGBDriver.IGB_MAX_CHUNK_SIZE
  public let maxMemcpyCount: UInt64 = UInt64(IGBState.ringSize - 1)
  public let msi: UInt32 = IGBDriver.MSIX_VECTOR

  let device: VFIOPCIDevice
  let region: VFIOPCIDriverRegion
  let bar0: DriverMMIO
  private var txTail = 0
  private var rxTail = 0

  public static func probe(_ device: VFIOPCIDevice) -> Bool { probe(VFIOPCIProbeInput(device)) }

  /// `igb_probe`: 8086:10c9.
  public static func probe(_ input: VFIOPCIProbeInput) -> Bool {
    input.config16(PCIConfig.VENDOR_ID, driver: name) == PCI_VENDOR_ID_INTEL
      && input.config16(PCIConfig.DEVICE_ID, driver: name) == PCI_DEVICE_ID_INTEL_82576
  }

  /// Whether the 82576 is QEMU's emulation: 8086:10c9 with QEMU's subsystem IDs 1af4:1100 (a
  /// real 82576 board carries Intel's or its vendor's).
  public static func isQEMUModel(_ input: VFIOPCIProbeInput) -> Bool {
    probe(input)
      && input.config16(PCIConfig.SUBSYSTEM_VENDOR_ID, driver: name) == qemuSubsystemVendorID
      && input.config16(PCIConfig.SUBSYSTEM_ID, driver: name) == qemuSubsystemID
  }

  /// `igb_init`: CTRL.RST, MSI-X vector 0 through VFIO, then `igb_hw_init`.
  public init(device: VFIOPCIDevice, region: VFIOPCIDriverRegion) throws {
    self.device = device
    self.region = region
    bar0 = try DriverMMIO(device, bar: 0, driver: Self.name)
    guard region.memory.size >= IGBState.size else {
      throw VFIOError.driverDevice(.assertion(driver: Self.name, device: device.name, operation: "init",
                                               detail: "driver region of \(region.memory.size) bytes < sizeof(struct igb) \(IGBState.size)"))
    }
    try reset()
    try device.enableIRQ(index: VFIO.PCI_MSIX_IRQ_INDEX, vector: Self.MSIX_VECTOR, count: 1)
    do {
      try hwInit()
    } catch {
      // C aborts the test here; this port leaves MSI-X off so the device can be set up again.
      try? device.disableIRQ(index: VFIO.PCI_MSIX_IRQ_INDEX)
      throw error
    }
  }

  /// `igb_remove`: receiver and transmitter off, CTRL.RST, MSI-X off.
  public func remove() throws {
    try write32(E1000.RCTL, 0)
    try write32(E1000.TCTL, 0)
    let reset = Result { try self.reset() }
    try device.disableIRQ(index: VFIO.PCI_MSIX_IRQ_INDEX)
    try reset.get()
  }

  /// `igb_memcpy_start`: `count` TX/RX descriptor pairs, then the ring tails; returns at once.
  public func memcpyStart(src: UInt64, dst: UInt64, size: UInt64, count: UInt64) throws {
    guard size >= Self.minimumMemcpySize else {
      throw fail("memcpy_start", "IGB driver requires memcpy size to be at least \(Self.minimumMemcpySize) bytes (Ethernet minimum payload size): size \(size)")
    }
    try irqDisable()
    let memory = region.memory
    for _ in 0..<count {
      let tx = IGBState.txRingOffset + txTail * IGBState.descriptorSize
      let rx = IGBState.rxRingOffset + rxTail * IGBState.descriptorSize
      memory.fill(0, at: tx, count: IGBState.descriptorSize)
      memory.fill(0, at: rx, count: IGBState.descriptorSize)

      memory.store(dst.littleEndian, at: rx + IGBState.rxPktAddrOffset)
      memory.store(UInt64(0).littleEndian, at: rx + IGBState.rxHdrAddrOffset)

      memory.store(src.littleEndian, at: tx + IGBState.txBufferAddrOffset)
      // An advanced data descriptor (DEXT, DTYP data) with the FCS appended and end of packet;
      // DTALEN in bits 15:0, PAYLEN in olinfo_status[31:14].
      let cmdTypeLen = UInt32(truncatingIfNeeded: size) | E1000.ADVTXD_DTYP_DATA | E1000.ADVTXD_DCMD_DEXT
        | E1000.ADVTXD_DCMD_IFCS | E1000.ADVTXD_DCMD_EOP
      memory.store(cmdTypeLen.littleEndian, at: tx + IGBState.txCmdTypeLenOffset)
      memory.store((UInt32(truncatingIfNeeded: size) << E1000.ADVTXD_PAYLEN_SHIFT).littleEndian, at: tx + IGBState.txOlinfoStatusOffset)

      txTail = (txTail + 1) % IGBState.ringSize
      rxTail = (rxTail + 1) % IGBState.ringSize
    }
    try write32(E1000.RDT(0), UInt32(rxTail))
    try write32(E1000.TDT(0), UInt32(txTail))
  }

  /// `igb_memcpy_wait`: polls the last RX descriptor's DD bit, up to 200 times 1 ms apart; 0
  /// once it is set. Otherwise `igb_error_reset_and_reinit` and -ETIMEDOUT.
  public func memcpyWait() throws -> Int32 {
    let prevTail = (rxTail + IGBState.ringSize - 1) % IGBState.ringSize
    let statusOffset = IGBState.rxRingOffset + prevTail * IGBState.descriptorSize + IGBState.rxStatusErrorOffset
    var status: UInt32 = 0
    var retries = 200
    while retries > 0 {
      retries -= 1
      status = UInt32(littleEndian: region.memory.load(at: statusOffset, as: UInt32.self))
      if status & 1 != 0 { break }
      Syscalls.sleep(microseconds: 1000)
    }
    // rmb(): nothing of the copied data is read before the write-back was seen.
    if status & 1 != 0 { atomicMemoryFence(ordering: .acquiring) }

    try irqClear()
    try irqEnable()

    if status & 1 != 0 { return 0 }

    // The descriptor never completed (on an 82576, typically after a DMA read fault): CTRL.RST
    // alone leaves the descriptor engine wedged, so FLR through VFIO.
    try errorResetAndReinit()
    return -Errno.timedOut.rawValue
  }

  /// `igb_send_msi`: EICS bit 0 raises MSI-X vector 0.
  public var sendMSI: (() throws -> Void)? {
    { [self] in try write32(E1000.EICS, Self.MSIX_VECTOR_MASK) }
  }

  // MARK: registers

  private func fail(_ op: String, _ detail: String) -> VFIOError {
    .driverDevice(.assertion(driver: Self.name, device: device.name, operation: op, detail: detail))
  }

  /// `writel`: a write barrier (descriptors are visible before the doorbell), then the store.
  @inline(__always)
  private func write32(_ reg: Int, _ value: UInt32) throws {
    atomicMemoryFence(ordering: .sequentiallyConsistent)
    try bar0.write(value, reg)
  }

  /// `readl`: the load, then a read barrier.
  @inline(__always)
  private func read32(_ reg: Int) throws -> UInt32 {
    let v = try bar0.read(reg, as: UInt32.self)
    atomicMemoryFence(ordering: .acquiring)
    return v
  }

  /// `igb_irq_disable`, `igb_irq_enable`.
  @inline(__always) private func irqDisable() throws { try write32(E1000.EIMC, Self.MSIX_VECTOR_MASK) }
  @inline(__always) private func irqEnable() throws { try write32(E1000.EIMS, Self.MSIX_VECTOR_MASK) }
  /// `igb_irq_clear`: write-to-clear; with EIAC programmed EICR must not be read (datasheet 8.8.5).
  @inline(__always) private func irqClear() throws { try write32(E1000.EICR, 0xFFFF_FFFF) }

  // MARK: bring-up

  /// `igb_write_phy`: one MDIO write to PHY 1, polled up to 1000 times 50 µs apart; false (C: -1)
  /// when MDIC.READY never came or MDIC.ERROR is set. The last MDIC value is in `mdic`.
  private func writePHY(_ offset: UInt32, _ data: UInt16, mdic: inout UInt32) throws -> Bool {
    mdic = UInt32(data) | (offset << E1000.MDIC_REG_SHIFT) | (1 << E1000.MDIC_PHY_SHIFT) | E1000.MDIC_OP_WRITE
    try write32(E1000.MDIC, mdic)
    for _ in 0..<1000 {
      Syscalls.sleep(microseconds: 50)
      mdic = try read32(E1000.MDIC)
      if mdic & E1000.MDIC_READY != 0 { break }
    }
    return mdic & E1000.MDIC_READY != 0 && mdic & E1000.MDIC_ERROR == 0
  }

  /// `igb_setup_loopback`: autoneg kicked once (QEMU raises STATUS.LU only from its autoneg
  /// timer, and drops every received frame without it), then PHY loopback at 1 Gb/s full
  /// duplex, 50 ms, the MAC forced to 1 Gb/s full duplex with link up, 500 ms.
  private func setupLoopback() throws {
    var mdic: UInt32 = 0
    _ = try writePHY(MII.BMCR, MII.BMCR_ANENABLE | MII.BMCR_ANRESTART, mdic: &mdic)
    guard try writePHY(MII.BMCR, MII.BMCR_LOOPBACK | MII.BMCR_SPEED1000 | MII.BMCR_FULLDPLX, mdic: &mdic) else {
      throw fail("init", "Failed to write PHY control register (MDIC \(hex(mdic)): \(mdic & E1000.MDIC_READY == 0 ? "not ready after 1000 polls 50 us apart" : "MDIC.ERROR"))")
    }
    Syscalls.sleep(microseconds: 50_000)
    var ctrl = try read32(E1000.CTRL)
    ctrl &= ~E1000.CTRL_SPD_SEL
    ctrl |= E1000.CTRL_FRCSPD | E1000.CTRL_FRCDPX | E1000.CTRL_SPD_1000 | E1000.CTRL_FD | E1000.CTRL_SLU
    try write32(E1000.CTRL, ctrl)
    Syscalls.sleep(microseconds: 500_000)
  }

  /// `igb_reset`: CTRL.RST, 1 ms, then EECD.AUTO_RD polled up to 20 times 1 ms apart; when it
  /// never came (QEMU does not set it), CTRL.RST must read clear. Then every interrupt masked.
  private func reset() throws {
    try write32(E1000.CTRL, try read32(E1000.CTRL) | E1000.CTRL_RST)
    Syscalls.sleep(microseconds: 1000)
    var retries = 20
    while retries > 0, try read32(E1000.EECD) & E1000.EECD_AUTO_RD == 0 {
      retries -= 1
      Syscalls.sleep(microseconds: 1000)
    }
    if retries == 0 {
      let ctrl = try read32(E1000.CTRL)
      guard ctrl & E1000.CTRL_RST == 0 else {
        throw fail("reset", "Device reset did not complete (CTRL.RST not cleared): EECD.AUTO_RD unset after 20 polls 1 ms apart, CTRL \(hex(ctrl))")
      }
    }
    try write32(E1000.IMC, 0xFFFF_FFFF)
  }

  /// `igb_hw_init`: what CTRL.RST and FLR clear, with MSI-X already enabled through VFIO.
  private func hwInit() throws {
    let txIOVA = region.iova + UInt64(IGBState.txRingOffset)
    let rxIOVA = region.iova + UInt64(IGBState.rxRingOffset)

    // Signal that the driver is loaded.
    var ctrl = try read32(E1000.CTRL_EXT)
    ctrl |= E1000.CTRL_EXT_DRV_LOAD
    ctrl &= ~E1000.CTRL_EXT_LINK_MODE_MASK
    try write32(E1000.CTRL_EXT, ctrl)

    var command = try device.configRead(PCIConfig.COMMAND, as: UInt16.self)
    let wanted = PCIConfig.COMMAND_MASTER | PCIConfig.COMMAND_MEMORY
    if command & wanted != wanted {
      command |= wanted
      try device.configWrite(PCIConfig.COMMAND, command)
    }

    try setupLoopback()

    // No DMA re-send on a PCIe completion timeout (datasheet 8.6.1): the unmapped-IOVA cases
    // would otherwise keep the device retrying the failed read.
    try write32(E1000.GCR, try read32(E1000.GCR) & ~E1000.GCR_CMPL_TMOUT_RESEND)

    let ringBytes = UInt32(IGBState.ringSize * IGBState.descriptorSize)
    try write32(E1000.TDBAL(0), UInt32(truncatingIfNeeded: txIOVA))
    try write32(E1000.TDBAH(0), UInt32(truncatingIfNeeded: txIOVA >> 32))
    try write32(E1000.TDLEN(0), ringBytes)
    try write32(E1000.TDH(0), 0)
    try write32(E1000.TDT(0), 0)
    try write32(E1000.TXDCTL(0), E1000.TXDCTL_QUEUE_ENABLE)

    try write32(E1000.RDBAL(0), UInt32(truncatingIfNeeded: rxIOVA))
    try write32(E1000.RDBAH(0), UInt32(truncatingIfNeeded: rxIOVA >> 32))
    try write32(E1000.RDLEN(0), ringBytes)
    try write32(E1000.RDH(0), 0)
    try write32(E1000.RDT(0), 0)

    // Advanced one-buffer descriptors (the write-back layout memcpyWait polls); a zero
    // BSIZEPACKET falls back to RCTL.BSIZE's 2048 bytes.
    try write32(E1000.SRRCTL(0), E1000.SRRCTL_DESCTYPE_ADV_ONEBUF)
    try write32(E1000.RXDCTL(0), E1000.RXDCTL_QUEUE_ENABLE)

    // Receiver and transmitter on; LBM_MAC for QEMU only (no effect on a real 82576).
    let rctl = E1000.RCTL_EN | E1000.RCTL_UPE | E1000.RCTL_MPE | E1000.RCTL_BAM | E1000.RCTL_LBM_MAC | E1000.RCTL_SECRC
    try write32(E1000.RCTL, rctl)
    try write32(E1000.TCTL, E1000.TCTL_EN | E1000.TCTL_PSP)

    // The queue enable bits read back set only once RCTL.RXEN/TCTL.TXEN are (C: up to 2000
    // polls 10 us apart, then VFIO_ASSERT_GE(retries, 0)).
    var txdctl: UInt32 = 0
    var rxdctl: UInt32 = 0
    var enabled = false
    for _ in 0..<2000 {
      txdctl = try read32(E1000.TXDCTL(0))
      rxdctl = try read32(E1000.RXDCTL(0))
      if txdctl & E1000.TXDCTL_QUEUE_ENABLE != 0 && rxdctl & E1000.RXDCTL_QUEUE_ENABLE != 0 {
        enabled = true
        break
      }
      Syscalls.sleep(microseconds: 10)
    }
    guard enabled else {
      throw VFIOError.driverDevice(.timeout(driver: Self.name, device: device.name, operation: "init (queue enable)",
                                             limit: "2000 polls 10 us apart", detail: "TXDCTL0 \(hex(txdctl)), RXDCTL0 \(hex(rxdctl))"))
    }

    // MSI-X routing: causes through IVAR and EIAM applied on assertion (GPIE); vector 0
    // auto-cleared (EIAC) and auto-masked (EIAM); RX queue 0 -> vector 0 (IVAR0); vector 0 on.
    try write32(E1000.GPIE, E1000.GPIE_MSIX_MODE | E1000.GPIE_EIAME)
    try write32(E1000.EIAC, Self.MSIX_VECTOR_MASK)
    try write32(E1000.EIAM, Self.MSIX_VECTOR_MASK)
    try write32(E1000.IVAR0, E1000.IVAR_VALID)
    try write32(E1000.EIMS, Self.MSIX_VECTOR_MASK)

    txTail = 0
    rxTail = 0
  }

  /// `igb_error_reset_and_reinit`: FLR through VFIO (retried on EAGAIN), MSI-X re-armed with the
  /// eventfd a test may hold, the registers programmed again.
  private func errorResetAndReinit() throws {
    try device.reset()
    try device.reenableIRQ(index: VFIO.PCI_MSIX_IRQ_INDEX, vector: Self.MSIX_VECTOR, count: 1)
    try hwInit()
  }
}

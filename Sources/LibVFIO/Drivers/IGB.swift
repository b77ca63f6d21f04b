// The selftest driver for the Intel 82576 (igb), a port of
// tools/testing/selftests/vfio/lib/drivers/igb/igb.c (Linux 7.3). Register offsets and bits come
// from drivers/net/ethernet/intel/igb/e1000_{regs,defines,82575}.h and linux/mii.h (see E1000).
//
// A memcpy is a loopback: each copy is one TX descriptor reading `size` bytes from `src` and one
// RX descriptor writing the frame that comes back to `dst`. The PHY is put in internal loopback
// at 1 Gb/s full duplex, and RCTL.LBM_MAC is set as well, for QEMU's emulated igb (which honours
// only MAC loopback). Both rings hold 4096 descriptors and live in the driver region, where C's
// `struct igb` puts them. MSI-X vector 0 is the driver's MSI (RX queue 0 through IVAR, and EICS
// bit 0 for send_msi). A copy that does not complete within about 200 ms resets the device
// (VFIO_DEVICE_RESET), re-arms MSI-X with the same eventfd and re-programs it, and the wait
// returns -ETIMEDOUT, as C does.
//
// C asserts; this port throws IGBError (naming the device) where C's VFIO_ASSERT would abort.
import Glibc
import Synchronization

/// What the igb driver finds wrong (C: a failed VFIO_ASSERT in igb.c).
public enum IGBError: Error, Equatable, CustomStringConvertible {
  /// BAR 0 is not mapped (VFIO did not offer it for mmap); C would dereference NULL.
  case noBAR0(device: String)
  /// An MDIO write did not complete (MDIC.READY unset after 1000 polls 50 µs apart) or
  /// completed with MDIC.ERROR ("Failed to write PHY control register").
  case phyWrite(device: String, register: UInt32, value: UInt16, mdic: UInt32)
  /// EECD.AUTO_RD stayed clear for 20 ms after CTRL.RST and CTRL.RST is still set
  /// ("Device reset did not complete (CTRL.RST not cleared)").
  case resetIncomplete(device: String, ctrl: UInt32)
  /// TXDCTL(0)/RXDCTL(0) QUEUE_ENABLE did not read back set within 2000 polls 10 µs apart.
  case queuesNotEnabled(device: String, txdctl: UInt32, rxdctl: UInt32)
  /// A copy shorter than an Ethernet frame's minimum payload (C asserts size >= 60).
  case sizeTooSmall(device: String, size: UInt64, minimum: UInt64)

  public var description: String {
    switch self {
    case .noBAR0(let d): "igb \(d): BAR 0 is not mapped"
    case .phyWrite(let d, let reg, let value, let mdic):
      "igb \(d): Failed to write PHY control register (PHY register \(reg) = 0x\(hex(value)); MDIC 0x\(hex(mdic)): \(mdic & E1000.MDIC_READY == 0 ? "not ready after 1000 polls" : "error"))"
    case .resetIncomplete(let d, let ctrl):
      "igb \(d): Device reset did not complete (CTRL.RST not cleared; EECD.AUTO_RD not set after 20 ms; CTRL 0x\(hex(ctrl)))"
    case .queuesNotEnabled(let d, let tx, let rx):
      "igb \(d): TX/RX queue 0 not enabled after 2000 polls (TXDCTL0 0x\(hex(tx)), RXDCTL0 0x\(hex(rx)))"
    case .sizeTooSmall(let d, let size, let minimum):
      "igb \(d): IGB driver requires memcpy size to be at least \(minimum) bytes (Ethernet minimum payload size), got \(size)"
    }
  }

  private func hex<T: BinaryInteger>(_ v: T) -> String { String(v, radix: 16) }
}

public final class IGB: VFIOPCIDriverOps {
  public static let name = "igb"
  public static let vendorID: UInt16 = 0x8086
  /// `PCI_DEVICE_ID_INTEL_82576`.
  public static let deviceID: UInt16 = 0x10c9

  /// `IGB_MAX_CHUNK_SIZE`.
  static let maxChunkSize: UInt64 = 1024
  /// `MSIX_VECTOR`, `MSIX_VECTOR_MASK`.
  static let msixVector: UInt32 = 0
  static let msixVectorMask: UInt32 = 1 << msixVector
  /// `RING_SIZE`: descriptors per ring.
  static let ringSize = 4096
  /// The Ethernet minimum payload igb_memcpy_start asserts.
  static let minimumSize: UInt64 = 60

  /// `struct igb` in the driver region: `bar0`, `tx_tail`, `rx_tail`, then the rings, each
  /// `__attribute__((aligned(128)))`; 16-byte descriptors (`struct igb_tx_desc`,
  /// `struct igb_rx_desc`). Only the rings are used here (the tails live in this object).
  enum Layout {
    static let descriptorSize = 16
    static let txRing = 128
    static let rxRing = txRing + ringSize * descriptorSize
    /// `sizeof(struct igb)`.
    static let size = rxRing + ringSize * descriptorSize
    /// `igb_tx_desc.read.{buffer_addr, cmd_type_len, olinfo_status}`.
    static let txBufferAddr = 0
    static let txCmdTypeLen = 8
    static let txOlinfoStatus = 12
    /// `igb_rx_desc.read.{pkt_addr, hdr_addr}` and `.wb.status_error`.
    static let rxPktAddr = 0
    static let rxHdrAddr = 8
    static let rxStatusError = 8
  }

  public static var requiredRegionSize: Int { Layout.size }

  public let maxMemcpySize: UInt64 = IGB.maxChunkSize
  public let maxMemcpyCount: UInt64 = UInt64(IGB.ringSize - 1)
  public let msi: UInt32 = IGB.msixVector

  private let device: VFIOPCIDevice
  private let bar: MappedMemory
  private let region: VFIOPCIDriverRegion
  private var txTail = 0
  private var rxTail = 0

  private var name: String { device.id.description }

  /// `igb_probe`: 8086:10c9.
  public static func probe(_ device: VFIOPCIDevice) -> Bool {
    (try? device.matches(vendor: vendorID, device: deviceID)) == true
  }

  /// `igb_init`: CTRL.RST, MSI-X vector 0 through VFIO, then `igb_hw_init`.
  public init(device: VFIOPCIDevice, region: VFIOPCIDriverRegion) throws {
    self.device = device
    self.region = region
    guard let bar = device.bars.first?.mapping else { throw IGBError.noBAR0(device: device.id.description) }
    self.bar = bar
    try reset()
    try device.enableIRQ(index: VFIO.PCI_MSIX_IRQ_INDEX, vector: msi, count: 1)
    do {
      try hwInit()
    } catch {
      // C aborts here; this port leaves the device as it found it: MSI-X off.
      try? device.disableIRQ(index: VFIO.PCI_MSIX_IRQ_INDEX)
      throw error
    }
  }

  /// `igb_remove`: receiver and transmitter off, CTRL.RST, MSI-X off.
  public func remove() throws {
    write32(E1000.RCTL, 0)
    write32(E1000.TCTL, 0)
    let reset = Result { try self.reset() }
    try device.disableIRQ(index: VFIO.PCI_MSIX_IRQ_INDEX)
    try reset.get()
  }

  /// `igb_memcpy_start`: `count` TX/RX descriptor pairs, then the tails; returns at once.
  public func memcpyStart(src: UInt64, dst: UInt64, size: UInt64, count: UInt64) throws {
    guard size >= Self.minimumSize else { throw IGBError.sizeTooSmall(device: name, size: size, minimum: Self.minimumSize) }
    irqDisable()
    let memory = region.memory
    for _ in 0..<count {
      let tx = Layout.txRing + txTail * Layout.descriptorSize
      let rx = Layout.rxRing + rxTail * Layout.descriptorSize
      memory.store(UInt64(0), at: tx)
      memory.store(UInt64(0), at: tx + 8)
      memory.store(UInt64(0), at: rx)
      memory.store(UInt64(0), at: rx + 8)

      memory.store(dst.littleEndian, at: rx + Layout.rxPktAddr)
      memory.store(UInt64(0).littleEndian, at: rx + Layout.rxHdrAddr)

      memory.store(src.littleEndian, at: tx + Layout.txBufferAddr)
      let cmdTypeLen = UInt32(truncatingIfNeeded: size) | E1000.ADVTXD_DTYP_DATA | E1000.ADVTXD_DCMD_DEXT
        | E1000.ADVTXD_DCMD_IFCS | E1000.ADVTXD_DCMD_EOP
      memory.store(cmdTypeLen.littleEndian, at: tx + Layout.txCmdTypeLen)
      memory.store((UInt32(truncatingIfNeeded: size) << E1000.ADVTXD_PAYLEN_SHIFT).littleEndian, at: tx + Layout.txOlinfoStatus)

      txTail = (txTail + 1) % Self.ringSize
      rxTail = (rxTail + 1) % Self.ringSize
    }
    write32(E1000.RDT(0), UInt32(rxTail))
    write32(E1000.TDT(0), UInt32(txTail))
  }

  /// `igb_memcpy_wait`: polls the last RX descriptor's DD bit up to 200 times 1 ms apart; 0 when
  /// it is set. Otherwise resets and re-programs the device (`igb_error_reset_and_reinit`) and
  /// returns -ETIMEDOUT.
  public func memcpyWait() throws -> Int32 {
    let prevTail = (rxTail + Self.ringSize - 1) % Self.ringSize
    let statusOffset = Layout.rxRing + prevTail * Layout.descriptorSize + Layout.rxStatusError
    var status: UInt32 = 0
    var retries = 200
    while retries > 0 {
      retries -= 1
      status = UInt32(littleEndian: region.memory.load(at: statusOffset, as: UInt32.self))
      if status & 1 != 0 { break }
      usleep(1000)
    }
    // rmb(): no read of the copied data before the descriptor write-back was seen.
    if status & 1 != 0 { atomicMemoryFence(ordering: .acquiring) }

    irqClear()
    irqEnable()

    if status & 1 != 0 { return 0 }

    try errorResetAndReinit()
    return -ETIMEDOUT
  }

  /// `igb_send_msi`: sets EICS bit 0, which raises MSI-X vector 0.
  public var sendMSI: (() throws -> Void)? {
    { [self] in write32(E1000.EICS, Self.msixVectorMask) }
  }

  // MARK: registers

  /// `writel`: a write barrier, then one 32-bit store.
  private func write32(_ reg: Int, _ value: UInt32) {
    atomicMemoryFence(ordering: .sequentiallyConsistent)
    bar.store(value.littleEndian, at: reg)
  }

  /// `readl`: one 32-bit load, then a read barrier.
  private func read32(_ reg: Int) -> UInt32 {
    let v = UInt32(littleEndian: bar.load(at: reg, as: UInt32.self))
    atomicMemoryFence(ordering: .acquiring)
    return v
  }

  private func irqDisable() { write32(E1000.EIMC, Self.msixVectorMask) }
  private func irqEnable() { write32(E1000.EIMS, Self.msixVectorMask) }
  /// Write-to-clear: with EIAC programmed EICR must not be read (82576 datasheet 8.8.5).
  private func irqClear() { write32(E1000.EICR, 0xFFFF_FFFF) }

  // MARK: bring-up

  /// `igb_write_phy`: one MDIO write to PHY 1, polled up to 1000 times 50 µs apart.
  private func writePHY(_ offset: UInt32, _ data: UInt16) throws(IGBError) {
    var mdic = UInt32(data) | (offset << E1000.MDIC_REG_SHIFT) | (1 << E1000.MDIC_PHY_SHIFT) | E1000.MDIC_OP_WRITE
    write32(E1000.MDIC, mdic)
    for _ in 0..<1000 {
      usleep(50)
      mdic = read32(E1000.MDIC)
      if mdic & E1000.MDIC_READY != 0 { break }
    }
    guard mdic & E1000.MDIC_READY != 0, mdic & E1000.MDIC_ERROR == 0 else {
      throw .phyWrite(device: name, register: offset, value: data, mdic: mdic)
    }
  }

  /// `igb_setup_loopback`: autoneg kicked once (brings STATUS.LU up under QEMU), then PHY
  /// loopback at 1 Gb/s full duplex, and the MAC forced to the same with link up.
  private func setupLoopback() throws(IGBError) {
    _ = try? writePHY(MII.BMCR, MII.BMCR_ANENABLE | MII.BMCR_ANRESTART)
    try writePHY(MII.BMCR, MII.BMCR_LOOPBACK | MII.BMCR_SPEED1000 | MII.BMCR_FULLDPLX)
    usleep(50_000)
    var ctrl = read32(E1000.CTRL)
    ctrl &= ~E1000.CTRL_SPD_SEL
    ctrl |= E1000.CTRL_FRCSPD | E1000.CTRL_FRCDPX | E1000.CTRL_SPD_1000 | E1000.CTRL_FD | E1000.CTRL_SLU
    write32(E1000.CTRL, ctrl)
    usleep(500_000)
  }

  /// `igb_reset`: CTRL.RST, 1 ms, then EECD.AUTO_RD polled up to 20 ms (QEMU never sets it: then
  /// CTRL.RST must read clear); all interrupts masked.
  private func reset() throws(IGBError) {
    write32(E1000.CTRL, read32(E1000.CTRL) | E1000.CTRL_RST)
    usleep(1000)
    var retries = 20
    while retries > 0, read32(E1000.EECD) & E1000.EECD_AUTO_RD == 0 {
      retries -= 1
      usleep(1000)
    }
    if retries == 0 {
      let ctrl = read32(E1000.CTRL)
      guard ctrl & E1000.CTRL_RST == 0 else { throw .resetIncomplete(device: name, ctrl: ctrl) }
    }
    write32(E1000.IMC, 0xFFFF_FFFF)
  }

  /// `igb_hw_init`: everything CTRL.RST and FLR clear, with MSI-X already enabled through VFIO.
  private func hwInit() throws {
    let txIOVA = region.iova + UInt64(Layout.txRing)
    let rxIOVA = region.iova + UInt64(Layout.rxRing)

    var ctrl = read32(E1000.CTRL_EXT)
    ctrl |= E1000.CTRL_EXT_DRV_LOAD
    ctrl &= ~E1000.CTRL_EXT_LINK_MODE_MASK
    write32(E1000.CTRL_EXT, ctrl)

    var command = try device.configRead(PCIConfig.COMMAND, as: UInt16.self)
    let wanted = PCIConfig.COMMAND_MASTER | PCIConfig.COMMAND_MEMORY
    if command & wanted != wanted {
      command |= wanted
      try device.configWrite(PCIConfig.COMMAND, command)
    }

    try setupLoopback()

    // No DMA re-send on a PCIe completion timeout: the unmapped-IOVA cases would retry forever.
    write32(E1000.GCR, read32(E1000.GCR) & ~E1000.GCR_CMPL_TMOUT_RESEND)

    let ringBytes = UInt32(Self.ringSize * Layout.descriptorSize)
    write32(E1000.TDBAL(0), UInt32(truncatingIfNeeded: txIOVA))
    write32(E1000.TDBAH(0), UInt32(truncatingIfNeeded: txIOVA >> 32))
    write32(E1000.TDLEN(0), ringBytes)
    write32(E1000.TDH(0), 0)
    write32(E1000.TDT(0), 0)
    write32(E1000.TXDCTL(0), E1000.TXDCTL_QUEUE_ENABLE)

    write32(E1000.RDBAL(0), UInt32(truncatingIfNeeded: rxIOVA))
    write32(E1000.RDBAH(0), UInt32(truncatingIfNeeded: rxIOVA >> 32))
    write32(E1000.RDLEN(0), ringBytes)
    write32(E1000.RDH(0), 0)
    write32(E1000.RDT(0), 0)

    // Advanced one-buffer descriptors (the RX write-back layout polled in memcpyWait); a zero
    // BSIZEPACKET falls back to RCTL.BSIZE's 2048 bytes.
    write32(E1000.SRRCTL(0), E1000.SRRCTL_DESCTYPE_ADV_ONEBUF)
    write32(E1000.RXDCTL(0), E1000.RXDCTL_QUEUE_ENABLE)

    // LBM_MAC for QEMU (see the header); no effect on a real 82576.
    let rctl = E1000.RCTL_EN | E1000.RCTL_UPE | E1000.RCTL_MPE | E1000.RCTL_BAM | E1000.RCTL_LBM_MAC | E1000.RCTL_SECRC
    write32(E1000.RCTL, rctl)
    write32(E1000.TCTL, E1000.TCTL_EN | E1000.TCTL_PSP)

    var retries = 2000
    var txdctl: UInt32 = 0
    var rxdctl: UInt32 = 0
    var enabled = false
    while retries > 0 {
      retries -= 1
      txdctl = read32(E1000.TXDCTL(0))
      rxdctl = read32(E1000.RXDCTL(0))
      if txdctl & E1000.TXDCTL_QUEUE_ENABLE != 0 && rxdctl & E1000.RXDCTL_QUEUE_ENABLE != 0 {
        enabled = true
        break
      }
      usleep(10)
    }
    guard enabled else { throw IGBError.queuesNotEnabled(device: name, txdctl: txdctl, rxdctl: rxdctl) }

    // MSI-X routing: causes through IVAR, EIAM applied on assertion; vector 0 auto-cleared and
    // auto-masked; RX queue 0 -> vector 0; vector 0 enabled.
    write32(E1000.GPIE, E1000.GPIE_MSIX_MODE | E1000.GPIE_EIAME)
    write32(E1000.EIAC, Self.msixVectorMask)
    write32(E1000.EIAM, Self.msixVectorMask)
    write32(E1000.IVAR0, E1000.IVAR_VALID)
    write32(E1000.EIMS, Self.msixVectorMask)

    txTail = 0
    rxTail = 0
  }

  /// `igb_error_reset_and_reinit`: FLR through VFIO, MSI-X re-armed with the same eventfd (a
  /// test may hold it), registers programmed again.
  private func errorResetAndReinit() throws {
    try device.reset()
    try device.reenableIRQ(index: VFIO.PCI_MSIX_IRQ_INDEX, vector: msi, count: 1)
    try hwInit()
  }
}

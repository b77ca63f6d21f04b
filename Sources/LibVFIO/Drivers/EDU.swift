// SPDX-License-Identifier: GPL-2.0-only
// The selftest driver for QEMU's edu device (1234:11e8; QEMU's docs/specs/edu.rst and
// hw/misc/edu.c), this port's own: the C selftests have no driver for a device every QEMU has.
//
// What the device offers, and what that makes of the driver contract:
// - BAR 0 (1 MiB of MMIO): registers below 0x80 take 4-byte accesses only, those from 0x80 on 4
//   or 8. 0x00 reads 0xRRrr00ed (version RR.rr), 0x04 reads back the inverse of what was written
//   (the liveness check): probe checks the first, init both.
// - One DMA engine with one 4 KiB buffer at device address 0x40000, and one transfer at a time:
//   either RAM -> buffer or buffer -> RAM, never RAM -> RAM. While a transfer runs the device
//   ignores writes to the DMA registers, so the second transfer of a copy can only be programmed
//   once the first has finished. edu.c runs each transfer from a timer 100 ms (QEMU virtual
//   clock) after the command is written. A memcpy of up to a buffer's worth is therefore two
//   transfers. max_memcpy_size is 4095, not 4096: edu.c's range check had an off-by-one that
//   QEMU 7.2 still has (QEMU issue #1254; seen on Debian's 7.2.22): a transfer that ends at the
//   buffer's last byte makes QEMU abort ("qemu: hardware error: EDU: DMA range
//   0x0000000000040000-0x0000000000040fff out of bounds (0x0000000000040000-0x0000000000040fff)!"),
//   and nothing the guest can read tells the versions apart.
// - DMA addresses are masked to the device's dma_mask, 28 bits by default (`-device edu` has no
//   way to tell the guest another one): an IOVA at or above 256 MiB is not refused but silently
//   aliased to a low one (edu.c's edu_clamp_addr). memcpyStart therefore refuses IOVAs beyond
//   the mask, and `dmaMask` tells a test to allocate its IOVAs below it.
// - The device reports no DMA error: a transfer whose IOVA the IOMMU refuses still completes (the
//   vIOMMU records a DMA fault, which the guest kernel logs as a DMAR fault), so memcpyWait
//   returns non-zero only when a transfer did not finish in time.
// - MSI (one vector, no MSI-X): writing a value to the raise register (0x60) ORs it into the
//   interrupt status and, with MSI on, sends the MSI then and there; the acknowledge register
//   (0x64) clears it. The driver enables MSI vector 0 through VFIO, and `msi` is 0.
import SystemPackage

/// What the edu driver refuses, or finds wrong with the device, each naming the device: the kind
/// of a `VFIOError.edu`.
public enum EDUError: Equatable, CustomStringConvertible, Sendable {
  /// BAR 0 is not mapped (VFIO did not offer it for mmap).
  case noBAR0(device: String)
  /// The identification register does not read 0xRRrr00ed.
  case identification(device: String, value: UInt32)
  /// The liveness register did not read back the inverse of what was written.
  case liveness(device: String, wrote: UInt32, read: UInt32)
  /// The device has no MSI vector to offer through VFIO.
  case noMSI(device: String)
  /// A DMA transfer was still running after `waitedMilliseconds` (command register `command`).
  case busy(device: String, operation: String, command: UInt64, waitedMilliseconds: Int)
  /// `[iova, iova + size)` reaches past the device's DMA mask; the device would alias it.
  case beyondDMAMask(device: String, what: String, iova: UInt64, size: UInt64, mask: UInt64)
  /// A copy of 0 bytes, or of more than the device's buffer.
  case invalidSize(device: String, size: UInt64, max: UInt64)

  public var description: String {
    switch self {
    case .noBAR0(let d): "edu \(d): BAR 0 is not mapped"
    case .identification(let d, let v): "edu \(d): identification register reads 0x\(hex(v)), expected 0xRRrr00ed"
    case .liveness(let d, let w, let r): "edu \(d): liveness register: wrote 0x\(hex(w)), read 0x\(hex(r)), expected 0x\(hex(~w))"
    case .noMSI(let d): "edu \(d): no MSI vector (VFIO_DEVICE_GET_IRQ_INFO MSI count 0)"
    case .busy(let d, let op, let cmd, let ms): "edu \(d): \(op): DMA transfer still running after \(ms) ms (command register 0x\(hex(cmd)))"
    case .beyondDMAMask(let d, let what, let iova, let size, let mask):
      "edu \(d): \(what) IOVA 0x\(hex(iova)) (+0x\(hex(size)) bytes) is beyond the DMA mask 0x\(hex(mask)): the device would alias it to 0x\(hex(iova & mask))"
    case .invalidSize(let d, let size, let max): "edu \(d): copy of \(size) bytes: the DMA buffer takes 1 to \(max)"
    }
  }

  private func hex<T: BinaryInteger>(_ v: T) -> String { String(v, radix: 16) }
}

public final class EDU: VFIOPCIDriverOps {
  public static let name = "edu"
  public static let vendorID: UInt16 = 0x1234
  public static let deviceID: UInt16 = 0x11e8

  /// BAR 0 registers (edu.rst, "MMIO area spec").
  enum Register {
    static let identification = 0x00
    static let liveness = 0x04
    static let status = 0x20
    static let interruptRaise = 0x60
    static let interruptAcknowledge = 0x64
    static let dmaSource = 0x80
    static let dmaDestination = 0x88
    static let dmaCount = 0x90
    static let dmaCommand = 0x98
  }

  /// DMA command register bits.
  enum DMACommand {
    static let start: UInt64 = 0x1
    /// Direction: set = buffer -> RAM, clear = RAM -> buffer.
    static let toRAM: UInt64 = 0x2
    /// Raise interrupt 0x100 when done: never set (memcpy must raise no interrupt).
    static let interrupt: UInt64 = 0x4
  }

  /// The device's DMA buffer: its address on the device side and its size.
  static let bufferAddress: UInt64 = 0x40000
  static let bufferSize: UInt64 = 4096
  /// The most one transfer may move: one byte short of the buffer (see the file comment).
  static let maxTransfer: UInt64 = bufferSize - 1

  /// The default `dma_mask` of `-device edu`: 28 bits (256 MiB).
  public static var dmaMask: UInt64 { (1 << 28) - 1 }

  /// edu keeps no descriptors in memory: all its state is in registers.
  public static var requiredRegionSize: Int { 0 }

  /// The copies one memcpy_start/memcpy_wait pair may ask for.
  ///
  /// memcpy_start must return at once and raise no interrupt. edu can only have one transfer in
  /// flight, and a copy is two transfers that the CPU must sequence (the buffer -> RAM one can
  /// only be programmed once the RAM -> buffer one is done), so not even one whole copy can run
  /// without the CPU: memcpy_start starts the first transfer and returns; memcpy_wait, which may
  /// wait, does the rest and the other `count - 1` copies, as C's nv_falcon does (its memcpy_start
  /// only records the request). The bound is time, not the device: each transfer takes at least
  /// 100 ms of QEMU's virtual clock, so 64 copies (128 transfers, about 13 s) keep the storm of
  /// `vfio_pci_driver_test` well inside its 60 s.
  static let maxCount: UInt64 = 64

  /// The value the driver raises in the interrupt status for send_msi (edu's own sources are 0x1,
  /// the factorial, and 0x100, a DMA).
  static let selftestInterrupt: UInt32 = 0x1000_0000

  /// How long one transfer may take (100 ms nominal; TCG on a loaded host is slower).
  static let transferTimeout: Duration = .seconds(3)
  static let pollInterval: UInt32 = 1000

  public let maxMemcpySize: UInt64 = EDU.maxTransfer
  public let maxMemcpyCount: UInt64 = EDU.maxCount
  public let msi: UInt32 = 0

  private let device: VFIOPCIDevice
  private let bar: MappedMemory
  private var pending: Pending?

  /// The copies memcpy_start asked for; the first transfer of the first copy is already running.
  private struct Pending {
    let src: UInt64
    let dst: UInt64
    let size: UInt64
    let count: UInt64
  }

  private var name: String { device.id.description }

  /// 1234:11e8 whose identification register reads 0xRRrr00ed.
  public static func probe(_ device: VFIOPCIDevice) -> Bool {
    guard (try? device.matches(vendor: vendorID, device: deviceID)) == true,
      let bar = device.bars.first?.mapping
    else { return false }
    return isIdentification(bar.load(at: Register.identification, as: UInt32.self))
  }

  static func isIdentification(_ value: UInt32) -> Bool { value & 0xffff == 0x00ed }

  /// Checks the identification and liveness registers, turns on memory decoding and bus
  /// mastering (INTx off), waits for a transfer left running, clears the interrupt state and
  /// enables MSI vector 0 through VFIO.
  public init(device: VFIOPCIDevice, region: VFIOPCIDriverRegion) throws {
    self.device = device
    guard let bar = device.bars.first?.mapping else { throw VFIOError.edu(.noBAR0(device: device.id.description)) }
    self.bar = bar

    let id = bar.load(at: Register.identification, as: UInt32.self)
    guard Self.isIdentification(id) else { throw VFIOError.edu(.identification(device: name, value: id)) }
    for pattern: UInt32 in [0x0000_0000, 0x5aa5_c33c] {
      bar.store(pattern, at: Register.liveness)
      let read = bar.load(at: Register.liveness, as: UInt32.self)
      guard read == ~pattern else { throw VFIOError.edu(.liveness(device: name, wrote: pattern, read: read)) }
    }

    try device.commandSet(PCIConfig.COMMAND_MEMORY | PCIConfig.COMMAND_MASTER | PCIConfig.COMMAND_INTX_DISABLE)
    try waitIdle("init")
    bar.store(UInt32(0), at: Register.status)  // no interrupt after a factorial
    bar.store(UInt32.max, at: Register.interruptAcknowledge)

    guard device.msiInfo.count >= 1 else { throw VFIOError.edu(.noMSI(device: name)) }
    try device.enableIRQ(index: VFIO.PCI_MSI_IRQ_INDEX, vector: msi, count: 1)
  }

  /// Waits for a running transfer, clears the interrupt state, disables MSI and bus mastering.
  public func remove() throws {
    pending = nil
    let idle = Result { try waitIdle("remove") }
    bar.store(UInt32.max, at: Register.interruptAcknowledge)
    try device.disableIRQ(index: VFIO.PCI_MSI_IRQ_INDEX)
    try device.commandClear(PCIConfig.COMMAND_MASTER)
    try idle.get()
  }

  /// Checks the request, starts the RAM -> buffer transfer of the first copy, and returns.
  public func memcpyStart(src: UInt64, dst: UInt64, size: UInt64, count: UInt64) throws {
    guard size > 0, size <= Self.maxTransfer else { throw VFIOError.edu(.invalidSize(device: name, size: size, max: Self.maxTransfer)) }
    for (what, iova) in [("source", src), ("destination", dst)] where !dmaRange(iova: iova, size: size, fits: Self.dmaMask) {
      throw VFIOError.edu(.beyondDMAMask(device: name, what: what, iova: iova, size: size, mask: Self.dmaMask))
    }
    let command = dmaCommand
    guard command & DMACommand.start == 0 else {
      throw VFIOError.edu(.busy(device: name, operation: "memcpy_start", command: command, waitedMilliseconds: 0))
    }
    pending = Pending(src: src, dst: dst, size: size, count: count)
    if count > 0 { startTransfer(from: src, to: Self.bufferAddress, size: size, toRAM: false) }
  }

  /// Runs the pending copies one transfer at a time; -ETIMEDOUT when a transfer does not finish
  /// within `transferTimeout` (the device reports no other error).
  public func memcpyWait() throws -> Int32 {
    guard let p = pending else { return 0 }
    pending = nil
    for i in 0..<p.count {
      if i > 0 { startTransfer(from: p.src, to: Self.bufferAddress, size: p.size, toRAM: false) }
      guard transferDone("RAM -> edu, 0x\(String(p.size, radix: 16)) bytes from IOVA 0x\(String(p.src, radix: 16)), copy \(i + 1) of \(p.count)") else {
        return -Errno.timedOut.rawValue
      }
      startTransfer(from: Self.bufferAddress, to: p.dst, size: p.size, toRAM: true)
      guard transferDone("edu -> RAM, 0x\(String(p.size, radix: 16)) bytes to IOVA 0x\(String(p.dst, radix: 16)), copy \(i + 1) of \(p.count)") else {
        return -Errno.timedOut.rawValue
      }
    }
    return 0
  }

  /// Raises the selftest's interrupt (one MSI, sent as the register is written) and acknowledges
  /// it, so the next raise finds the status clear.
  public var sendMSI: (() throws -> Void)? {
    { [self] in
      bar.store(Self.selftestInterrupt, at: Register.interruptRaise)
      bar.store(Self.selftestInterrupt, at: Register.interruptAcknowledge)
    }
  }

  // MARK: the DMA engine

  private var dmaCommand: UInt64 { bar.load(at: Register.dmaCommand, as: UInt64.self) }

  private func startTransfer(from src: UInt64, to dst: UInt64, size: UInt64, toRAM: Bool) {
    bar.store(src, at: Register.dmaSource)
    bar.store(dst, at: Register.dmaDestination)
    bar.store(size, at: Register.dmaCount)
    bar.store(DMACommand.start | (toRAM ? DMACommand.toRAM : 0), at: Register.dmaCommand)
  }

  /// Polls the command register until the running transfer is done, up to `timeout`.
  private func waitForEngine(timeout: Duration) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while dmaCommand & DMACommand.start != 0 {
      if ContinuousClock.now >= deadline { return dmaCommand & DMACommand.start == 0 }
      Syscalls.sleep(microseconds: Self.pollInterval)
    }
    return true
  }

  /// Whether the transfer finished in time; if not, says which, naming the device. `what` is
  /// formatted only then (a memcpy formats no string unless it fails).
  private func transferDone(_ what: @autoclosure () -> String) -> Bool {
    if waitForEngine(timeout: Self.transferTimeout) { return true }
    print("\(name): edu: DMA \(what()) not done after \(Self.transferTimeout) (command register 0x\(String(dmaCommand, radix: 16)))")
    return false
  }

  private func waitIdle(_ operation: String) throws(VFIOError) {
    guard waitForEngine(timeout: Self.transferTimeout) else {
      throw .edu(.busy(device: name, operation: operation, command: dmaCommand,
                  waitedMilliseconds: Int(Self.transferTimeout.components.seconds * 1000)))
    }
  }
}

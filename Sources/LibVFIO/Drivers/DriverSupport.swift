// SPDX-License-Identifier: GPL-2.0-only
// What the ports of the C selftest drivers (tools/testing/selftests/vfio/lib/drivers/, Linux 7.3)
// share: the typed errors their VFIO_ASSERT/VFIO_FAIL become, bounds-checked MMIO on a BAR,
// what a probe reads (so the probe logic runs on config-space values in unit tests), and
// libvfio's dev_err/dev_info.
import CVFIOShim
import SystemPackage

/// A selftest driver's failure on a device: C's `VFIO_ASSERT_*`/`VFIO_FAIL` in a driver (which
/// abort the test) and its poll loops that run out of time. Each names the driver, the device
/// and the operation. The kind of a `VFIOError.driverDevice`.
public enum VFIOPCIDriverDeviceError: Equatable, CustomStringConvertible, Sendable {
  /// A poll loop gave up: `limit` is C's (for example "5000 polls 1 ms apart"), or this port's
  /// where C polls without a limit.
  case timeout(driver: String, device: String, operation: String, limit: String, detail: String)
  /// A driver's assertion failed (C: VFIO_ASSERT_* / VFIO_FAIL).
  case assertion(driver: String, device: String, operation: String, detail: String)
  /// A driver step failed the way C's int-returning helpers report it: `code` is their return
  /// value (a negative errno, or the negated status a device answered with).
  case failed(driver: String, device: String, operation: String, code: Int32, detail: String)
  /// The driver needs BAR `bar` mapped (and at least `needed` bytes of it).
  case barUnavailable(driver: String, device: String, bar: Int, needed: Int, size: Int)

  public var description: String {
    switch self {
    case .timeout(let drv, let dev, let op, let limit, let detail):
      "\(drv) \(op) on \(dev): timed out after \(limit)" + (detail.isEmpty ? "" : ": \(detail)")
    case .assertion(let drv, let dev, let op, let detail):
      "\(drv) \(op) on \(dev): \(detail)"
    case .failed(let drv, let dev, let op, let code, let detail):
      "\(drv) \(op) on \(dev): \(detail) (\(code)\(code < 0 && code > -4096 ? " " + Errno.name(of: Errno(rawValue: -code)) : ""))"
    case .barUnavailable(let drv, let dev, let bar, let needed, let size):
      size == 0
        ? "\(drv) on \(dev): BAR\(bar) is not mapped"
        : "\(drv) on \(dev): access to BAR\(bar) up to 0x\(String(needed, radix: 16)) past its 0x\(String(size, radix: 16)) bytes"
    }
  }
}

/// One BAR's MMIO for a driver: C's readb/readw/readl/readq and write*, with an access beyond the
/// BAR a typed error instead of a fault.
struct DriverMMIO {
  let memory: MappedMemory
  let bar: Int
  let driver: String
  let device: String

  init(_ device: VFIOPCIDevice, bar: Int, driver: String) throws(VFIOError) {
    guard bar < device.bars.count, let m = device.bars[bar].mapping else {
      throw .driverDevice(.barUnavailable(driver: driver, device: device.name, bar: bar, needed: 0, size: 0))
    }
    memory = m
    self.bar = bar
    self.driver = driver
    self.device = device.name
  }

  @inline(__always)
  private func check(_ offset: Int, _ width: Int) throws(VFIOError) {
    guard offset >= 0, offset + width <= memory.size else { throw outOfBounds(offset, width) }
  }

  @inline(never)
  private func outOfBounds(_ offset: Int, _ width: Int) -> VFIOError {
    .driverDevice(.barUnavailable(driver: driver, device: device, bar: bar, needed: offset + width, size: memory.size))
  }

  // Inlined into the drivers, as C's readl/writel are: the access itself and the bounds check,
  // no call (each call and return is an indirect branch for TCG; docs/benchmark.md).
  @inline(__always)
  func read<T: FixedWidthInteger>(_ offset: Int, as: T.Type = T.self) throws(VFIOError) -> T {
    try check(offset, MemoryLayout<T>.size)
    return T(littleEndian: memory.load(at: offset, as: T.self))
  }

  @inline(__always)
  func write<T: FixedWidthInteger>(_ value: T, _ offset: Int) throws(VFIOError) {
    try check(offset, MemoryLayout<T>.size)
    memory.store(value.littleEndian, at: offset)
  }

  /// One 64-byte command from `source` at `sourceOffset` to `offset` of this BAR with MOVDIR64B
  /// (`iosubmit_cmds512`), the BAR checked for the 64 bytes.
  func submitCommand512(_ offset: Int, from source: MappedMemory, at sourceOffset: Int) throws(VFIOError) {
    try check(offset, 64)
    memory.submitCommands512(at: offset, from: source, sourceOffset: sourceOffset, count: 1)
  }
}

/// What a driver's probe reads: 16-bit config-space words, and BAR0 when it is mapped. Built from
/// a device, or from plain values so that unit tests can run the probe logic without hardware.
public struct VFIOPCIProbeInput {
  /// The device's name for messages (libvfio's `device->bdf`).
  public let device: String
  public let readConfig16: (UInt64) throws -> UInt16
  public let bar0: MappedMemory?

  public init(_ device: VFIOPCIDevice) {
    self.device = device.name
    readConfig16 = { try device.configRead($0, as: UInt16.self) }
    bar0 = device.bars.first?.mapping
  }

  /// A device that is only these config-space words (absent ones read as 0xffff, as config
  /// space reads for an absent function) and this BAR0.
  public init(device: String, config: [UInt64: UInt16], bar0: MappedMemory? = nil) {
    self.device = device
    readConfig16 = { config[$0] ?? 0xffff }
    self.bar0 = bar0
  }

  /// A config-space word, or nil (after saying why) when the read fails: C's
  /// `vfio_pci_config_readw` asserts, but a probe cannot throw here, so it matches nothing.
  func config16(_ offset: UInt64, driver: String) -> UInt16? {
    do {
      return try readConfig16(offset)
    } catch {
      devErr(device, "\(driver): probe: config read at 0x\(String(offset, radix: 16)) failed: \(error)\n")
      return nil
    }
  }

  /// A BAR0 value, or nil when BAR0 is not mapped or too small.
  func bar0Read<T: FixedWidthInteger>(_ offset: Int, as: T.Type = T.self) -> T? {
    guard let bar0, offset + MemoryLayout<T>.size <= bar0.size else { return nil }
    return T(littleEndian: bar0.load(at: offset, as: T.self))
  }
}

/// libvfio's `dev_err`: "<device>: <message>" on stderr (the message carries its own newline).
func devErr(_ device: String, _ message: String) {
  _ = try? FileDescriptor.standardError.writeAll(Array("\(device): \(message)".utf8))
}

/// libvfio's `dev_info`: "<device>: <message>" on stdout.
func devInfo(_ device: String, _ message: String) {
  print("\(device): \(message)", terminator: "")
}

/// CLOCK_MONOTONIC in milliseconds.
func monotonicMilliseconds() -> UInt64 {
  let ts = Syscalls.monotonicClock()
  return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
}

/// Where C polls a register without any limit, this port stops after the longest time the C
/// harness lets a driver test run (`TEST_F_TIMEOUT(60)` of memcpy_storm); past it C's test
/// would have been killed.
let driverUnboundedPollLimitMilliseconds: UInt64 = 60_000

/// A bit field of a register: `width` bits from bit `shift`.
struct RegisterField {
  let shift: Int
  let width: Int
  var mask: UInt64 { (width == 64 ? ~0 : (UInt64(1) << width) - 1) << shift }
  func get(_ v: UInt64) -> UInt64 { (v & mask) >> shift }
  func get(_ v: UInt32) -> UInt32 { UInt32(truncatingIfNeeded: get(UInt64(v))) }
  func set(_ field: UInt64, in v: UInt64) -> UInt64 { (v & ~mask) | ((field << shift) & mask) }
}

func hex<T: BinaryInteger>(_ v: T) -> String { "0x" + String(v, radix: 16) }

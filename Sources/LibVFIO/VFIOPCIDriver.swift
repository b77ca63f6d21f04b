// SPDX-License-Identifier: GPL-2.0-only
// The selftest DMA driver layer (tools/testing/selftests/vfio/lib/vfio_pci_driver.c and
// include/libvfio/vfio_pci_driver.h, Linux 7.3): a driver makes a device copy memory by DMA
// and send an MSI, so tests can check the IOMMU mappings end to end. One file per driver
// (Drivers/); this file holds the ops contract, the probe, and the library's checks (call
// order, in-progress state, size and count limits), which C asserts and this port throws as
// typed errors.

/// What one selftest driver does with a device (`struct vfio_pci_driver_ops`). An instance is
/// the driver's state for one device (C keeps it in `driver.region`).
public protocol VFIOPCIDriverOps: AnyObject {
  /// `ops->name`.
  static var name: String { get }

  /// `ops->probe`: whether this driver supports `device` (C: 0 on success).
  static func probe(_ device: VFIOPCIDevice) -> Bool

  /// `ops->init`: brings the device up, using `region` (DMA-mapped by the caller, at least
  /// `requiredRegionSize` bytes) for its descriptors. Sets the limits and the MSI vector.
  init(device: VFIOPCIDevice, region: VFIOPCIDriverRegion) throws

  /// The bytes of `region` the driver needs.
  static var requiredRegionSize: Int { get }

  /// The IOVA bits the device can drive (a device's DMA mask; not in C, whose drivers all reach
  /// 64 bits). Every IOVA handed to `memcpyStart`, and the region, must lie within it: a test
  /// allocates its IOVAs below it, before `init`. Default: all 64 bits.
  static var dmaMask: UInt64 { get }

  /// `driver.max_memcpy_size`, `driver.max_memcpy_count`, `driver.msi`: set by `init`
  /// (`VFIOPCIDriver` reads the two limits once, right after it).
  var maxMemcpySize: UInt64 { get }
  var maxMemcpyCount: UInt64 { get }
  var msi: UInt32 { get }

  /// `ops->remove`.
  func remove() throws

  /// `ops->memcpy_start`: starts `count` copies of [src, src + size) to [dst, dst + size) and
  /// returns at once; raises no interrupt.
  func memcpyStart(src: UInt64, dst: UInt64, size: UInt64, count: UInt64) throws

  /// `ops->memcpy_wait`: waits for the copies; non-zero when the driver detected an error.
  func memcpyWait() throws -> Int32

  /// `ops->send_msi` (optional in C): nil when the driver has none.
  var sendMSI: (() throws -> Void)? { get }
}

extension VFIOPCIDriverOps {
  public static var dmaMask: UInt64 { .max }
}

/// Whether the IOVAs `[iova, iova + size)` all lie within `mask` (an empty range does).
func dmaRange(iova: UInt64, size: UInt64, fits mask: UInt64) -> Bool {
  size == 0 || (iova <= mask && size - 1 <= mask - iova)
}

/// The memory a driver keeps its descriptors in: mapped in this process and at `iova` for the
/// device (`driver.region`).
public struct VFIOPCIDriverRegion {
  public let memory: MappedMemory
  public let iova: UInt64
  public init(memory: MappedMemory, iova: UInt64) {
    self.memory = memory
    self.iova = iova
  }
}

/// What the library's checks refuse (`vfio_check_driver_op` and friends): the kind of a
/// `VFIOError.driver`.
public enum VFIOPCIDriverError: Equatable, CustomStringConvertible, Sendable {
  case noDriver(device: String)
  case noOp(driver: String, op: String)
  case notInitialized(driver: String, op: String)
  case alreadyInitialized(driver: String)
  case memcpyInProgress(driver: String, op: String)
  case noMemcpyInProgress(driver: String)
  case sizeTooLarge(driver: String, size: UInt64, max: UInt64)
  case countTooLarge(driver: String, count: UInt64, max: UInt64)
  case regionTooSmall(driver: String, size: Int, needed: Int)
  /// IOVAs `[iova, iova + size)` reach past the device's DMA mask (`VFIOPCIDriverOps.dmaMask`).
  case beyondDMAMask(driver: String, what: String, iova: UInt64, size: UInt64, mask: UInt64)

  public var description: String {
    switch self {
    case .noDriver(let d): "No driver found for device \(d)"
    case .noOp(let drv, let op): "Driver \(drv) has no \(op)()"
    case .notInitialized(let drv, let op): "\(drv): \(op)() before init()"
    case .alreadyInitialized(let drv): "\(drv): init() while initialized"
    case .memcpyInProgress(let drv, let op): "\(drv): \(op)() while a memcpy is in progress"
    case .noMemcpyInProgress(let drv): "\(drv): memcpy_wait() with no memcpy in progress"
    case .sizeTooLarge(let drv, let size, let max): "\(drv): memcpy size 0x\(String(size, radix: 16)) > max_memcpy_size 0x\(String(max, radix: 16))"
    case .countTooLarge(let drv, let count, let max): "\(drv): memcpy count \(count) > max_memcpy_count \(max)"
    case .regionTooSmall(let drv, let size, let needed): "\(drv): driver region of \(size) bytes, needs \(needed)"
    case .beyondDMAMask(let drv, let what, let iova, let size, let mask):
      "\(drv): \(what) at IOVA 0x\(String(iova, radix: 16)) (0x\(String(size, radix: 16)) bytes) is beyond the device's DMA mask 0x\(String(mask, radix: 16))"
    }
  }
}

/// `struct vfio_pci_driver`: the driver a device probed to, its state, and the checked calls.
public final class VFIOPCIDriver {
  /// The drivers in C's probe order (`dsa`, `ioat` on x86_64, `nv_falcon`, `igb`), then this
  /// port's own (`edu`). C's loop does not break: the last match wins.
  public static var all: [any VFIOPCIDriverOps.Type] {
    var drivers: [any VFIOPCIDriverOps.Type] = []
    #if arch(x86_64)
    drivers.append(DSADriver.self)
    drivers.append(IOATDriver.self)
    #endif
    drivers.append(NVFalconDriver.self)
    drivers.append(IGBDriver.self)
    drivers.append(EDU.self)
    return drivers
  }

  /// The device's name (its BDF), for messages.
  public let deviceName: String
  public let ops: any VFIOPCIDriverOps.Type
  // The state is private storage behind public getters: with every access inside this file the
  // optimizer drops the runtime exclusivity checks (swift_beginAccess) a public `var` costs on
  // each memcpy.
  private var live: (any VFIOPCIDriverOps)?
  private var inProgress = false
  /// The instance's `max_memcpy_size` and `max_memcpy_count`, read once after its init (the
  /// drivers set them there, as C's do), so a memcpy makes no witness call for them.
  private var limits: (size: UInt64, count: UInt64) = (0, 0)
  /// `ops.init(device:region:)` for the probed device.
  private let makeInstance: (VFIOPCIDriverRegion) throws -> any VFIOPCIDriverOps

  public var instance: (any VFIOPCIDriverOps)? { live }
  public var memcpyInProgress: Bool { inProgress }
  public var name: String { ops.name }
  public var initialized: Bool { live != nil }

  convenience init(device: VFIOPCIDevice, ops: any VFIOPCIDriverOps.Type) {
    self.init(deviceName: device.id.description, ops: ops) { try ops.init(device: device, region: $0) }
  }

  /// The library's checks around an instance made by `makeInstance` rather than by
  /// `ops.init(device:region:)`: the unit tests drive a fake driver through it, with no device.
  package init(deviceName: String, ops: any VFIOPCIDriverOps.Type,
               makeInstance: @escaping (VFIOPCIDriverRegion) throws -> any VFIOPCIDriverOps) {
    self.deviceName = deviceName
    self.ops = ops
    self.makeInstance = makeInstance
  }

  /// `vfio_pci_driver_probe`: the driver for `device`, or nil ("No driver found").
  public static func probe(_ device: VFIOPCIDevice) -> VFIOPCIDriver? {
    var match: (any VFIOPCIDriverOps.Type)?
    for ops in all where ops.probe(device) { match = ops }
    return match.map { VFIOPCIDriver(device: device, ops: $0) }
  }

  @inline(__always)
  private func live(_ op: String) throws(VFIOError) -> any VFIOPCIDriverOps {
    guard let live else { throw .driver(.notInitialized(driver: name, op: op)) }
    guard !inProgress else { throw .driver(.memcpyInProgress(driver: name, op: op)) }
    return live
  }

  /// `vfio_pci_driver_init`.
  public func initialize(region: VFIOPCIDriverRegion) throws {
    guard live == nil else { throw VFIOError.driver(.alreadyInitialized(driver: name)) }
    guard region.memory.size >= ops.requiredRegionSize else {
      throw VFIOError.driver(.regionTooSmall(driver: name, size: region.memory.size, needed: ops.requiredRegionSize))
    }
    let size = UInt64(region.memory.size)
    guard dmaRange(iova: region.iova, size: size, fits: ops.dmaMask) else {
      throw VFIOError.driver(.beyondDMAMask(driver: name, what: "driver region", iova: region.iova, size: size, mask: ops.dmaMask))
    }
    let d = try makeInstance(region)
    limits = (d.maxMemcpySize, d.maxMemcpyCount)
    live = d
  }

  /// `vfio_pci_driver_remove`.
  public func remove() throws {
    let d = try live("remove")
    live = nil
    limits = (0, 0)
    try d.remove()
  }

  public var maxMemcpySize: UInt64 { limits.size }
  public var maxMemcpyCount: UInt64 { limits.count }
  public var msi: UInt32? { live?.msi }
  public var supportsSendMSI: Bool { live?.sendMSI != nil }

  /// `vfio_pci_driver_memcpy_start`.
  public func memcpyStart(src: UInt64, dst: UInt64, size: UInt64, count: UInt64) throws {
    try start(try live("memcpy_start"), src: src, dst: dst, size: size, count: count)
  }

  /// The checks of `vfio_pci_driver_memcpy_start` past the state's, and the start.
  @inline(__always)
  private func start(_ d: any VFIOPCIDriverOps, src: UInt64, dst: UInt64, size: UInt64, count: UInt64) throws {
    guard size <= limits.size else { throw VFIOError.driver(.sizeTooLarge(driver: name, size: size, max: limits.size)) }
    guard count <= limits.count else { throw VFIOError.driver(.countTooLarge(driver: name, count: count, max: limits.count)) }
    try d.memcpyStart(src: src, dst: dst, size: size, count: count)
    inProgress = true
  }

  /// `vfio_pci_driver_memcpy_wait`: the driver's result (non-zero on a detected error).
  public func memcpyWait() throws -> Int32 {
    guard let d = live else { throw VFIOError.driver(.notInitialized(driver: name, op: "memcpy_wait")) }
    guard inProgress else { throw VFIOError.driver(.noMemcpyInProgress(driver: name)) }
    defer { inProgress = false }
    return try d.memcpyWait()
  }

  /// `vfio_pci_driver_memcpy`: `size` bytes in chunks of at most `max_memcpy_size`, each one
  /// start(count 1) + wait; the first non-zero result. A driver with `max_memcpy_size` 0 is
  /// refused rather than looped on forever (C would spin). The state is checked once: each
  /// chunk's start finds the driver initialized and idle because the last wait left it so.
  public func memcpy(src: UInt64, dst: UInt64, size: UInt64) throws -> Int32 {
    let d = try live("memcpy_start")
    let chunk = limits.size
    guard chunk > 0 || size == 0 else { throw VFIOError.driver(.sizeTooLarge(driver: name, size: size, max: 0)) }
    var done: UInt64 = 0
    while done < size {
      let n = min(chunk, size - done)
      try start(d, src: src + done, dst: dst + done, size: n, count: 1)
      defer { inProgress = false }
      let r = try d.memcpyWait()
      if r != 0 { return r }
      done += n
    }
    return 0
  }

  /// `vfio_pci_driver_send_msi`.
  public func sendMSI() throws {
    let d = try live("send_msi")
    guard let send = d.sendMSI else { throw VFIOError.driver(.noOp(driver: name, op: "send_msi")) }
    try send()
  }
}

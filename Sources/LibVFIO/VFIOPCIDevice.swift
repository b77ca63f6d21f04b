// SPDX-License-Identifier: GPL-2.0-only
import CVFIOShim
import SystemPackage

/// A PCI BAR as the device reports it, and its mapping when the region supports mmap.
public struct PCIBAR {
  public let index: Int
  public let info: vfio_region_info
  public let mapping: MappedMemory?

  public var isMappable: Bool { info.flags & VFIO.REGION_INFO_FLAG_MMAP != 0 }
  public var isReadWrite: Bool {
    info.flags & (VFIO.REGION_INFO_FLAG_READ | VFIO.REGION_INFO_FLAG_WRITE) == (VFIO.REGION_INFO_FLAG_READ | VFIO.REGION_INFO_FLAG_WRITE)
  }
}

/// A PCI device opened through VFIO, like libvfio's `struct vfio_pci_device`.
///
/// In the four container modes it is reached through its IOMMU group; in `iommufd` mode through
/// its cdev (or an fd already open on it, such as the one Live Update hands back after kexec),
/// bound to the iommufd and attached to the IOAS. `close()` releases everything once, in order:
/// BAR mappings, device fd, eventfds, group.
public final class VFIOPCIDevice {
  /// The device: a PCI function, or an mdev that offers the VFIO PCI API (such as `mtty`).
  public let id: VFIODeviceID
  public let iommu: IOMMU
  public let sysfs: PCISysfs
  // What init sets once is a `let`: a read of a class's `var` is a dynamic exclusivity check
  // (swift_beginAccess), which the hot paths (config access, the drivers' MMIO) would pay per call.
  public let fd: FileDescriptor
  /// The group in container modes (closed by `close()`; nil in `iommufd` mode).
  public let group: VFIOGroup?
  /// The cdev path in `iommufd` mode (nil when initialized from a handed-over fd).
  public let cdevPath: String?
  public let info: vfio_device_info
  public let configSpace: vfio_region_info
  /// The file offset of config space on `fd` (`configSpace.offset`).
  private let configOffset: Int64
  public private(set) var bars: [PCIBAR]
  public let msiInfo: vfio_irq_info
  public let msixInfo: vfio_irq_info
  /// The eventfd of each enabled MSI or MSI-X vector.
  public private(set) var eventfds: [UInt32: FileDescriptor] = [:]
  /// The interrupt index (MSI or MSI-X) this process enabled, if any (the kernel refuses to
  /// freeze a device for Live Update while one is on).
  public private(set) var enabledIRQIndex: UInt32?
  private var closed = false

  /// The PCI address; nil for an mdev, which has none (`id` names either).
  public var pciAddress: PCIAddress? { id.pciAddress }

  /// The PCI address, for an `operation` that needs one (sysfs attributes, IOMMU debugfs); on an
  /// mdev a typed error naming the operation and the device, never a trap.
  public func requirePCIAddress(for operation: String) throws(VFIOError) -> PCIAddress {
    try id.requirePCIAddress(for: operation)
  }

  var name: String { id.description }

  /// Opens and sets up the device (libvfio's `vfio_pci_device_init`, and with `deviceFD` the
  /// series' `__vfio_pci_device_init`: an already open cdev fd, bound and attached here).
  public convenience init(address: PCIAddress, iommu: IOMMU, deviceFD: FileDescriptor? = nil, sysfs: PCISysfs = PCISysfs()) throws(VFIOError) {
    try self.init(id: .pci(address), iommu: iommu, deviceFD: deviceFD, sysfs: sysfs)
  }

  /// Opens a PCI function or an mdev: through its group (`VFIO_GROUP_GET_DEVICE_FD` with the
  /// BDF or the mdev UUID) in container modes, through its cdev (`<sysfs dir>/vfio-dev/vfioN`)
  /// in `iommufd` mode.
  public init(id: VFIODeviceID, iommu: IOMMU, deviceFD: FileDescriptor? = nil, sysfs: PCISysfs = PCISysfs()) throws(VFIOError) {
    let name = id.description
    var group: VFIOGroup?
    var cdevPath: String?
    let fd: FileDescriptor
    if iommu.mode.usesContainer {
      guard deviceFD == nil else {
        throw .unexpected(operation: "device init", device: name, detail: "a device fd can only be handed over in iommufd mode")
      }
      // No stat first: the group lookup tells a missing device apart when it fails.
      let g = try VFIOGroup(for: id, iommu: iommu, sysfs: sysfs)
      group = g
      do throws(VFIOError) {
        fd = try g.deviceFDResult().get("ioctl(VFIO_GROUP_GET_DEVICE_FD, \"\(name)\")", device: name)
      } catch {
        g.close()
        throw error
      }
    } else if let deviceFD {
      fd = deviceFD
    } else {
      let path = try sysfs.requireVFIOCdevPath(id)
      cdevPath = path
      fd = try openFile(path, .readWrite).get("open(\(path))", device: name)
    }
    // From here a failure closes the device fd (a handed-over one too) and the group.
    let setup: Setup
    do throws(VFIOError) {
      if !iommu.mode.usesContainer {
        guard let iommufd = iommu.iommufd else {
          throw .unexpected(operation: "bind", device: name, detail: "iommu has no iommufd")
        }
        _ = try Self.bindIOMMUFDResult(fd, iommufd: iommufd.rawValue).get("ioctl(VFIO_DEVICE_BIND_IOMMUFD)", device: name)
        let ptID = iommu.ioasID
        try Self.attachIOMMUFDPTResult(fd, ptID: ptID).get("ioctl(VFIO_DEVICE_ATTACH_IOMMUFD_PT, pt_id \(ptID))", device: name)
      }
      setup = try Setup(fd: fd, name: name, isMdev: id.pciAddress == nil)
    } catch {
      try? fd.close()
      group?.close()
      throw error
    }
    self.id = id
    self.iommu = iommu
    self.sysfs = sysfs
    self.fd = fd
    self.group = group
    self.cdevPath = cdevPath
    info = setup.info
    configSpace = setup.configSpace
    configOffset = Int64(setup.configSpace.offset)
    bars = setup.bars
    msiInfo = setup.msiInfo
    msixInfo = setup.msixInfo
  }

  deinit { close() }

  /// The IOVA a host address is mapped at through this device's IOMMU (libvfio's `to_iova`).
  public func iova(forHostAddress vaddr: UInt) -> UInt64? { iommu.iova(forHostAddress: vaddr) }

  /// The largest BAR that is mapped and readable and writable, as the MMIO DMA test picks it.
  public var largestMappedBAR: PCIBAR? {
    bars.filter { $0.mapping != nil && $0.isReadWrite }.max { $0.info.size < $1.info.size }
  }

  /// Releases the device: BAR mappings, the device fd, eventfds, then the group. Runs once.
  public func close() {
    guard !closed else { return }
    closed = true
    for bar in bars { bar.mapping?.unmap() }
    bars = []
    if fd.rawValue >= 0 { try? fd.close() }
    for (_, e) in eventfds { try? e.close() }
    eventfds = [:]
    group?.close()
  }

  // MARK: iommufd binding

  /// `VFIO_DEVICE_BIND_IOMMUFD`, presenting `vfToken` (`VFIO_DEVICE_BIND_FLAG_TOKEN`) when
  /// given; the device id, or the errno on failure (the C `__vfio_device_bind_iommufd`).
  public static func bindIOMMUFDResult(_ fd: FileDescriptor, iommufd: CInt, vfToken: VFToken? = nil) -> Result<UInt32, Errno> {
    var bind = vfio_device_bind_iommufd()
    bind.argsz = UInt32(MemoryLayout<vfio_device_bind_iommufd>.size)
    bind.iommufd = iommufd
    guard let vfToken else {
      return fd.ioctl(VFIO.DEVICE_BIND_IOMMUFD, &bind).map { _ in bind.out_devid }
    }
    bind.flags |= VFIO.DEVICE_BIND_FLAG_TOKEN
    return withUserPointer(to: vfToken.bytes) { address in
      bind.token_uuid_ptr = address
      return fd.ioctl(VFIO.DEVICE_BIND_IOMMUFD, &bind)
    }.map { _ in bind.out_devid }
  }

  /// `VFIO_DEVICE_ATTACH_IOMMUFD_PT`; the errno on failure.
  public static func attachIOMMUFDPTResult(_ fd: FileDescriptor, ptID: UInt32) -> Result<Void, Errno> {
    var attach = vfio_device_attach_iommufd_pt()
    attach.argsz = UInt32(MemoryLayout<vfio_device_attach_iommufd_pt>.size)
    attach.pt_id = ptID
    return fd.ioctl(VFIO.DEVICE_ATTACH_IOMMUFD_PT, &attach).map { _ in () }
  }

  /// `VFIO_DEVICE_DETACH_IOMMUFD_PT`; the errno on failure.
  public static func detachIOMMUFDPTResult(_ fd: FileDescriptor) -> Result<Void, Errno> {
    var detach = vfio_device_detach_iommufd_pt()
    detach.argsz = UInt32(MemoryLayout<vfio_device_detach_iommufd_pt>.size)
    return fd.ioctl(VFIO.DEVICE_DETACH_IOMMUFD_PT, &detach).map { _ in () }
  }

  /// `VFIO_DEVICE_GET_INFO` on a device fd; the errno on failure.
  public static func getInfoResult(_ fd: FileDescriptor) -> Result<vfio_device_info, Errno> {
    var info = vfio_device_info()
    info.argsz = UInt32(MemoryLayout<vfio_device_info>.size)
    return fd.ioctl(VFIO.DEVICE_GET_INFO, &info).map { _ in info }
  }

  // MARK: setup (info, regions, BARs, IRQs)

  /// What `init` reads from a newly opened device: its info, config space, BARs (mapped where
  /// they support mmap) and MSI/MSI-X info. On failure the BARs mapped so far are unmapped.
  private struct Setup {
    let info: vfio_device_info
    let configSpace: vfio_region_info
    let bars: [PCIBAR]
    let msiInfo: vfio_irq_info
    let msixInfo: vfio_irq_info

    init(fd: FileDescriptor, name: String, isMdev: Bool) throws(VFIOError) {
      info = try VFIOPCIDevice.getInfoResult(fd).get("ioctl(VFIO_DEVICE_GET_INFO)", device: name)
      configSpace = try VFIOPCIDevice.regionInfo(fd, index: VFIO.PCI_CONFIG_REGION_INDEX, device: name)
      guard configSpace.flags & VFIO.REGION_INFO_FLAG_MMAP == 0 else {
        throw .unexpected(operation: "VFIO_DEVICE_GET_REGION_INFO(config)", device: name, detail: "PCI config space should not support mmap()")
      }
      var bars: [PCIBAR] = []
      bars.reserveCapacity(6)
      do throws(VFIOError) {
        for i in 0..<6 {
          let r = try VFIOPCIDevice.regionInfo(fd, index: UInt32(i), device: name)
          var mapping: MappedMemory?
          if r.flags & VFIO.REGION_INFO_FLAG_MMAP != 0 {
            mapping = try VFIOPCIDevice.mapBAR(fd, i, r, device: name)
          }
          bars.append(PCIBAR(index: i, info: r, mapping: mapping))
        }
        msiInfo = try Self.optionalIRQInfo(fd, index: VFIO.PCI_MSI_IRQ_INDEX, name: name, isMdev: isMdev)
        msixInfo = try Self.optionalIRQInfo(fd, index: VFIO.PCI_MSIX_IRQ_INDEX, name: name, isMdev: isMdev)
      } catch {
        for bar in bars { bar.mapping?.unmap() }
        throw error
      }
      self.bars = bars
    }

    /// An IRQ index the device may not have: vfio-pci answers for every index, but an mdev such
    /// as `mtty` fails `VFIO_DEVICE_GET_IRQ_INFO` with EINVAL for MSI-X; that reads as count 0.
    private static func optionalIRQInfo(_ fd: FileDescriptor, index: UInt32, name: String, isMdev: Bool) throws(VFIOError) -> vfio_irq_info {
      do {
        return try VFIOPCIDevice.irqInfo(fd, index: index, device: name)
      } catch where error.errno == .invalidArgument && isMdev {
        var none = vfio_irq_info()
        none.index = index
        return none
      }
    }
  }

  /// `VFIO_DEVICE_GET_REGION_INFO` for region `index` on a device fd.
  static func regionInfo(_ fd: FileDescriptor, index: UInt32, device name: String) throws(VFIOError) -> vfio_region_info {
    var r = vfio_region_info()
    r.argsz = UInt32(MemoryLayout<vfio_region_info>.size)
    r.index = index
    _ = try fd.ioctl(VFIO.DEVICE_GET_REGION_INFO, &r).get("ioctl(VFIO_DEVICE_GET_REGION_INFO, index \(index))", device: name)
    return r
  }

  /// `VFIO_DEVICE_GET_IRQ_INFO` for IRQ `index` on a device fd.
  static func irqInfo(_ fd: FileDescriptor, index: UInt32, device name: String) throws(VFIOError) -> vfio_irq_info {
    var q = vfio_irq_info()
    q.argsz = UInt32(MemoryLayout<vfio_irq_info>.size)
    q.index = index
    _ = try fd.ioctl(VFIO.DEVICE_GET_IRQ_INFO, &q).get("ioctl(VFIO_DEVICE_GET_IRQ_INFO, index \(index))", device: name)
    return q
  }

  /// `VFIO_DEVICE_GET_REGION_INFO` for region `index`.
  public func regionInfo(index: UInt32) throws(VFIOError) -> vfio_region_info {
    try Self.regionInfo(fd, index: index, device: name)
  }

  /// `VFIO_DEVICE_GET_IRQ_INFO` for IRQ `index`.
  public func irqInfo(index: UInt32) throws(VFIOError) -> vfio_irq_info {
    try Self.irqInfo(fd, index: index, device: name)
  }

  private static func mapBAR(_ fd: FileDescriptor, _ index: Int, _ r: vfio_region_info, device name: String) throws(VFIOError) -> MappedMemory {
    guard r.size > 0, r.size & (r.size - 1) == 0 else {
      throw .unexpected(operation: "mmap(BAR\(index))", device: name, detail: "size 0x\(String(r.size, radix: 16)) is not a power of two")
    }
    var prot: MappedMemory.Protection = []
    if r.flags & VFIO.REGION_INFO_FLAG_READ != 0 { prot.insert(.read) }
    if r.flags & VFIO.REGION_INFO_FLAG_WRITE != 0 { prot.insert(.write) }
    let size = Int(r.size)
    let m = try MappedMemory.sharedAlignedResult(fd, fileOffset: Int64(r.offset), size: size, align: min(size, 1 << 30), protection: prot)
      .get("mmap(BAR\(index), size 0x\(String(r.size, radix: 16)))", device: name)
    _ = m.adviseHugePages()
    return m
  }

  // MARK: region access (read/write on the device fd)

  /// Reads `count` bytes at `offset` of region `index` (pread on the device fd, at the region's
  /// offset): how a user reaches a BAR without mmap, such as an mdev's emulated I/O BAR.
  public func regionRead(index: UInt32, offset: UInt64, count: Int) throws(VFIOError) -> [UInt8] {
    let r = try regionInfo(index: index)
    let bytes = try fd.readBytes(count: count, atAbsoluteOffset: Int64(r.offset + offset))
      .get("pread(region \(index) + 0x\(String(offset, radix: 16)), \(count))", device: name)
    guard bytes.count == count else {
      throw .unexpected(operation: "pread(region \(index) + 0x\(String(offset, radix: 16)))", device: name, detail: "read \(bytes.count) of \(count) bytes")
    }
    return bytes
  }

  /// Writes `bytes` at `offset` of region `index` (pwrite on the device fd).
  public func regionWrite(index: UInt32, offset: UInt64, _ bytes: [UInt8]) throws(VFIOError) {
    let r = try regionInfo(index: index)
    let n = try fd.writeBytes(bytes, atAbsoluteOffset: Int64(r.offset + offset))
      .get("pwrite(region \(index) + 0x\(String(offset, radix: 16)), \(bytes.count))", device: name)
    guard n == bytes.count else {
      throw .unexpected(operation: "pwrite(region \(index) + 0x\(String(offset, radix: 16)))", device: name, detail: "wrote \(n) of \(bytes.count) bytes")
    }
  }

  // MARK: config space

  /// Reads `T` from config space at `offset` (pread on the config region).
  // Exported specializations: a client module (the suites, vfio-bench) otherwise runs the
  // unspecialized generic body, which looks up tuple and Result metadata on every call.
  @_specialize(exported: true, where T == UInt8)
  @_specialize(exported: true, where T == UInt16)
  @_specialize(exported: true, where T == UInt32)
  public func configRead<T: FixedWidthInteger>(_ offset: UInt64, as: T.Type = T.self) throws(VFIOError) -> T {
    let (value, n) = try fd.readValue(T.self, atAbsoluteOffset: configOffset + Int64(offset))
      .get("pread(config 0x\(String(offset, radix: 16)), \(MemoryLayout<T>.size))", device: name)
    guard n == MemoryLayout<T>.size else {
      throw .unexpected(operation: "pread(config 0x\(String(offset, radix: 16)))", device: name, detail: "read \(n) of \(MemoryLayout<T>.size) bytes")
    }
    return T(littleEndian: value)
  }

  /// Writes `value` to config space at `offset` (pwrite on the config region).
  @_specialize(exported: true, where T == UInt8)
  @_specialize(exported: true, where T == UInt16)
  @_specialize(exported: true, where T == UInt32)
  public func configWrite<T: FixedWidthInteger>(_ offset: UInt64, _ value: T) throws(VFIOError) {
    let n = try fd.writeValue(value.littleEndian, atAbsoluteOffset: configOffset + Int64(offset))
      .get("pwrite(config 0x\(String(offset, radix: 16)), \(MemoryLayout<T>.size))", device: name)
    guard n == MemoryLayout<T>.size else {
      throw .unexpected(operation: "pwrite(config 0x\(String(offset, radix: 16)))", device: name, detail: "wrote \(n) of \(MemoryLayout<T>.size) bytes")
    }
  }

  /// Sets bits in `PCI_COMMAND`.
  public func commandSet(_ bits: UInt16) throws(VFIOError) {
    try configWrite(PCIConfig.COMMAND, try configRead(PCIConfig.COMMAND, as: UInt16.self) | bits)
  }

  /// Clears bits in `PCI_COMMAND`.
  public func commandClear(_ bits: UInt16) throws(VFIOError) {
    try configWrite(PCIConfig.COMMAND, try configRead(PCIConfig.COMMAND, as: UInt16.self) & ~bits)
  }

  /// Whether config space says `vendor:device` (libvfio's `vfio_pci_device_match`).
  public func matches(vendor: UInt16, device: UInt16) throws(VFIOError) -> Bool {
    let v = try configRead(PCIConfig.VENDOR_ID, as: UInt16.self)
    let d = try configRead(PCIConfig.DEVICE_ID, as: UInt16.self)
    return v == vendor && d == device
  }

  // MARK: reset

  /// `VFIO_DEVICE_RESET` once (no EAGAIN retry, unlike `reset()`); the errno on failure.
  public func resetResult() -> Result<Void, Errno> {
    fd.ioctl(VFIO.DEVICE_RESET, value: 0).map { _ in () }
  }

  /// `VFIO_DEVICE_RESET`, retried up to 20 times 10 ms apart while it fails with EAGAIN.
  public func reset() throws(VFIOError) {
    var result = resetResult()
    var tries = 1
    while case .failure(.resourceTemporarilyUnavailable) = result, tries < 20 {
      Syscalls.sleep(microseconds: 10_000)
      result = resetResult()
      tries += 1
    }
    try result.get("ioctl(VFIO_DEVICE_RESET)", device: name)
  }

  public var supportsReset: Bool { info.flags & VFIO.DEVICE_FLAGS_RESET != 0 }

  // MARK: interrupts

  private func irqName(_ index: UInt32) -> String {
    switch index {
    case VFIO.PCI_MSI_IRQ_INDEX: "MSI"
    case VFIO.PCI_MSIX_IRQ_INDEX: "MSI-X"
    default: "IRQ index \(index)"
    }
  }

  private func setIRQs(index: UInt32, flags: UInt32, start: UInt32, count: UInt32, eventfds: [CInt] = [], operation: String) throws(VFIOError) {
    let header = MemoryLayout<vfio_irq_set>.size
    let size = header + eventfds.count * MemoryLayout<CInt>.size
    let buf = IoctlBuffer(byteCount: size)
    var set = vfio_irq_set()
    set.argsz = UInt32(size)
    set.flags = flags
    set.index = index
    set.start = start
    set.count = count
    buf.store(set)
    for (i, e) in eventfds.enumerated() { buf.store(e, toByteOffset: header + i * MemoryLayout<CInt>.size) }
    _ = try buf.ioctl(fd, VFIO.DEVICE_SET_IRQS).get("ioctl(VFIO_DEVICE_SET_IRQS, \(operation))", device: name)
  }

  /// Enables vectors `vector..<vector+count` of MSI or MSI-X, each signalling a new eventfd.
  public func enableIRQ(index: UInt32, vector: UInt32 = 0, count: UInt32) throws(VFIOError) {
    guard index == VFIO.PCI_MSI_IRQ_INDEX || index == VFIO.PCI_MSIX_IRQ_INDEX else {
      throw .unexpected(operation: "irq enable", device: name, detail: "unsupported IRQ index \(index)")
    }
    var fds: [CInt] = []
    for v in vector..<(vector + count) {
      guard eventfds[v] == nil else {
        throw .unexpected(operation: "\(irqName(index)) enable", device: name, detail: "vector \(v) already has an eventfd")
      }
      let e = try FileDescriptor.eventfd().get("eventfd()", device: name)
      eventfds[v] = e
      fds.append(e.rawValue)
    }
    try setIRQs(index: index, flags: VFIO.IRQ_SET_DATA_EVENTFD | VFIO.IRQ_SET_ACTION_TRIGGER, start: vector, count: count,
                eventfds: fds, operation: "enable \(irqName(index)) \(vector)..<\(vector + count)")
    enabledIRQIndex = index
  }

  /// Re-arms vectors `vector..<vector+count` with the eventfds they already have
  /// (`vfio_pci_irq_reenable`): after `VFIO_DEVICE_RESET`, which tears down the kernel side of
  /// the triggers but leaves the eventfds, so a caller holding one keeps a valid fd.
  public func reenableIRQ(index: UInt32, vector: UInt32 = 0, count: UInt32) throws(VFIOError) {
    guard index == VFIO.PCI_MSI_IRQ_INDEX || index == VFIO.PCI_MSIX_IRQ_INDEX else {
      throw .unexpected(operation: "irq reenable", device: name, detail: "unsupported IRQ index \(index)")
    }
    var fds: [CInt] = []
    for v in vector..<(vector + count) {
      guard let e = eventfds[v] else {
        throw .unexpected(operation: "\(irqName(index)) reenable", device: name, detail: "vector \(v) eventfd not allocated")
      }
      fds.append(e.rawValue)
    }
    try setIRQs(index: index, flags: VFIO.IRQ_SET_DATA_EVENTFD | VFIO.IRQ_SET_ACTION_TRIGGER, start: vector, count: count,
                eventfds: fds, operation: "reenable \(irqName(index)) \(vector)..<\(vector + count)")
  }

  /// Disables every vector of `index` and closes all eventfds.
  public func disableIRQ(index: UInt32) throws(VFIOError) {
    for (_, e) in eventfds { try? e.close() }
    eventfds = [:]
    if enabledIRQIndex == index { enabledIRQIndex = nil }
    try setIRQs(index: index, flags: VFIO.IRQ_SET_DATA_NONE | VFIO.IRQ_SET_ACTION_TRIGGER, start: 0, count: 0,
                operation: "disable \(irqName(index))")
  }

  /// Fires vector `vector` from the kernel side (loopback), as `vfio_pci_irq_trigger` does.
  public func triggerIRQ(index: UInt32, vector: UInt32) throws(VFIOError) {
    try setIRQs(index: index, flags: VFIO.IRQ_SET_DATA_NONE | VFIO.IRQ_SET_ACTION_TRIGGER, start: vector, count: 1,
                operation: "trigger \(irqName(index)) vector \(vector)")
  }

  /// Reads a vector's eventfd counter once, throwing on failure.
  public func readEventfd(vector: UInt32, nonblocking: Bool) throws(VFIOError) -> UInt64 {
    try readEventfdResult(vector: vector, nonblocking: nonblocking).get()
  }

  /// Reads a vector's eventfd counter once; with `nonblocking` a read with nothing pending
  /// fails with a `.syscall` error whose `errno` is EAGAIN.
  public func readEventfdResult(vector: UInt32, nonblocking: Bool) -> Result<UInt64, VFIOError> {
    guard let e = eventfds[vector] else {
      return .failure(.unexpected(operation: "eventfd read", device: name, detail: "vector \(vector) is not enabled"))
    }
    _ = e.setNonblocking(nonblocking)
    let value: UInt64
    let n: Int
    switch e.readValue(UInt64.self) {
    case .success(let read): (value, n) = read
    case .failure(let errno): return .failure(.syscall(operation: "read(eventfd, vector \(vector))", device: name, errno: errno))
    }
    guard n == 8 else {
      return .failure(.unexpected(operation: "eventfd read", device: name, detail: "read \(n) bytes, expected 8"))
    }
    return .success(value)
  }
}
